import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import {
  formatCount,
  formatMetric,
  formatShortTime,
  formatTime
} from '../format';
import { Mlops } from '../tokens';
import { AlertBadge } from './AlertBadge';

/** A share as a percentage (`12.5%`), or a dash. */
export function formatShare(value: number | null | undefined): string {
  if (typeof value !== 'number' || !isFinite(value)) {
    return '–';
  }
  const pct = value * 100;
  return `${pct === 0 || pct >= 10 ? pct.toFixed(0) : pct.toFixed(1)}%`;
}

/** A latency in milliseconds, or a dash. */
export function formatLatency(ms: number | null | undefined): string {
  if (typeof ms !== 'number' || !isFinite(ms)) {
    return '–';
  }
  return `${ms < 10 ? ms.toFixed(1) : formatCount(Math.round(ms))} ms`;
}

/** A quality figure (0.912), or a dash. */
function formatFigure(value: number | null | undefined): string {
  return typeof value === 'number' && isFinite(value) ? value.toFixed(3) : '–';
}

/** One fact of the glance: a label over a value, coloured by what it says. */
function Fact(props: {
  testId: string;
  label: string;
  value: string;
  tone?: 'good' | 'bad' | 'none';
  title?: string;
  dataValue?: string | number | boolean | null;
}): JSX.Element {
  return (
    <div
      className={`jp-mlops-Glance-fact jp-mod-${props.tone ?? 'none'}`}
      data-testid={props.testId}
      data-value={
        props.dataValue === undefined || props.dataValue === null
          ? ''
          : String(props.dataValue)
      }
      title={props.title}
    >
      <span className="jp-mlops-Glance-label">{props.label}</span>
      <span className="jp-mlops-Glance-value">{props.value}</span>
    </div>
  );
}

/** A rule's condition in words: `> 0.5 (warn > 0.3)`. */
function condition(rule: Mlops.IAlertRule | undefined): string {
  if (!rule) {
    return '';
  }
  const above = rule.above !== null && rule.above !== undefined;
  const sign = above ? '>' : '<';
  const limit = above ? rule.above : rule.below;
  const warn =
    rule.warn !== null && rule.warn !== undefined
      ? ` (warn ${sign} ${formatMetric(rule.warn)})`
      : '';
  return `${sign} ${formatMetric(limit ?? null)}${warn}`;
}

/**
 * Each alert rule's state: the configured rules (judged or not yet), then any state of a
 * rule no longer configured.
 */
export function AlertRules(props: {
  rules: readonly Mlops.IAlertRule[];
  states: readonly Mlops.IAlertState[];
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  const byRule = new Map(props.states.map(s => [s.rule, s]));
  const names = [
    ...props.rules.map(r => r.name),
    ...props.states
      .map(s => s.rule)
      .filter(r => !props.rules.some(x => x.name === r))
  ];
  if (names.length === 0) {
    return (
      <div className="jp-mlops-Muted">
        {trans.__('No alert rule is configured.')}
      </div>
    );
  }
  return (
    <ul className="jp-mlops-AlertRules" data-testid="mlops-alert-rules">
      {names.map(name => {
        const rule = props.rules.find(r => r.name === name);
        const state = byRule.get(name);
        const what = rule
          ? `${rule.metric}${rule.column ? `(${rule.column})` : ''} ${condition(rule)}`
          : trans.__('(no longer configured)');
        return (
          <li
            key={name}
            className="jp-mlops-AlertRule"
            data-testid="mlops-alert-rule"
            data-rule={name}
            data-state={state?.state ?? ''}
          >
            {state ? (
              <AlertBadge
                state={state.state}
                title={trans.__('since %1', formatTime(state.since))}
                trans={trans}
              />
            ) : (
              <span className="jp-mlops-Pill jp-mlops-Alert jp-mlops-Alert-unknown">
                {trans.__('not judged')}
              </span>
            )}
            <span className="jp-mlops-AlertRule-name">{name}</span>
            <span className="jp-mlops-AlertRule-what" title={what}>
              {what}
            </span>
            {state && (
              <span
                className="jp-mlops-AlertRule-value"
                title={
                  state.window_end !== null
                    ? trans.__(
                        'in the window ending %1',
                        formatTime(state.window_end)
                      )
                    : undefined
                }
              >
                {state.value === null ? '–' : `= ${formatMetric(state.value)}`}
                {` · ${trans.__('since %1', formatShortTime(state.since))}`}
              </span>
            )}
          </li>
        );
      })}
    </ul>
  );
}

/**
 * The model at a glance, from the latest window: dataset drift, how many columns drifted,
 * prediction drift, quality estimated and from labels, p95 latency and the error rate.
 */
export function MonitoringGlance(props: {
  report: Mlops.IMonitorReport;
  trans: TranslationBundle;
}): JSX.Element {
  const { report, trans } = props;
  const latest = report.windows[report.windows.length - 1];
  if (!latest) {
    return (
      <div className="jp-mlops-Muted" data-testid="mlops-monitoring-empty">
        {trans.__('No window to show yet.')}
      </div>
    );
  }
  const dataset = latest.dataset_drift;
  const prediction = latest.prediction_drift;
  const quality = latest.quality ?? {
    task: null,
    realised: null,
    estimated: null
  };
  const regression = quality.task === 'regression';
  const ops = latest.operations;
  const range = `${formatShortTime(latest.start)} – ${formatShortTime(latest.end)}`;
  return (
    <div className="jp-mlops-Glance" data-testid="mlops-monitoring-glance">
      <div className="jp-mlops-Glance-window jp-mlops-Muted">
        {trans._n(
          'Latest window: %2 · %1 row',
          'Latest window: %2 · %1 rows',
          latest.rows,
          range
        )}
        {latest.versions.length > 0 &&
          ` · ${latest.versions.map(v => `v${v}`).join(', ')}`}
      </div>
      <div className="jp-mlops-Glance-facts">
        <Fact
          testId="mlops-glance-dataset-drift"
          label={trans.__('Dataset drift')}
          value={dataset.drifted ? trans.__('yes') : trans.__('no')}
          tone={dataset.drifted ? 'bad' : 'good'}
          dataValue={dataset.drifted}
          title={trans.__(
            '%1 of the columns drifted; dataset drift from %2',
            formatShare(dataset.share),
            formatShare(dataset.threshold)
          )}
        />
        <Fact
          testId="mlops-glance-drifted-columns"
          label={trans.__('Drifted columns')}
          value={`${dataset.drifted_columns} / ${dataset.columns}`}
          tone={dataset.drifted_columns > 0 ? 'bad' : 'good'}
          dataValue={dataset.drifted_columns}
        />
        <Fact
          testId="mlops-glance-prediction-drift"
          label={trans.__('Prediction drift')}
          value={
            prediction === null
              ? '–'
              : prediction.drifted
                ? trans.__('yes')
                : trans.__('no')
          }
          tone={
            prediction === null ? 'none' : prediction.drifted ? 'bad' : 'good'
          }
          dataValue={prediction === null ? null : prediction.drifted}
          title={
            prediction && prediction.score !== null
              ? `${prediction.method} ${formatMetric(prediction.score)} (${prediction.threshold})`
              : undefined
          }
        />
        {regression ? (
          <Fact
            testId="mlops-glance-realised"
            label={trans.__('RMSE (labels)')}
            value={formatFigure(quality.realised?.rmse)}
            dataValue={quality.realised?.rmse}
          />
        ) : (
          <>
            <Fact
              testId="mlops-glance-estimated"
              label={trans.__('Accuracy (estimated)')}
              value={formatFigure(quality.estimated?.accuracy)}
              dataValue={quality.estimated?.accuracy}
              title={trans.__(
                'Expected from the scores alone, before labels come'
              )}
            />
            <Fact
              testId="mlops-glance-realised"
              label={trans.__('Accuracy (labels)')}
              value={formatFigure(quality.realised?.accuracy)}
              dataValue={quality.realised?.accuracy}
              title={trans.__('%1 labelled rows', quality.labelled_rows ?? 0)}
            />
          </>
        )}
        <Fact
          testId="mlops-glance-p95"
          label={trans.__('p95 latency')}
          value={formatLatency(ops?.p95_ms)}
          dataValue={ops?.p95_ms}
          title={
            ops
              ? trans.__(
                  'p50 %1 · p99 %2',
                  formatLatency(ops.p50_ms),
                  formatLatency(ops.p99_ms)
                )
              : undefined
          }
        />
        <Fact
          testId="mlops-glance-error-rate"
          label={trans.__('Error rate')}
          value={formatShare(ops?.error_rate)}
          tone={ops && (ops.error_rate ?? 0) > 0 ? 'bad' : 'none'}
          dataValue={ops?.error_rate}
          title={
            ops
              ? trans.__('%1 errors in %2 requests', ops.errors, ops.requests)
              : undefined
          }
        />
      </div>
    </div>
  );
}
