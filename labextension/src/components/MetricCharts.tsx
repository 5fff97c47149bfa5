import React, { useEffect, useRef, useState } from 'react';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';

import { PLOT_CONFIG, chartNumber, loadPlotly, themedLayout } from '../charts';
import { errorMessage, query, requestAPI } from '../request';
import { Mlops } from '../tokens';

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
  const ref = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  const [note, setNote] = useState<string>('');
  const [drawn, setDrawn] = useState(false);
  useEffect(() => {
    let cancelled = false;
    const el = ref.current;
    void (async () => {
      try {
        const [series, Plotly] = await Promise.all([
          requestAPI<Mlops.IMetricSeries>(
            `runs/${encodeURIComponent(runId)}/metrics/${encodeURIComponent(metricKey)}${query({ max_points: MAX_POINTS })}`,
            {},
            settings
          ),
          loadPlotly()
        ]);
        if (cancelled || !el) {
          return;
        }
        setError(null);
        setNote(
          series.downsampled
            ? trans.__(
                '%1 of %2 points (downsampled)',
                series.steps.length,
                series.total
              )
            : ''
        );
        await Plotly.react(
          el,
          [
            {
              x: series.steps,
              y: series.values.map(chartNumber),
              type: 'scatter',
              mode: series.steps.length > 1 ? 'lines' : 'markers',
              name: metricKey,
              hovertemplate: `${trans.__('step')} %{x}<br>%{y}<extra></extra>`
            }
          ],
          themedLayout({
            height: 220,
            xaxis: { title: { text: trans.__('step') } }
          }),
          PLOT_CONFIG
        );
        if (!cancelled) {
          setDrawn(true);
        }
      } catch (err) {
        if (!cancelled) {
          setError(errorMessage(err));
        }
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [runId, metricKey, version]);
  useEffect(() => {
    const el = ref.current;
    return () => {
      if (el) {
        void loadPlotly()
          .then(Plotly => Plotly.purge(el))
          .catch(() => undefined);
      }
    };
  }, []);
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
      <div className="jp-mlops-MetricChart-plot" ref={ref} />
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
