import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatDuration, formatMetric } from '../format';
import { Mlops } from '../tokens';
import { StatusBadge } from './StatusBadge';

const MAX_METRICS = 8;
const MAX_PARAMS = 4;
const MAX_DATASETS = 4;

/** What the server said about the card's run, when it has answered. */
export type RunCardDetails =
  | { state: 'loading' }
  | { state: 'loaded'; run: Mlops.IRun }
  | { state: 'missing' }
  | { state: 'failed'; message: string };

/** A dataset chip: name, shape and short fingerprint, and more in its tooltip. */
interface IDatasetChip {
  name: string;
  shape: string;
  fingerprint: string;
  title: string;
}

/**
 * The card under a `%%track` cell: status, name, duration, key metrics and params, the data
 * read and written, models, counts, error and notes. Drawn from the summary saved with the
 * notebook, then from the run itself once the server has sent it; a run the lab's store does
 * not know keeps the summary, with a note saying so.
 */
export function RunCard(props: {
  summary: Mlops.ICellSummary;
  details: RunCardDetails;
  onOpen?: () => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { summary, details, onOpen, trans } = props;
  const run = details.state === 'loaded' ? details.run : null;
  const info = run ? run.info : summary.info;
  const counts = run ? runCounts(run, summary) : summary.counts;
  const metrics = Object.entries(run ? run.metrics : (summary.metrics ?? {}));
  const params = Object.entries(run ? run.params : (summary.params ?? {}));
  const inputs = run
    ? run.inputs.map(runDataset)
    : (summary.inputs ?? []).map(summaryDataset);
  const outputs = run
    ? run.outputs.map(runDataset)
    : (summary.outputs ?? []).map(summaryDataset);
  const models = run
    ? run.models.map(m => `${m.name} (${shortClass(m.model_class)})`)
    : (summary.models ?? []);
  const notes = summary.notes ?? [];
  const more = (kind: Mlops.SummaryKind, shown: number) =>
    Math.max((counts[kind] ?? 0) - shown, 0);
  const shownMetrics = metrics.slice(0, MAX_METRICS);
  const shownParams = params.slice(0, MAX_PARAMS);
  const countText = (
    [
      ['params', trans._n('%1 param', '%1 params', counts.params ?? 0)],
      ['metrics', trans._n('%1 metric', '%1 metrics', counts.metrics ?? 0)],
      ['inputs', trans._n('%1 input', '%1 inputs', counts.inputs ?? 0)],
      ['outputs', trans._n('%1 output', '%1 outputs', counts.outputs ?? 0)],
      ['models', trans._n('%1 model', '%1 models', counts.models ?? 0)]
    ] as [Mlops.SummaryKind, string][]
  )
    .filter(([kind]) => (counts[kind] ?? 0) > 0)
    .map(([, text]) => text);
  return (
    <div
      className="jp-mlops-RunCard"
      data-testid="mlops-run-card"
      data-run-id={info.id}
      data-details={details.state}
    >
      <div className="jp-mlops-RunCard-header">
        <StatusBadge status={info.status} />
        <span className="jp-mlops-RunCard-name" title={info.name}>
          {info.name}
        </span>
        <span className="jp-mlops-RunCard-meta">
          {[
            info.experiment_name,
            formatDuration(summary.duration_s * 1000),
            info.id.slice(0, 8)
          ]
            .filter(Boolean)
            .join(' · ')}
        </span>
        {onOpen && (
          <button
            className="jp-mlops-Button jp-mlops-RunCard-open"
            data-testid="mlops-open-run"
            onClick={onOpen}
          >
            {trans.__('Open run')}
          </button>
        )}
      </div>
      {info.error_name && (
        <div className="jp-mlops-RunCard-error" title={info.error_value ?? ''}>
          {`${info.error_name}: ${info.error_value ?? ''}`}
        </div>
      )}
      {shownMetrics.length > 0 && (
        <div
          className="jp-mlops-RunCard-metrics"
          data-testid="mlops-run-card-metrics"
        >
          {shownMetrics.map(([key, value]) => (
            <span key={key} className="jp-mlops-RunCard-metric" title={key}>
              <span className="jp-mlops-RunCard-metricKey">{key}</span>
              <span className="jp-mlops-RunCard-metricValue">
                {formatMetric(value)}
              </span>
            </span>
          ))}
          <More n={more('metrics', shownMetrics.length)} trans={trans} />
        </div>
      )}
      {(shownParams.length > 0 ||
        inputs.length + outputs.length + models.length > 0) && (
        <dl className="jp-mlops-RunCard-rows">
          {shownParams.length > 0 && (
            <CardRow label={trans.__('params')}>
              {shownParams.map(([key, value]) => (
                <span
                  key={key}
                  className="jp-mlops-RunCard-param"
                  title={`${key} = ${value}`}
                >
                  {`${key}=${value}`}
                </span>
              ))}
              <More n={more('params', shownParams.length)} trans={trans} />
            </CardRow>
          )}
          {inputs.length + outputs.length > 0 && (
            <CardRow label={trans.__('data')}>
              <Datasets
                role="input"
                label={trans.__('in')}
                chips={inputs}
                total={counts.inputs ?? 0}
                trans={trans}
              />
              <Datasets
                role="output"
                label={trans.__('out')}
                chips={outputs}
                total={counts.outputs ?? 0}
                trans={trans}
              />
            </CardRow>
          )}
          {models.length > 0 && (
            <CardRow label={trans.__('models')}>
              {models.slice(0, MAX_DATASETS).map(label => (
                <span key={label} className="jp-mlops-RunCard-model">
                  {label}
                </span>
              ))}
              <More
                n={more('models', Math.min(models.length, MAX_DATASETS))}
                trans={trans}
              />
            </CardRow>
          )}
        </dl>
      )}
      <div className="jp-mlops-RunCard-footer">
        <span data-testid="mlops-run-card-counts">{countText.join(' · ')}</span>
        <DetailsNote details={details} trans={trans} />
      </div>
      {notes.length > 0 && (
        <ul className="jp-mlops-RunCard-notes">
          {notes.map((note, i) => (
            <li key={i}>{note}</li>
          ))}
          {more('notes', notes.length) > 0 && (
            <li>{trans.__('and %1 more', more('notes', notes.length))}</li>
          )}
        </ul>
      )}
    </div>
  );
}

function CardRow(props: {
  label: string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <div className="jp-mlops-RunCard-row">
      <dt>{props.label}</dt>
      <dd>{props.children}</dd>
    </div>
  );
}

function More(props: {
  n: number;
  trans: TranslationBundle;
}): JSX.Element | null {
  return props.n > 0 ? (
    <span className="jp-mlops-RunCard-more">
      {props.trans.__('+%1 more', props.n)}
    </span>
  ) : null;
}

function Datasets(props: {
  role: 'input' | 'output';
  label: string;
  chips: IDatasetChip[];
  /** How many the run has (the summary names only the first few). */
  total: number;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { chips, role } = props;
  if (chips.length === 0) {
    return null;
  }
  const shown = chips.slice(0, MAX_DATASETS);
  return (
    <span className="jp-mlops-RunCard-datasets" data-role={role}>
      <span className="jp-mlops-RunCard-role">{props.label}</span>
      {shown.map((d, i) => (
        <span
          key={`${d.name}-${i}`}
          className="jp-mlops-RunCard-dataset"
          data-dataset={d.name}
          title={d.title}
        >
          <span className="jp-mlops-RunCard-datasetName">{d.name}</span>
          {d.shape && (
            <span className="jp-mlops-RunCard-datasetShape">{d.shape}</span>
          )}
          {d.fingerprint && <code>{d.fingerprint}</code>}
        </span>
      ))}
      <More n={props.total - shown.length} trans={props.trans} />
    </span>
  );
}

/** Where the details stand, when it is worth a word. */
function DetailsNote(props: {
  details: RunCardDetails;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { details, trans } = props;
  let text: string;
  switch (details.state) {
    case 'loaded':
      return null;
    case 'loading':
      text = trans.__('loading details…');
      break;
    case 'missing':
      text = trans.__(
        "This run is not in this lab's store: showing the summary saved with the notebook."
      );
      break;
    case 'failed':
      text = trans.__(
        'Could not load the details (%1): showing the summary saved with the notebook.',
        details.message
      );
      break;
  }
  return (
    <span
      className={`jp-mlops-RunCard-details jp-mod-${details.state}`}
      data-testid="mlops-run-card-details"
    >
      {text}
    </span>
  );
}

function runCounts(
  run: Mlops.IRun,
  summary: Mlops.ICellSummary
): Mlops.ICellSummary['counts'] {
  return {
    params: Object.keys(run.params).length,
    metrics: Object.keys(run.metrics).length,
    inputs: run.inputs.length,
    outputs: run.outputs.length,
    models: run.models.length,
    notes: summary.counts.notes
  };
}

function shortClass(modelClass: string): string {
  return modelClass.split('.').pop() ?? modelClass;
}

/** The summary's `name [shape] fingerprint` label as a chip. */
function summaryDataset(label: string): IDatasetChip {
  const match = /^(.*) \[([^\]]*)\] (\S*)$/.exec(label);
  if (!match) {
    return { name: label, shape: '', fingerprint: '', title: label };
  }
  return {
    name: match[1],
    shape: match[2],
    fingerprint: match[3],
    title: label
  };
}

function runDataset(d: Mlops.IDatasetVersion): IDatasetChip {
  const columns = d.schema.length;
  const title = [
    `${d.name} v${d.version}`,
    d.source && d.source !== d.name ? d.source : '',
    d.fingerprint,
    columns > 1 ? `${columns} columns${d.profile ? ' (profiled)' : ''}` : ''
  ]
    .filter(Boolean)
    .join('\n');
  return {
    name: d.name,
    shape: d.shape ? d.shape.join('×') : d.kind,
    fingerprint: (d.fingerprint.split(':').pop() ?? '').slice(0, 8),
    title
  };
}
