import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';

import { formatCount } from '../format';
import { RunsModel } from '../model';
import { Mlops } from '../tokens';
import { ColumnPicker } from './ColumnPicker';
import { ExperimentList } from './ExperimentList';
import { QueryBox } from './QueryBox';
import { RunsTable } from './RunsTable';
import { useSignal } from './hooks';

/** Experiments, the filter, and the runs that match, for the side panel's first tab. */
export function ExperimentsTab(props: {
  model: RunsModel;
  onOpenRun: (run: Mlops.IRunSummary) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, onOpenRun, trans } = props;
  useSignal(model.changed);
  return (
    <div className="jp-mlops-ExperimentsTab">
      <div className="jp-mlops-ExperimentsTab-experiments">
        <ExperimentList
          experiments={model.experiments}
          selected={model.experiment}
          onSelect={name => void model.setExperiment(name)}
          trans={trans}
        />
      </div>
      <QueryBox
        applied={model.filter}
        error={model.queryError}
        onApply={text => void model.setFilter(text)}
        trans={trans}
      />
      <div className="jp-mlops-ExperimentsTab-toolbar">
        <span
          className="jp-mlops-ExperimentsTab-count"
          data-testid="mlops-run-count"
        >
          {model.total === null
            ? trans.__('Loading…')
            : trans._n(
                '%2 run',
                '%2 runs',
                model.total,
                formatCount(model.total)
              )}
        </span>
        <ColumnPicker
          paramKeys={model.paramKeys}
          metricKeys={model.metricKeys}
          shown={model.columns}
          onToggle={column => model.toggleColumn(column)}
          trans={trans}
        />
        <button
          className="jp-mlops-Button jp-mlops-IconButton"
          title={trans.__('Refresh')}
          aria-label={trans.__('Refresh')}
          data-testid="mlops-refresh"
          onClick={() => void model.refresh()}
        >
          <refreshIcon.react tag="span" />
        </button>
      </div>
      {model.loadError && (
        <div className="jp-mlops-Error" role="alert" data-testid="mlops-error">
          {model.loadError}
        </div>
      )}
      <RunsTable model={model} onOpen={onOpenRun} trans={trans} />
    </div>
  );
}
