import React, { useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatCount } from '../format';
import { RunsModel } from '../model';
import { Mlops } from '../tokens';
import { ColumnPicker } from './ColumnPicker';
import { ExperimentList } from './ExperimentList';
import { QueryBox } from './QueryBox';
import { RunsTable } from './RunsTable';
import { useSignal } from './hooks';
import { RefreshButton } from './parts';

/** Experiments, the filter, and the runs that match, for the side panel's first tab. */
export function ExperimentsTab(props: {
  model: RunsModel;
  onOpenRun: (run: Mlops.IRunSummary) => void;
  /** Opens the Compare view on these run ids; no selection column without it. */
  onCompare?: (runIds: string[]) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, onOpenRun, onCompare, trans } = props;
  useSignal(model.changed);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const countText =
    model.total === null
      ? trans.__('Loading…')
      : trans._n('%2 run', '%2 runs', model.total, formatCount(model.total));
  const toggle = (run: Mlops.IRunSummary) =>
    setSelected(old => {
      const next = new Set(old);
      if (!next.delete(run.id)) {
        next.add(run.id);
      }
      return next;
    });
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
          title={countText}
        >
          {countText}
        </span>
        {onCompare && (
          <button
            className="jp-mlops-Button"
            data-testid="mlops-compare-button"
            disabled={selected.size < 2}
            title={
              selected.size < 2
                ? trans.__('Tick two runs or more to compare them')
                : trans.__('Compare the %1 ticked runs', selected.size)
            }
            onClick={() => onCompare([...selected])}
          >
            {trans.__('Compare')}
          </button>
        )}
        <ColumnPicker
          paramKeys={model.paramKeys}
          metricKeys={model.metricKeys}
          shown={model.columns}
          onToggle={column => model.toggleColumn(column)}
          trans={trans}
        />
        <RefreshButton
          testId="mlops-refresh"
          onClick={() => void model.refresh()}
          trans={trans}
        />
      </div>
      {model.loadError && (
        <div className="jp-mlops-Error" role="alert" data-testid="mlops-error">
          {model.loadError}
        </div>
      )}
      <RunsTable
        model={model}
        onOpen={onOpenRun}
        selected={selected}
        onToggleSelect={onCompare ? toggle : undefined}
        trans={trans}
      />
    </div>
  );
}
