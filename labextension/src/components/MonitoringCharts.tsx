import React, { useMemo } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import {
  IFigure,
  distributionFigure,
  driftFigure,
  latencyFigure,
  loadFigure,
  qualityFigure,
  shownDistributions
} from '../monitorCharts';
import { Mlops } from '../tokens';
import { Plot } from './Plot';

/** One chart of the dashboard, titled. */
function Chart(props: {
  name: string;
  title: string;
  figure: IFigure;
  hint?: string;
}): JSX.Element {
  return (
    <figure
      className="jp-mlops-MonitorChart"
      data-testid="mlops-monitoring-chart"
      data-chart={props.name}
    >
      <figcaption title={props.hint}>{props.title}</figcaption>
      <Plot data={props.figure.data} layout={props.figure.layout} />
    </figure>
  );
}

/**
 * Reference against the latest window, one small chart each for its drifted columns and
 * its predictions (shares per bin or category; grey the reference, red the window).
 */
function Distributions(props: {
  window: Mlops.IWindowReport;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { window, trans } = props;
  const figures = useMemo(
    () =>
      shownDistributions(window).map(
        name => [name, distributionFigure(window.distributions[name])] as const
      ),
    [window]
  );
  if (figures.length === 0) {
    return null;
  }
  return (
    <figure
      className="jp-mlops-MonitorChart"
      data-testid="mlops-monitoring-chart"
      data-chart="distributions"
    >
      <figcaption>
        {trans.__('Reference')}
        <span className="jp-mlops-Legend jp-mlops-Legend-reference" />
        {trans.__('against the latest window')}
        <span className="jp-mlops-Legend jp-mlops-Legend-current" />
      </figcaption>
      <div className="jp-mlops-Distributions">
        {figures.map(([name, figure]) => (
          <div
            key={name}
            className="jp-mlops-Distribution"
            data-testid="mlops-distribution"
            data-column={name}
          >
            <div className="jp-mlops-Distribution-name" title={name}>
              {name === 'prediction' ? trans.__('predictions') : name}
            </div>
            <Plot data={figure.data} layout={figure.layout} />
          </div>
        ))}
      </div>
    </figure>
  );
}

/**
 * The dashboard's charts over the report's windows: drift per column (a heatmap of each
 * score against its threshold), reference against the latest window, quality from labels
 * and estimated, latency, load and errors.
 */
export function MonitoringCharts(props: {
  windows: readonly Mlops.IWindowReport[];
  trans: TranslationBundle;
}): JSX.Element | null {
  const { windows, trans } = props;
  const drift = useMemo(() => driftFigure(windows), [windows]);
  const quality = useMemo(() => qualityFigure(windows), [windows]);
  const latency = useMemo(() => latencyFigure(windows), [windows]);
  const load = useMemo(() => loadFigure(windows), [windows]);
  const latest = windows[windows.length - 1];
  if (!latest) {
    return null;
  }
  return (
    <div className="jp-mlops-MonitorCharts">
      <Chart
        name="drift"
        title={trans.__('Drift per column over windows (above 1: drifted)')}
        hint={trans.__(
          'Each score as a multiple of its threshold; a p-value on a log scale'
        )}
        figure={drift}
      />
      <Distributions window={latest} trans={trans} />
      {quality && (
        <Chart
          name="quality"
          title={trans.__(
            'Quality: from labels (solid) and estimated (dotted)'
          )}
          figure={quality}
        />
      )}
      {latency && (
        <Chart name="latency" title={trans.__('Latency')} figure={latency} />
      )}
      {load && (
        <Chart
          name="load"
          title={trans.__('Requests and errors')}
          figure={load}
        />
      )}
    </div>
  );
}
