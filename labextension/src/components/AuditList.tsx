import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatShortTime, formatTime } from '../format';
import { Mlops } from '../tokens';
import { usePages } from './hooks';
import { ShowOlder } from './parts';

/** Entries shown at first and added by "Show older": the audit only grows. */
const PAGE = 50;

/** What an entry moved: `v3`, `@champion`, `@champion v3`. */
function subject(entry: Mlops.IAuditEntry): string {
  const parts: string[] = [];
  if (entry.alias) {
    parts.push(`@${entry.alias}`);
  }
  if (entry.version !== null && entry.version !== undefined) {
    parts.push(`v${entry.version}`);
  }
  return parts.join(' ');
}

/** Longest side of a move shown in the list (a gate configuration is JSON); the rest is in
 * the tooltip. */
const MAX_SIDE = 80;

function clip(text: string): string {
  return text.length > MAX_SIDE ? `${text.slice(0, MAX_SIDE)}…` : text;
}

/** `None → Production`, `∅ → 3`, `2 → ∅`; empty when neither side is recorded. */
function transition(entry: Mlops.IAuditEntry, short = false): string {
  const from = entry.from_value ?? '';
  const to = entry.to_value ?? '';
  if (!from && !to) {
    return '';
  }
  const side = (text: string) => (short ? clip(text) : text) || '∅';
  return `${side(from)} → ${side(to)}`;
}

/**
 * A model's audit history, newest first: seq, time, actor, action, the version or alias it
 * concerned, from → to and the reason. The newest `PAGE` entries, and older ones a page at a time on demand.
 */
export function AuditList(props: {
  entries: readonly Mlops.IAuditEntry[] | null;
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  const [count, more] = usePages(PAGE);
  if (props.entries === null) {
    return <div className="jp-mlops-Muted">{trans.__('Loading audit…')}</div>;
  }
  const entries = [...props.entries].sort((a, b) => b.seq - a.seq);
  const shown = entries.slice(0, count);
  return (
    <div className="jp-mlops-Audit" data-testid="mlops-audit">
      {entries.length === 0 && (
        <div className="jp-mlops-Muted">
          {trans.__('Nothing recorded yet.')}
        </div>
      )}
      <ol className="jp-mlops-Audit-list">
        {shown.map(entry => {
          const what = subject(entry);
          const move = transition(entry, true);
          return (
            <li
              key={entry.seq}
              className={
                'jp-mlops-Audit-entry' +
                (entry.action === 'force' ||
                entry.action === 'integrity_failure'
                  ? ' jp-mod-warn'
                  : '')
              }
              data-testid="mlops-audit-entry"
              data-seq={entry.seq}
              data-action={entry.action}
              data-version={entry.version ?? ''}
            >
              <div className="jp-mlops-Audit-line">
                <span className="jp-mlops-Audit-seq">{`#${entry.seq}`}</span>
                <span
                  className="jp-mlops-Audit-action"
                  data-testid="mlops-audit-action"
                >
                  {entry.action}
                </span>
                {what && <span className="jp-mlops-Audit-subject">{what}</span>}
                {move && (
                  <span
                    className="jp-mlops-Audit-move"
                    data-testid="mlops-audit-move"
                    title={transition(entry)}
                  >
                    {move}
                  </span>
                )}
                <span
                  className="jp-mlops-Audit-meta"
                  title={`${entry.actor} · ${formatTime(entry.at)}`}
                >
                  <span
                    className="jp-mlops-Audit-actor"
                    data-testid="mlops-audit-actor"
                  >
                    {entry.actor}
                  </span>
                  {` · ${formatShortTime(entry.at)}`}
                </span>
              </div>
              {entry.reason && (
                <div
                  className="jp-mlops-Audit-reason"
                  data-testid="mlops-audit-reason"
                  title={entry.reason}
                >
                  {entry.reason}
                </div>
              )}
            </li>
          );
        })}
      </ol>
      <ShowOlder
        hidden={entries.length - shown.length}
        onClick={more}
        testId="mlops-audit-older"
        trans={trans}
      />
    </div>
  );
}
