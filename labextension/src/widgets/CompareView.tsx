import React, { useMemo, useState } from 'react';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';

import { chartNumber } from '../charts';
import { Plot } from '../components/Plot';
import { StatusBadge } from '../components/StatusBadge';
import { useFetched } from '../components/hooks';
import { lineDiff } from '../diff';
import { formatMetric } from '../format';
import { errorMessage, query, requestAPI } from '../request';
import { Mlops } from '../tokens';

/** Runs side by side in the main area (`GET compare?runs=a,b`). */
export class CompareView extends ReactWidget {
  constructor(options: CompareView.IOptions) {
    super();
    this._runIds = options.runIds;
    this._settings = options.settings ?? ServerConnection.makeSettings();
    this._trans = options.trans;
    this.addClass('jp-mlops-CompareView');
    this.title.label = this._trans.__('Compare %1 runs', this._runIds.length);
    void this.load();
  }

  get runIds(): string[] {
    return this._runIds;
  }

  async load(): Promise<void> {
    try {
      this._reply = await requestAPI<Mlops.ICompareReply>(
        `compare${query({ runs: this._runIds.join(',') })}`,
        {},
        this._settings
      );
      this._error = null;
      this.title.caption = this._reply.runs.map(r => r.info.name).join('\n');
    } catch (error) {
      this._error = errorMessage(error);
    }
    if (!this.isDisposed) {
      this.update();
    }
  }

  protected render(): JSX.Element {
    if (this._error !== null) {
      return (
        <div className="jp-mlops-Error" role="alert">
          {this._error}
        </div>
      );
    }
    if (this._reply === null) {
      return (
        <div className="jp-mlops-Loading">
          {this._trans.__('Loading runs…')}
        </div>
      );
    }
    return (
      <CompareBody
        reply={this._reply}
        settings={this._settings}
        trans={this._trans}
      />
    );
  }

  private _runIds: string[];
  private _settings: ServerConnection.ISettings;
  private _trans: TranslationBundle;
  private _reply: Mlops.ICompareReply | null = null;
  private _error: string | null = null;
}

export namespace CompareView {
  export interface IOptions {
    runIds: string[];
    settings?: ServerConnection.ISettings;
    trans: TranslationBundle;
  }
}

/** A run's label in legends and headers: its name, with an id prefix if names repeat. */
function labels(runs: Mlops.IRun[]): string[] {
  const names = runs.map(r => r.info.name || r.info.id.slice(0, 8));
  return names.map((name, i) =>
    names.indexOf(name) !== names.lastIndexOf(name)
      ? `${name} (${runs[i].info.id.slice(0, 6)})`
      : name
  );
}

function CompareBody(props: {
  reply: Mlops.ICompareReply;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
}): JSX.Element {
  const { reply, settings, trans } = props;
  const runs = reply.runs;
  const names = useMemo(() => labels(runs), [runs]);
  const differing = new Set(reply.differing_params);
  const [metric, setMetric] = useState<string>(reply.metrics[0] ?? '');

  return (
    <div className="jp-mlops-Compare" data-testid="mlops-compare-view">
      <h2 className="jp-mlops-Compare-title">
        {trans.__('Comparing %1 runs', runs.length)}
      </h2>
      <section className="jp-mlops-Section">
        <h3 className="jp-mlops-Section-title">{trans.__('Params')}</h3>
        <table className="jp-mlops-Grid jp-mlops-Compare-table">
          <thead>
            <tr>
              <th />
              {runs.map((r, i) => (
                <th key={r.info.id} title={r.info.id} data-run-id={r.info.id}>
                  <StatusBadge status={r.info.status} compact />{' '}
                  <span data-testid="mlops-compare-run-name">{names[i]}</span>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {reply.params.map(key => (
              <tr
                key={key}
                data-param={key}
                className={differing.has(key) ? 'mlops-diff' : undefined}
              >
                <th scope="row" title={key}>
                  {key}
                </th>
                {runs.map(r => (
                  <td key={r.info.id} title={r.params[key] ?? ''}>
                    {r.params[key] ?? '—'}
                  </td>
                ))}
              </tr>
            ))}
            {reply.params.length === 0 && (
              <tr>
                <td colSpan={runs.length + 1}>{trans.__('No params.')}</td>
              </tr>
            )}
          </tbody>
        </table>
      </section>
      <section className="jp-mlops-Section">
        <h3 className="jp-mlops-Section-title">{trans.__('Metrics')}</h3>
        <table className="jp-mlops-Grid jp-mlops-Compare-table">
          <tbody>
            {reply.metrics.map(key => (
              <tr key={key} data-metric={key}>
                <th scope="row" title={key}>
                  {key}
                </th>
                {runs.map(r => (
                  <td key={r.info.id}>{formatMetric(r.metrics[key])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
        {reply.metrics.length > 0 && (
          <MetricBars runs={runs} names={names} metrics={reply.metrics} />
        )}
      </section>
      {reply.metrics.length > 0 && (
        <section className="jp-mlops-Section">
          <h3 className="jp-mlops-Section-title">
            {trans.__('Metric')}{' '}
            <select
              value={metric}
              data-testid="mlops-compare-metric"
              onChange={event => setMetric(event.target.value)}
            >
              {reply.metrics.map(key => (
                <option key={key} value={key}>
                  {key}
                </option>
              ))}
            </select>
          </h3>
          <div className="jp-mlops-Compare-charts">
            <Histories
              runs={runs}
              names={names}
              metric={metric}
              settings={settings}
              trans={trans}
            />
            <ParallelCoordinates
              runs={runs}
              params={reply.params}
              metric={metric}
              trans={trans}
            />
          </div>
        </section>
      )}
      <SourceDiff runs={runs} names={names} trans={trans} />
    </div>
  );
}

/** Each metric's final value, a bar per run. */
function MetricBars(props: {
  runs: Mlops.IRun[];
  names: string[];
  metrics: string[];
}): JSX.Element {
  const { runs, names, metrics } = props;
  const data = useMemo(
    () =>
      runs.map((r, i) => ({
        type: 'bar',
        name: names[i],
        x: metrics,
        y: metrics.map(k => chartNumber(r.metrics[k] ?? null))
      })),
    [runs, names, metrics]
  );
  const layout = useMemo(
    () => ({ barmode: 'group', height: 260, showlegend: true }),
    []
  );
  return <Plot data={data} layout={layout} testId="mlops-compare-bars" />;
}

/** The histories' figure until they are read (one array, so the plot is drawn once). */
const NO_TRACES: { [key: string]: unknown }[] = [];

/** The chosen metric's step histories, one line per run. */
function Histories(props: {
  runs: Mlops.IRun[];
  names: string[];
  metric: string;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
}): JSX.Element {
  const { runs, names, metric, settings, trans } = props;
  const { value, error } = useFetched(
    () =>
      Promise.all(
        runs.map(r =>
          r.metrics[metric] === undefined
            ? Promise.resolve(null)
            : requestAPI<Mlops.IMetricSeries>(
                `runs/${encodeURIComponent(r.info.id)}/metrics/${encodeURIComponent(metric)}${query({ max_points: 1000 })}`,
                {},
                settings
              )
        )
      ).then(series => {
        const traces: { [key: string]: unknown }[] = [];
        series.forEach((s, i) => {
          if (s) {
            traces.push({
              type: 'scatter',
              mode: s.steps.length > 1 ? 'lines' : 'markers',
              name: names[i],
              x: s.steps,
              y: s.values.map(chartNumber)
            });
          }
        });
        return traces;
      }),
    [runs, names, metric]
  );
  const data = value ?? NO_TRACES;
  const layout = useMemo(
    () => ({
      height: 300,
      title: { text: trans.__('%1 by step', metric), font: { size: 12 } },
      xaxis: { title: { text: trans.__('step') } }
    }),
    [metric]
  );
  return (
    <div className="jp-mlops-Compare-chart">
      {error !== null && (
        <div className="jp-mlops-Error" role="alert">
          {error}
        </div>
      )}
      <Plot data={data} layout={layout} testId="mlops-compare-histories" />
    </div>
  );
}

/** Numeric params (every run's value a number) and the chosen metric as parallel axes. */
function ParallelCoordinates(props: {
  runs: Mlops.IRun[];
  params: string[];
  metric: string;
  trans: TranslationBundle;
}): JSX.Element {
  const { runs, params, metric, trans } = props;
  const numeric = params.filter(key =>
    runs.every(r => {
      const v = r.params[key];
      return v !== undefined && v.trim() !== '' && Number.isFinite(Number(v));
    })
  );
  const values = runs.map(r => chartNumber(r.metrics[metric] ?? null));
  const data = useMemo(
    () => [
      {
        type: 'parcoords',
        line: {
          color: values.map(v => v ?? 0),
          colorscale: 'Viridis',
          showscale: true
        },
        dimensions: [
          ...numeric.map(key => ({
            label: key,
            values: runs.map(r => Number(r.params[key]))
          })),
          { label: metric, values: values.map(v => v ?? NaN) }
        ]
      }
    ],
    [runs, params, metric]
  );
  const layout = useMemo(
    () => ({ height: 300, margin: { l: 60, r: 60, t: 50, b: 30 } }),
    []
  );
  if (numeric.length === 0) {
    return (
      <div className="jp-mlops-Section-empty">
        {trans.__('No numeric params to draw against %1.', metric)}
      </div>
    );
  }
  return (
    <Plot
      className="jp-mlops-Compare-chart"
      data={data}
      layout={layout}
      testId="mlops-compare-parcoords"
    />
  );
}

/** A line diff of the first run's cell source against each other run's. */
function SourceDiff(props: {
  runs: Mlops.IRun[];
  names: string[];
  trans: TranslationBundle;
}): JSX.Element {
  const { runs, names, trans } = props;
  const base = runs[0];
  const others = runs.slice(1);
  return (
    <section className="jp-mlops-Section" data-testid="mlops-compare-source">
      <h3 className="jp-mlops-Section-title">{trans.__('Cell source')}</h3>
      {others.map((other, i) => {
        const diff = lineDiff(base.info.source ?? '', other.info.source ?? '');
        return (
          <div key={other.info.id} className="jp-mlops-Diff">
            <div className="jp-mlops-Diff-header">
              {`--- ${names[0]}\n+++ ${names[i + 1]}`}
            </div>
            <pre className="jp-mlops-Diff-body">
              {diff.map((line, n) => (
                <div
                  key={n}
                  className={
                    line.op === '+'
                      ? 'jp-mlops-Diff-add'
                      : line.op === '-'
                        ? 'jp-mlops-Diff-del'
                        : 'jp-mlops-Diff-same'
                  }
                >
                  {`${line.op} ${line.text}`}
                </div>
              ))}
            </pre>
          </div>
        );
      })}
    </section>
  );
}
