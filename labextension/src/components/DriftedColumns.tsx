import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatMetric } from '../format';
import { Mlops } from '../tokens';
import { formatShare } from './MonitoringGlance';

/**
 * The latest window's drifted columns: the method that judged each, its score and
 * threshold (a p-value drifts below it, a distance at or above it), and the column's
 * missing and out-of-range shares (unseen categories for a categorical column).
 */
export function DriftedColumns(props: {
  window: Mlops.IWindowReport;
  trans: TranslationBundle;
}): JSX.Element {
  const { window, trans } = props;
  const drifted = window.drift.filter(d => d.drifted);
  if (drifted.length === 0) {
    return (
      <div className="jp-mlops-Muted" data-testid="mlops-no-drifted-columns">
        {trans.__('No column drifted in the latest window.')}
      </div>
    );
  }
  const quality = new Map(window.data_quality.map(q => [q.column, q]));
  return (
    <div className="jp-mlops-TableScroll">
      <table
        className="jp-mlops-Grid jp-mlops-DriftedColumns"
        data-testid="mlops-drifted-columns"
      >
        <thead>
          <tr>
            <th>{trans.__('Column')}</th>
            <th>{trans.__('Method')}</th>
            <th>{trans.__('Score')}</th>
            <th>{trans.__('Threshold')}</th>
            <th>{trans.__('Missing')}</th>
            <th
              title={trans.__(
                'Numbers outside the reference range; unseen categories'
              )}
            >
              {trans.__('Out of range')}
            </th>
          </tr>
        </thead>
        <tbody>
          {drifted.map(d => {
            const q = quality.get(d.column);
            const outside = q?.out_of_range_share ?? q?.unseen_share ?? null;
            return (
              <tr
                key={d.column}
                data-testid="mlops-drifted-column"
                data-column={d.column}
              >
                <td className="jp-mlops-DriftedColumns-name" title={d.column}>
                  {d.column}
                </td>
                <td title={d.note ?? undefined}>{d.method}</td>
                <td className="jp-mlops-Number">{formatMetric(d.score)}</td>
                <td className="jp-mlops-Number">{formatMetric(d.threshold)}</td>
                <td className="jp-mlops-Number">
                  {formatShare(q?.missing_share)}
                </td>
                <td
                  className="jp-mlops-Number"
                  title={
                    q && q.unseen_values.length > 0
                      ? q.unseen_values.join(', ')
                      : undefined
                  }
                >
                  {formatShare(outside)}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
