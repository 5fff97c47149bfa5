import React, { useEffect, useRef, useState } from 'react';

import { PLOT_CONFIG, loadPlotly, themedLayout } from '../charts';
import { errorMessage } from '../request';

/** A plotly.js figure, (re)drawn when `data` or `layout` change; plotly loads lazily. */
export function Plot(props: {
  data: { [key: string]: unknown }[];
  layout?: { [key: string]: unknown };
  testId?: string;
  className?: string;
  /** Called once the figure is on screen (plotly loads lazily, so this can take a moment). */
  onDrawn?: () => void;
}): JSX.Element {
  const ref = useRef<HTMLDivElement>(null);
  const [error, setError] = useState<string | null>(null);
  const { data, layout, onDrawn } = props;
  useEffect(() => {
    let cancelled = false;
    const el = ref.current;
    loadPlotly()
      .then(Plotly => {
        if (!cancelled && el) {
          return Plotly.react(el, data, themedLayout(layout), PLOT_CONFIG).then(
            () => {
              if (!cancelled) {
                onDrawn?.();
              }
            }
          );
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
  }, [data, layout, onDrawn]);
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
    <div className={props.className} data-testid={props.testId}>
      {error !== null && (
        <div className="jp-mlops-Error" role="alert">
          {error}
        </div>
      )}
      <div ref={ref} />
    </div>
  );
}
