/**
 * The monitoring dashboard's figures, as plain plotly.js data and layouts built from a
 * report: drift per column over windows, reference against the latest window, quality
 * realised and estimated, latency, load and errors. The same charts as `%mlops monitor`
 * draws in a notebook (`jupyter_mlops/widgets/monitor.py`).
 */

import { formatTime } from './format';
import { Mlops } from './tokens';

/** A figure: what `Plot` draws. */
export interface IFigure {
  data: { [key: string]: unknown }[];
  layout: { [key: string]: unknown };
}

/** Columns drawn in the drift heatmap (the most drifted first). */
export const MAX_HEATMAP_COLUMNS = 60;
/** Drifted columns whose distributions are drawn (the predictions come on top). */
export const MAX_DISTRIBUTIONS = 6;

const P_VALUE_METHODS = new Set(['ks', 'chisquare', 'z']);
const REFERENCE_COLOUR = '#7f7f7f';
const CURRENT_COLOUR = '#d62728';
const LEGEND_BELOW = { orientation: 'h', y: -0.28, x: 0 };

/**
 * Text for a plotly label: plotly reads a few HTML tags (links, bold) in labels, and a
 * column name is the user's, so its markup characters are escaped.
 */
export function plotText(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}

/**
 * How far past its threshold a column is: 1 at the threshold, above 1 drifted. A p-value
 * compares on a log scale (p = threshold² reads 2), as the notebook's heatmap does.
 */
export function relativeScore(drift: Mlops.IColumnDrift): number | null {
  const { score, threshold } = drift;
  if (score === null || !(threshold > 0)) {
    return null;
  }
  if (P_VALUE_METHODS.has(drift.method)) {
    if (threshold >= 1) {
      return null;
    }
    return Math.log(Math.max(score, 1e-300)) / Math.log(threshold);
  }
  return score / threshold;
}

/** A window's start as a plotly date (local time). */
function when(window: Mlops.IWindowReport): string {
  return formatTime(window.start ?? window.end ?? 0);
}

function finiteOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The columns of the heatmap: every column checked, the latest window's most drifted first. */
export function heatmapColumns(
  windows: readonly Mlops.IWindowReport[]
): string[] {
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const w of windows) {
    for (const d of w.drift) {
      if (!seen.has(d.column)) {
        seen.add(d.column);
        columns.push(d.column);
      }
    }
  }
  const latest = new Map(
    (windows[windows.length - 1]?.drift ?? []).map(d => [d.column, d])
  );
  const rank = (c: string) => {
    const d = latest.get(c);
    return d ? (relativeScore(d) ?? 0) : -1;
  };
  return columns
    .map((c, i) => ({ c, i, r: rank(c) }))
    .sort((a, b) => b.r - a.r || a.i - b.i)
    .slice(0, MAX_HEATMAP_COLUMNS)
    .map(x => x.c);
}

/** Drift per column over windows: the score as a multiple of its threshold (above 1:
 * drifted), the latest window's most drifted columns on top. */
export function driftFigure(windows: readonly Mlops.IWindowReport[]): IFigure {
  const columns = heatmapColumns(windows);
  const z: (number | null)[][] = [];
  const text: string[][] = [];
  for (const column of columns) {
    const row: (number | null)[] = [];
    const hover: string[] = [];
    for (const w of windows) {
      const found = w.drift.find(d => d.column === column);
      row.push(found ? relativeScore(found) : null);
      hover.push(
        !found || found.score === null
          ? '–'
          : `${found.method} ${found.score.toPrecision(4)} (threshold ${found.threshold})`
      );
    }
    z.push(row);
    text.push(hover);
  }
  return {
    data: [
      {
        type: 'heatmap',
        z,
        x: windows.map(when),
        // Top to bottom in the order above (plotly draws the first row at the bottom).
        y: columns.map(plotText),
        text,
        hovertemplate: '%{y} · %{x}<br>%{text}<extra></extra>',
        zmin: 0,
        zmax: 2,
        colorscale: [
          [0, '#f7fbff'],
          [0.5, '#fdd49e'],
          [0.5001, '#fc8d59'],
          [1, '#b30000']
        ],
        colorbar: {
          title: { text: '× thr.' },
          thickness: 10,
          len: 0.9
        }
      }
    ],
    layout: {
      height: Math.max(200, 22 * columns.length + 90),
      margin: { l: 80, r: 10, t: 10, b: 40 },
      yaxis: { autorange: 'reversed', automargin: true, type: 'category' }
    }
  };
}

/** The bins' centres (numbers) or the categories of a distribution. */
function distributionX(dist: Mlops.IDistribution): (number | string)[] {
  if (dist.kind === 'numeric' && Array.isArray(dist.edges)) {
    const edges = dist.edges;
    return edges.slice(1).map((e, i) => (edges[i] + e) / 2);
  }
  return (dist.labels ?? []).map(label => plotText(String(label)));
}

/** Reference against the window for one column (or the predictions): shares per bin. */
export function distributionFigure(dist: Mlops.IDistribution): IFigure {
  const x = distributionX(dist);
  const bar = (name: string, colour: string, y: number[]) => ({
    type: 'bar',
    name,
    x,
    y: y.map(finiteOrNull),
    marker: { color: colour },
    opacity: 0.6,
    hovertemplate: `${name} %{y:.1%}<extra>%{x}</extra>`
  });
  return {
    data: [
      bar('reference', REFERENCE_COLOUR, dist.reference),
      bar('current', CURRENT_COLOUR, dist.current)
    ],
    layout: {
      height: 170,
      barmode: 'overlay',
      bargap: 0.05,
      showlegend: false,
      margin: { l: 40, r: 8, t: 6, b: 30 },
      yaxis: { tickformat: '.0%' },
      xaxis: dist.kind === 'numeric' ? {} : { type: 'category' }
    }
  };
}

/** The distributions drawn for a window: its drifted columns, then the predictions. */
export function shownDistributions(window: Mlops.IWindowReport): string[] {
  const names = Object.keys(window.distributions ?? {});
  const columns = names
    .filter(n => n !== 'prediction')
    .slice(0, MAX_DISTRIBUTIONS);
  return names.includes('prediction') ? [...columns, 'prediction'] : columns;
}

/** Model quality over windows: from labels (solid) and estimated before labels (dotted). */
export function qualityFigure(
  windows: readonly Mlops.IWindowReport[]
): IFigure | null {
  const task = windows[windows.length - 1]?.quality?.task;
  const metrics: (keyof Mlops.IQualityFigures)[] =
    task === 'regression' ? ['rmse', 'mae'] : ['accuracy', 'f1', 'roc_auc'];
  const x = windows.map(when);
  const data: { [key: string]: unknown }[] = [];
  const palette = ['#1f77b4', '#2ca02c', '#9467bd'];
  metrics.forEach((metric, i) => {
    for (const side of ['realised', 'estimated'] as const) {
      const y = windows.map(w => finiteOrNull(w.quality?.[side]?.[metric]));
      if (y.every(v => v === null)) {
        continue;
      }
      data.push({
        type: 'scatter',
        mode: 'lines+markers',
        name: `${metric} (${side === 'realised' ? 'labels' : 'estimated'})`,
        x,
        y,
        line: {
          color: palette[i],
          dash: side === 'realised' ? 'solid' : 'dot'
        },
        marker: { size: 4 },
        connectgaps: false
      });
    }
  });
  if (data.length === 0) {
    return null;
  }
  return {
    data,
    layout: {
      height: 230,
      margin: { l: 45, r: 10, t: 10, b: 30 },
      legend: LEGEND_BELOW,
      yaxis: task === 'regression' ? {} : { range: [0, 1.02] }
    }
  };
}

/** p50, p95 and p99 latency over windows, in milliseconds. */
export function latencyFigure(
  windows: readonly Mlops.IWindowReport[]
): IFigure | null {
  if (!windows.some(w => w.operations)) {
    return null;
  }
  const x = windows.map(when);
  const line = (key: 'p50_ms' | 'p95_ms' | 'p99_ms', dash: string) => ({
    type: 'scatter',
    mode: 'lines+markers',
    name: key.slice(0, 3),
    x,
    y: windows.map(w => finiteOrNull(w.operations?.[key])),
    line: { dash },
    marker: { size: 4 },
    hovertemplate: `${key.slice(0, 3)} %{y} ms<extra></extra>`
  });
  return {
    data: [
      line('p50_ms', 'dot'),
      line('p95_ms', 'solid'),
      line('p99_ms', 'dash')
    ],
    layout: {
      height: 210,
      margin: { l: 45, r: 10, t: 10, b: 30 },
      legend: LEGEND_BELOW,
      yaxis: { title: { text: 'ms' }, rangemode: 'tozero' }
    }
  };
}

/** Requests and errors per window. */
export function loadFigure(
  windows: readonly Mlops.IWindowReport[]
): IFigure | null {
  if (!windows.some(w => w.operations)) {
    return null;
  }
  const x = windows.map(when);
  return {
    data: [
      {
        type: 'bar',
        name: 'requests',
        x,
        y: windows.map(w => w.operations?.requests ?? null),
        marker: { color: '#1f77b4' },
        opacity: 0.45
      },
      {
        type: 'bar',
        name: 'errors',
        x,
        y: windows.map(w => w.operations?.errors ?? null),
        marker: { color: CURRENT_COLOUR },
        customdata: windows.map(w => finiteOrNull(w.operations?.error_rate)),
        hovertemplate: 'errors %{y} (%{customdata:.1%})<extra></extra>'
      }
    ],
    layout: {
      height: 190,
      barmode: 'overlay',
      margin: { l: 45, r: 10, t: 10, b: 30 },
      legend: LEGEND_BELOW,
      yaxis: { rangemode: 'tozero' }
    }
  };
}
