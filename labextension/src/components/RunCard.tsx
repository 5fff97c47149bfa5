import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatDuration, formatMetric, runDuration } from '../format';
import { Mlops } from '../tokens';
import { StatusBadge } from './StatusBadge';

const MAX_METRICS = 8;

/** The compact summary under a `%%track` cell: status, name, duration, key metrics. */
export function RunCard(props: {
  run: Mlops.IRunDisplay;
  onOpen?: () => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { run, onOpen, trans } = props;
  const info = run.info;
  const metrics = Object.entries(run.metrics ?? {});
  const shown = metrics.slice(0, MAX_METRICS);
  const duration =
    info.end_time !== null
      ? formatDuration(info.end_time - info.start_time)
      : runDuration(info);
  const nParams = Object.keys(run.params ?? {}).length;
  const nInputs = (run.inputs ?? []).length;
  const nOutputs = (run.outputs ?? []).length;
  const nModels = (run.models ?? []).length;
  const counts = [
    nParams && trans._n('%1 param', '%1 params', nParams),
    nInputs && trans._n('%1 input', '%1 inputs', nInputs),
    nOutputs && trans._n('%1 output', '%1 outputs', nOutputs),
    nModels && trans._n('%1 model', '%1 models', nModels)
  ].filter(Boolean);
  const notes = run.summary?.notes ?? [];
  return (
    <div
      className="jp-mlops-RunCard"
      data-testid="mlops-run-card"
      data-run-id={info.id}
    >
      <div className="jp-mlops-RunCard-header">
        <StatusBadge status={info.status} />
        <span className="jp-mlops-RunCard-name" title={info.name}>
          {info.name}
        </span>
        <span className="jp-mlops-RunCard-meta">
          {[info.experiment_name, duration, info.id.slice(0, 8)]
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
      {shown.length > 0 && (
        <div className="jp-mlops-RunCard-metrics">
          {shown.map(([key, value]) => (
            <span key={key} className="jp-mlops-RunCard-metric" title={key}>
              <span className="jp-mlops-RunCard-metricKey">{key}</span>
              <span className="jp-mlops-RunCard-metricValue">
                {formatMetric(value)}
              </span>
            </span>
          ))}
          {metrics.length > shown.length && (
            <span className="jp-mlops-RunCard-more">
              {trans.__('+%1 more', metrics.length - shown.length)}
            </span>
          )}
        </div>
      )}
      {(counts.length > 0 || info.error_name) && (
        <div className="jp-mlops-RunCard-footer">
          {counts.join(' · ')}
          {info.error_name && (
            <span className="jp-mlops-RunCard-error">
              {`${info.error_name}: ${info.error_value ?? ''}`}
            </span>
          )}
        </div>
      )}
      {notes.length > 0 && (
        <ul className="jp-mlops-RunCard-notes">
          {notes.map((note, i) => (
            <li key={i}>{note}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
