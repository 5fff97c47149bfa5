import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import {
  formatDuration,
  formatMetric,
  formatTime,
  runDuration
} from '../format';
import { RegistryAPI } from '../request';
import { Mlops } from '../tokens';
import { KeyValueTable } from './KeyValueTable';
import {
  DatasetsSection,
  EnvironmentSection,
  Highlighter,
  ModelsSection,
  SourceSection
} from './RunSections';
import { StatusBadge } from './StatusBadge';

/**
 * Everything recorded for a run: when, who, where from, the params, metrics and tags, the
 * cell's source, datasets, models and environment, and (through `charts`) metric histories.
 */
export function RunDetails(props: {
  run: Mlops.IRun;
  trans: TranslationBundle;
  /** Paints the cell's source with syntax highlighting. */
  highlight?: Highlighter | null;
  /** Opens the notebook at the run's cell; no button without it. */
  onGoToCell?: (() => void) | null;
  /** Why the last 'Go to cell' failed, shown as text. */
  goToCellError?: string | null;
  /** The metric charts, rendered by the view. */
  charts?: React.ReactNode;
  /** Registers the run's models; no Register button without it. */
  registry?: RegistryAPI | null;
}): JSX.Element {
  const { run, trans } = props;
  const info = run.info;
  const metrics: { [key: string]: string } = {};
  for (const [key, value] of Object.entries(run.metrics)) {
    metrics[key] = formatMetric(value);
  }
  const duration =
    info.end_time !== null
      ? formatDuration(info.end_time - info.start_time)
      : runDuration(info);
  const commit = info.git_commit
    ? info.git_commit.slice(0, 12) +
      (info.git_dirty ? trans.__(' (dirty)') : '')
    : '';
  const facts: [string, string][] = [
    [trans.__('Status'), info.status],
    [trans.__('Experiment'), info.experiment_name],
    [trans.__('Started'), formatTime(info.start_time)],
    [trans.__('Ended'), formatTime(info.end_time)],
    [trans.__('Duration'), duration],
    [trans.__('User'), info.user],
    [trans.__('Notebook'), info.notebook_path ?? ''],
    [trans.__('Cell id'), info.cell_id ?? ''],
    [
      trans.__('Execution count'),
      info.execution_count === null ? '' : String(info.execution_count)
    ],
    [trans.__('Host'), info.host ?? ''],
    [trans.__('Git commit'), commit],
    [trans.__('Python'), info.python_version ?? ''],
    [trans.__('Run id'), info.id]
  ];
  return (
    <div
      className="jp-mlops-RunDetails"
      data-testid="mlops-run-view"
      data-run-id={info.id}
    >
      <header className="jp-mlops-RunDetails-header">
        <StatusBadge status={info.status} />
        <h2 className="jp-mlops-RunDetails-name" data-testid="mlops-run-name">
          {info.name}
        </h2>
        {props.onGoToCell && (
          <button
            className="jp-mlops-Button jp-mod-styled"
            data-testid="mlops-go-to-cell"
            title={trans.__(
              'Open the notebook at the cell this run was made in'
            )}
            onClick={props.onGoToCell}
          >
            {trans.__('Go to cell')}
          </button>
        )}
      </header>
      {props.goToCellError && (
        <div
          className="jp-mlops-Error"
          role="alert"
          data-testid="mlops-go-to-cell-error"
        >
          {props.goToCellError}
        </div>
      )}
      {info.error_name && (
        <section
          className="jp-mlops-RunDetails-error"
          data-testid="mlops-run-error"
        >
          <div className="jp-mlops-RunDetails-errorTitle">
            {`${info.error_name}: ${info.error_value ?? ''}`}
          </div>
          {info.traceback && <pre>{info.traceback}</pre>}
        </section>
      )}
      <section
        className="jp-mlops-RunDetails-facts"
        data-testid="mlops-run-info"
      >
        <table>
          <tbody>
            {facts
              .filter(([, value]) => value !== '')
              .map(([label, value]) => (
                <tr key={label}>
                  <th scope="row">{label}</th>
                  <td title={value}>{value}</td>
                </tr>
              ))}
          </tbody>
        </table>
      </section>
      <div className="jp-mlops-RunDetails-tables">
        <KeyValueTable
          title={trans.__('Metrics')}
          values={metrics}
          testId="mlops-run-metrics"
          emptyText={trans.__('No metrics recorded.')}
        />
        <KeyValueTable
          title={trans.__('Params')}
          values={run.params}
          testId="mlops-run-params"
          emptyText={trans.__('No params recorded.')}
        />
        <KeyValueTable
          title={trans.__('Tags')}
          values={run.tags}
          testId="mlops-run-tags"
          emptyText={trans.__('No tags.')}
        />
      </div>
      {props.charts}
      <SourceSection
        source={info.source}
        highlight={props.highlight}
        trans={trans}
      />
      <div className="jp-mlops-RunDetails-tables">
        <DatasetsSection
          title={trans.__('Inputs')}
          datasets={run.inputs}
          testId="mlops-run-inputs"
          trans={trans}
        />
        <DatasetsSection
          title={trans.__('Outputs')}
          datasets={run.outputs}
          testId="mlops-run-outputs"
          trans={trans}
        />
        <ModelsSection
          models={run.models}
          registry={props.registry}
          trans={trans}
        />
        <EnvironmentSection run={run} trans={trans} />
      </div>
    </div>
  );
}
