import React, { useCallback, useEffect, useMemo, useState } from 'react';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';

import { chartNumber } from '../charts';
import { errorMessage, query, requestAPI } from '../request';
import { Mlops } from '../tokens';
import { Plot } from './Plot';

/** Points asked of the server per history (it min-max downsamples longer ones). */
const MAX_POINTS = 1000;

/** One metric's step history as a line chart. */
export function MetricChart(props: {
  runId: string;
  metricKey: string;
  /** Changes when the history may have grown (the run's latest value or status). */
  version: string;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
}): JSX.Element {
  const { runId, metricKey, version, settings, trans } = props;
  const [series, setSeries] = useState<Mlops.IMetricSeries | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [drawn, setDrawn] = useState(false);
  useEffect(() => {
    let cancelled = false;
    requestAPI<Mlops.IMetricSeries>(
      `runs/${encodeURIComponent(runId)}/metrics/${encodeURIComponent(metricKey)}${query({ max_points: MAX_POINTS })}`,
      {},
      settings
    )
      .then(loaded => {
        if (!cancelled) {
          setError(null);
          setSeries(loaded);
        }
      })
      .catch(err => {
        if (!cancelled) {
          setError(errorMessage(err));
        }
      });
    return () => {
      cancelled = true;
    };
  }, [runId, metricKey, version]);
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
              mode: series.steps.length > 1 ? 'lines' : 'markers',
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

/** A chart per metric of the run. */
export function MetricCharts(props: {
  run: Mlops.IRun;
  settings: ServerConnection.ISettings;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { run, settings, trans } = props;
  const keys = Object.keys(run.metrics).sort();
  if (keys.length === 0) {
    return null;
  }
  return (
    <section className="jp-mlops-Section" data-testid="mlops-run-charts">
      <h3 className="jp-mlops-Section-title">{trans.__('Metric history')}</h3>
      <div className="jp-mlops-MetricCharts">
        {keys.map(key => (
          <MetricChart
            key={key}
            runId={run.info.id}
            metricKey={key}
            version={`${String(run.metrics[key])}|${run.info.status}|${run.info.end_time ?? ''}`}
            settings={settings}
            trans={trans}
          />
        ))}
      </div>
    </section>
  );
}
