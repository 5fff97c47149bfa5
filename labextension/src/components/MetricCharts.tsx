import React, {
  useCallback,
  useEffect,
  useMemo,
  useRef,
  useState
} from 'react';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';

import { chartNumber } from '../charts';
import { formatMetric } from '../format';
import { errorMessage, query, requestAPI } from '../request';
import { Mlops } from '../tokens';
import { Plot } from './Plot';

/** Points asked of the server per history (it min-max downsamples longer ones). */
const MAX_POINTS = 1000;

/** A history as loaded, or why it could not be. */
type Loaded = { series: Mlops.IMetricSeries } | { error: string };

/** One metric's step history as a line chart. */
export function MetricChart(props: {
  metricKey: string;
  series: Mlops.IMetricSeries | null;
  error?: string | null;
  trans: TranslationBundle;
}): JSX.Element {
  const { metricKey, series, trans } = props;
  const error = props.error ?? null;
  const [drawn, setDrawn] = useState(false);
  // Stable references: Plot redraws whenever data or layout change identity.
  const data = useMemo(
    () =>
      series === null
        ? null
        : [
            {
              x: series.steps,
              y: series.values.map(chartNumber),
              type: 'scatter',
              mode: 'lines',
              name: metricKey,
              hovertemplate: `${trans.__('step')} %{x}<br>%{y}<extra></extra>`
            }
          ],
    [series, metricKey, trans]
  );
  const layout = useMemo(
    () => ({ height: 220, xaxis: { title: { text: trans.__('step') } } }),
    [trans]
  );
  const onDrawn = useCallback(() => setDrawn(true), []);
  const note = series?.downsampled
    ? trans.__(
        '%1 of %2 points (downsampled)',
        series.steps.length,
        series.total
      )
    : '';
  return (
    <figure
      className="jp-mlops-MetricChart"
      data-testid="mlops-metric-chart"
      data-metric={metricKey}
    >
      <figcaption>
        <span className="jp-mlops-MetricChart-key">{metricKey}</span>
        {note && <span className="jp-mlops-MetricChart-note">{note}</span>}
      </figcaption>
      {error !== null && (
        <div className="jp-mlops-Error" role="alert">
          {error}
        </div>
      )}
      {!drawn && error === null && (
        <div className="jp-mlops-Loading">{trans.__('Drawing chart…')}</div>
      )}
      {data !== null && (
        <Plot
          className="jp-mlops-MetricChart-plot"
          data={data}
          layout={layout}
          onDrawn={onDrawn}
        />
      )}
    </figure>
  );
}

/** A metric recorded once: its value and step, not a chart of one point. */
export function MetricValue(props: {
  metricKey: string;
  series: Mlops.IMetricSeries;
  trans: TranslationBundle;
}): JSX.Element {
  const { metricKey, series, trans } = props;
  const value = series.values.length > 0 ? series.values[0] : null;
  return (
    <figure
      className="jp-mlops-MetricValue"
      data-testid="mlops-metric-value"
      data-metric={metricKey}
      title={
        series.steps.length > 0
          ? trans.__('%1: one value, at step %2', metricKey, series.steps[0])
          : metricKey
      }
    >
      <figcaption>{metricKey}</figcaption>
      <span className="jp-mlops-MetricValue-value">{formatMetric(value)}</span>
    </figure>
  );
}

/** What makes a metric's history worth loading again: its latest value, the run's end. */
function historyVersion(run: Mlops.IRun, key: string): string {
  return `${String(run.metrics[key])}|${run.info.status}|${run.info.end_time ?? ''}`;
}

/**
 * The run's metric histories, each loaded once and again when it may have grown: a chart
 * per metric with several values, the value itself for a metric recorded once.
 */
export function MetricCharts(props: {
  run: Mlops.IRun;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { run, settings, trans } = props;
  const runId = run.info.id;
  const keys = useMemo(() => Object.keys(run.metrics).sort(), [run.metrics]);
  const [loaded, setLoaded] = useState<{ [key: string]: Loaded }>({});
  // The version each key was last asked for, so a reply to an older ask is dropped.
  const asked = useRef<{ [key: string]: string }>({});
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);
  useEffect(() => {
    for (const key of keys) {
      const version = historyVersion(run, key);
      if (asked.current[key] === version) {
        continue;
      }
      asked.current[key] = version;
      const settle = (result: Loaded) => {
        if (mounted.current && asked.current[key] === version) {
          setLoaded(previous => ({ ...previous, [key]: result }));
        }
      };
      requestAPI<Mlops.IMetricSeries>(
        `runs/${encodeURIComponent(runId)}/metrics/${encodeURIComponent(key)}${query({ max_points: MAX_POINTS })}`,
        {},
        settings
      )
        .then(series => settle({ series }))
        .catch(err => settle({ error: errorMessage(err) }));
    }
  }, [run, keys, runId, settings]);
  if (keys.length === 0) {
    return null;
  }
  const values: [string, Mlops.IMetricSeries][] = [];
  const charts: JSX.Element[] = [];
  let pending = 0;
  for (const key of keys) {
    const result = loaded[key];
    if (result === undefined) {
      pending++;
    } else if ('error' in result) {
      charts.push(
        <MetricChart
          key={key}
          metricKey={key}
          series={null}
          error={result.error}
          trans={trans}
        />
      );
    } else if (result.series.total <= 1) {
      values.push([key, result.series]);
    } else {
      charts.push(
        <MetricChart
          key={key}
          metricKey={key}
          series={result.series}
          trans={trans}
        />
      );
    }
  }
  return (
    <section className="jp-mlops-Section" data-testid="mlops-run-charts">
      <h3 className="jp-mlops-Section-title">{trans.__('Metric history')}</h3>
      {values.length > 0 && (
        <div className="jp-mlops-MetricValues">
          <span className="jp-mlops-MetricValues-label">
            {trans.__('Recorded once')}
          </span>
          {values.map(([key, series]) => (
            <MetricValue
              key={key}
              metricKey={key}
              series={series}
              trans={trans}
            />
          ))}
        </div>
      )}
      {charts.length > 0 && (
        <div className="jp-mlops-MetricCharts">{charts}</div>
      )}
      {pending > 0 && (
        <div className="jp-mlops-Loading">
          {trans._n(
            'Loading %1 metric history…',
            'Loading %1 metric histories…',
            pending
          )}
        </div>
      )}
    </section>
  );
}
