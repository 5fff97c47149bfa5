import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatMetric, formatShortTime, formatTime } from '../format';
import { Mlops } from '../tokens';
import { AlertBadge } from './AlertBadge';

/**
 * A model's alert rules' changes of state, newest first: when, which rule, from what to
 * what, and the value that moved it.
 */
export function AlertHistory(props: {
  events: readonly Mlops.IAlertEvent[];
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  if (props.events.length === 0) {
    return (
      <div className="jp-mlops-Muted" data-testid="mlops-alert-history-empty">
        {trans.__('No rule has changed state yet.')}
      </div>
    );
  }
  const events = [...props.events].sort((a, b) => b.id - a.id);
  return (
    <ul className="jp-mlops-AlertHistory" data-testid="mlops-alert-history">
      {events.map(e => {
        const p = e.payload ?? {};
        const threshold =
          p.threshold === null || p.threshold === undefined
            ? ''
            : ` ${p.direction === 'below' ? '<' : '>'} ${formatMetric(p.threshold)}`;
        return (
          <li
            key={e.id}
            className="jp-mlops-AlertEvent"
            data-testid="mlops-alert-event"
            data-rule={String(p.rule ?? '')}
            data-state={String(p.state ?? '')}
            title={formatTime(e.created_at)}
          >
            <span className="jp-mlops-AlertEvent-time">
              {formatShortTime(e.created_at)}
            </span>
            <span className="jp-mlops-AlertEvent-rule">
              {String(p.rule ?? '')}
            </span>
            {p.previous && (
              <>
                <AlertBadge state={String(p.previous)} trans={trans} />
                <span aria-hidden="true">→</span>
              </>
            )}
            <AlertBadge state={String(p.state ?? '')} trans={trans} />
            <span className="jp-mlops-AlertEvent-value">
              {p.value === null || p.value === undefined
                ? ''
                : `${formatMetric(p.value)}${threshold}`}
            </span>
          </li>
        );
      })}
    </ul>
  );
}
