import React, { useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { CtAPI, loopOutcome } from '../ct';
import { formatTime } from '../format';
import { Mlops } from '../tokens';
import { useFetched } from './hooks';
import { RefreshButton } from './parts';

/** The loops a timeline view shows, newest first. */
const LOOPS = 5;

/** The parts of a loop's time, in the order they happen. */
const PARTS: [string, string][] = [
  ['detection_s', 'detection'],
  ['pipeline_s', 'pipeline'],
  ['gates_s', 'gates'],
  ['trial_s', 'trial'],
  ['switch_s', 'switch']
];

/** Entry kinds whose `detail.run_id` is a pipeline run (or one of its steps' runs). */
const RUN_KINDS = new Set(['pipeline', 'pipeline_started', 'step']);

/** Seconds as `12.3 s` (or `—` when not measured). */
export function seconds(value: number | null | undefined): string {
  if (typeof value !== 'number' || !isFinite(value)) {
    return '—';
  }
  return `${value < 10 ? value.toFixed(2) : value.toFixed(1)} s`;
}

/** An entry's time from the loop's start: `+12.3 s`. */
function offset(at: number, start: number): string {
  const s = (at - start) / 1000;
  return `${s < 0 ? '−' : '+'}${Math.abs(s).toFixed(1)} s`;
}

/** One entry: its offset, its kind, what happened (and the run it names, as a link). */
function TimelineEntry(props: {
  entry: Mlops.ITimelineEntry;
  start: number;
  onOpenRun?: (runId: string, name: string) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { entry, trans } = props;
  const runId =
    RUN_KINDS.has(entry.kind) && typeof entry.detail?.run_id === 'string'
      ? entry.detail.run_id
      : null;
  return (
    <li
      className={`jp-mlops-Timeline-entry jp-mod-${entry.kind.replace(/[^a-z_]/gi, '')}`}
      data-testid="mlops-timeline-entry"
      data-kind={entry.kind}
    >
      <span
        className="jp-mlops-Timeline-offset jp-mlops-Number"
        title={formatTime(entry.at)}
      >
        {offset(entry.at, props.start)}
      </span>
      <span className="jp-mlops-Timeline-kind">
        {entry.kind.replace(/_/g, ' ')}
      </span>
      <span className="jp-mlops-Timeline-summary">
        {entry.summary}
        {runId && (
          <>
            {' '}
            {props.onOpenRun ? (
              <button
                className="jp-mlops-Link"
                data-testid="mlops-timeline-run"
                data-run={runId}
                title={trans.__('Open run %1 in the run view', runId)}
                onClick={() =>
                  props.onOpenRun?.(
                    runId,
                    trans.__('%1 run %2', entry.kind, runId.slice(0, 8))
                  )
                }
              >
                {trans.__('open run')}
              </button>
            ) : (
              <code data-testid="mlops-timeline-run" data-run={runId}>
                {runId.slice(0, 8)}
              </code>
            )}
          </>
        )}
      </span>
    </li>
  );
}

/** One loop: its head (id, outcome, version, total), its parts, then every entry. */
function LoopTimeline(props: {
  timeline: Mlops.ILoopTimeline;
  open: boolean;
  onOpenRun?: (runId: string, name: string) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { timeline, trans } = props;
  const loop = timeline.loop;
  const end =
    timeline.switched_at !== null
      ? trans.__('to the new version answering')
      : trans.__('to its end');
  const source =
    timeline.entries.length > 0 && timeline.entries[0].kind === 'alert'
      ? trans.__('from the alert')
      : trans.__('from the trigger');
  return (
    <details
      className="jp-mlops-Timeline"
      open={props.open}
      data-testid="mlops-timeline-loop"
      data-loop={loop.id}
      data-outcome={loop.outcome ?? ''}
      data-state={loop.state}
    >
      <summary className="jp-mlops-Timeline-head">
        <code title={loop.id}>{loop.id.slice(0, 8)}</code>
        <span
          className={`jp-mlops-Pill jp-mlops-LoopState jp-mod-${loop.outcome ?? loop.state}`}
          data-testid="mlops-timeline-outcome"
        >
          {loopOutcome(loop)}
        </span>
        {loop.candidate !== null && (
          <span>{trans.__('v%1', loop.candidate)}</span>
        )}
        {loop.dry_run && (
          <span className="jp-mlops-Pill jp-mlops-CtBadge jp-mod-dry">
            {trans.__('dry run')}
          </span>
        )}
        <span
          className="jp-mlops-Timeline-total"
          data-testid="mlops-timeline-total"
          data-seconds={timeline.total_s ?? ''}
          title={`${source} ${end}`}
        >
          {timeline.total_s === null
            ? trans.__('under way')
            : trans.__('%1 total', seconds(timeline.total_s))}
        </span>
      </summary>
      <div
        className="jp-mlops-Timeline-parts"
        data-testid="mlops-timeline-parts"
      >
        {PARTS.filter(
          // A trial's time only when the loop had one.
          ([key]) =>
            key !== 'trial_s' || typeof timeline.parts?.[key] === 'number'
        ).map(([key, label]) => (
          <span
            key={key}
            className="jp-mlops-Timeline-part"
            data-part={label}
            data-seconds={timeline.parts?.[key] ?? ''}
          >
            <span className="jp-mlops-Muted">{label}</span>{' '}
            <span className="jp-mlops-Number">
              {seconds(timeline.parts?.[key])}
            </span>
          </span>
        ))}
      </div>
      {loop.reason && (
        <div className="jp-mlops-Timeline-reason">{loop.reason}</div>
      )}
      <ol className="jp-mlops-Timeline-entries">
        {timeline.entries.map((entry, i) => (
          <TimelineEntry
            key={i}
            entry={entry}
            start={timeline.started_at}
            onOpenRun={props.onOpenRun}
            trans={trans}
          />
        ))}
      </ol>
    </details>
  );
}

/**
 * A model's continuous-training timeline: its newest loops (or one), each from the alert
 * that started it to the server answering with the new version, every step at its offset
 * from the start; read again when `stamp` changes (a loop moved).
 */
export function CtTimeline(props: {
  name: string;
  api: CtAPI;
  /** One loop's id, or null for the newest ones. */
  loop: string | null;
  /** Changes when the loops moved: the timeline is read again. */
  stamp: string;
  onShowAll?: () => void;
  onOpenRun?: (runId: string, name: string) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { name, api, loop, trans } = props;
  const [reload, setReload] = useState(0);
  const { value, error } = useFetched(
    () => api.timeline(name, { limit: LOOPS, loop }),
    [api, name, loop, props.stamp, reload]
  );
  return (
    <div
      className="jp-mlops-CtTimeline"
      data-testid="mlops-ct-timeline"
      data-loaded={value === null ? 'false' : 'true'}
    >
      <div className="jp-mlops-CtTimeline-toolbar">
        <span className="jp-mlops-Muted">
          {loop === null
            ? trans.__('The newest %1 loops, newest first', LOOPS)
            : trans.__('Loop %1', loop.slice(0, 8))}
        </span>
        {loop !== null && props.onShowAll && (
          <button
            className="jp-mlops-Button jp-mlops-SmallButton"
            data-testid="mlops-timeline-all"
            onClick={props.onShowAll}
          >
            {trans.__('Newest loops')}
          </button>
        )}
        <RefreshButton
          testId="mlops-timeline-refresh"
          title={trans.__('Read the timeline again')}
          onClick={() => setReload(n => n + 1)}
          trans={trans}
        />
      </div>
      {error && (
        <div className="jp-mlops-InlineError" role="alert">
          {error}
        </div>
      )}
      {value === null && !error && (
        <div className="jp-mlops-Muted">
          {trans.__('Reading the timeline…')}
        </div>
      )}
      {value !== null && value.length === 0 && (
        <div className="jp-mlops-Muted">
          {trans.__('No continuous-training loop yet.')}
        </div>
      )}
      {value?.map((timeline, i) => (
        <LoopTimeline
          key={timeline.loop.id}
          timeline={timeline}
          open={i === 0}
          onOpenRun={props.onOpenRun}
          trans={trans}
        />
      ))}
    </div>
  );
}
