import { Mlops } from './tokens';

/** The part of plotly.js the charts use. */
export interface IPlotly {
  newPlot(
    el: HTMLElement,
    data: { [key: string]: unknown }[],
    layout?: { [key: string]: unknown },
    config?: { [key: string]: unknown }
  ): Promise<HTMLElement>;
  react(
    el: HTMLElement,
    data: { [key: string]: unknown }[],
    layout?: { [key: string]: unknown },
    config?: { [key: string]: unknown }
  ): Promise<HTMLElement>;
  purge(el: HTMLElement): void;
  Plots: { resize(el: HTMLElement): void };
}

let plotly: Promise<IPlotly> | null = null;

/** plotly.js, loaded (once) the first time a chart is drawn, not with the lab. */
export function loadPlotly(): Promise<IPlotly> {
  if (!plotly) {
    plotly = import('plotly.js-dist-min').then(
      (mod: any) => (mod.default ?? mod) as IPlotly
    );
    plotly.catch(() => {
      plotly = null;
    });
  }
  return plotly;
}

/** A metric value as a chart number: NaN and ±inf become gaps. */
export function chartNumber(value: Mlops.MetricValue | null): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Layout colours and fonts from the lab's theme variables. */
export function themedLayout(extra: { [key: string]: unknown } = {}): {
  [key: string]: unknown;
} {
  const style = getComputedStyle(document.body);
  const v = (name: string, fallback: string) =>
    style.getPropertyValue(name).trim() || fallback;
  const fg = v('--jp-ui-font-color1', '#333');
  const grid = v('--jp-border-color2', '#ddd');
  return {
    paper_bgcolor: 'rgba(0,0,0,0)',
    plot_bgcolor: 'rgba(0,0,0,0)',
    font: {
      color: fg,
      family: v('--jp-ui-font-family', 'sans-serif'),
      size: 11
    },
    margin: { l: 50, r: 15, t: 30, b: 35 },
    xaxis: { gridcolor: grid, zerolinecolor: grid },
    yaxis: { gridcolor: grid, zerolinecolor: grid },
    ...extra
  };
}

export const PLOT_CONFIG = {
  displaylogo: false,
  responsive: true,
  modeBarButtonsToRemove: ['select2d', 'lasso2d']
};
