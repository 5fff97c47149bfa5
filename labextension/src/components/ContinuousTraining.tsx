import React, { useEffect, useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { CtModel, loopOutcome } from '../ct';
import { formatCount, formatShortTime, formatTime } from '../format';
import { RegistryAPI, errorMessage } from '../request';
import { Mlops } from '../tokens';
import { CtTimeline } from './CtTimeline';
import { GateReport } from './GateReport';
import { ReasonForm } from './ReasonForm';
import { useSignal } from './hooks';
import { Section, pickable } from './parts';

/** What the editor shows for a model without a policy (a placeholder, not a value). */
const EXAMPLE = `pipeline: retrain/pipeline.yaml   # relative to the lab's root folder
trigger:
  alerts: [drift]                 # the monitoring rules whose alert retrains
data:
  traffic: alert                  # the labelled traffic since the drift began
promote:
  mode: approval                  # or auto
  to: Production
rollout:
  mode: canary                    # direct, shadow or canary
  share: 0.1
guardrails:
  cooldown: 1h
  dry_run: true`;

/** Loops listed under the policy before "show all". */
const LOOPS_LISTED = 5;

/** The policy's switches as pills: on or off, dry run, how it promotes and rolls out. */
function PolicyBadges(props: {
  policy: Mlops.ICtPolicy | null;
  trans: TranslationBundle;
}): JSX.Element {
  const { policy, trans } = props;
  if (!policy) {
    return (
      <span
        className="jp-mlops-Pill jp-mlops-CtBadge jp-mod-off"
        data-testid="mlops-ct-badge"
        data-badge="none"
      >
        {trans.__('no policy')}
      </span>
    );
  }
  return (
    <span className="jp-mlops-CtBadges">
      <span
        className={`jp-mlops-Pill jp-mlops-CtBadge ${policy.enabled ? 'jp-mod-on' : 'jp-mod-off'}`}
        data-testid="mlops-ct-badge"
        data-badge={policy.enabled ? 'enabled' : 'disabled'}
        title={
          policy.enabled
            ? trans.__('Alerts and schedules start retrains')
            : trans.__('Switched off: nothing starts a retrain')
        }
      >
        {policy.enabled ? trans.__('enabled') : trans.__('disabled')}
      </span>
      {policy.guardrails?.dry_run && (
        <span
          className="jp-mlops-Pill jp-mlops-CtBadge jp-mod-dry"
          data-testid="mlops-ct-badge"
          data-badge="dry-run"
          title={trans.__(
            'Dry run: what would have happened is recorded, nothing is retrained or promoted'
          )}
        >
          {trans.__('dry run')}
        </span>
      )}
    </span>
  );
}

/** The policy in one line: what starts a retrain, on what, how its winner goes live. */
function policyLine(policy: Mlops.ICtPolicy, trans: TranslationBundle): string {
  const trigger = policy.trigger ?? { alerts: [], schedule: null };
  const starts = [
    trigger.alerts?.length
      ? trans.__('alerts %1', trigger.alerts.join(', '))
      : trans.__('any alert'),
    trigger.schedule ? trans.__('schedule %1', trigger.schedule) : ''
  ].filter(Boolean);
  const data = policy.data
    ? policy.data.dataset
      ? trans.__('dataset %1', policy.data.dataset)
      : trans.__('traffic %1', policy.data.traffic ?? '')
    : trans.__('its own data');
  const rollout = policy.rollout ?? { mode: 'direct', share: 0 };
  const how =
    rollout.mode === 'canary'
      ? trans.__('canary %1%', Math.round(rollout.share * 100))
      : rollout.mode;
  return trans.__(
    '%1 → %2 on %3 → %4 to %5, %6',
    starts.join(' or '),
    policy.pipeline,
    data,
    policy.promote?.mode ?? 'auto',
    policy.promote?.to ?? 'Production',
    how
  );
}

/** The policy as YAML: edit and Save (the server's message when it refuses), or Remove. */
function PolicyEditor(props: {
  name: string;
  ct: CtModel;
  state: Mlops.ICtState;
  trans: TranslationBundle;
}): JSX.Element {
  const { name, ct, state, trans } = props;
  const stored = state.policy_yaml ?? '';
  const [draft, setDraft] = useState(stored);
  const [base, setBase] = useState(stored);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [removing, setRemoving] = useState(false);

  // The stored policy changed elsewhere: follow it unless the draft holds edits.
  useEffect(() => {
    if (stored !== base) {
      setDraft(old => (old === base ? stored : old));
      setBase(stored);
    }
  }, [stored, base]);

  const edited = draft !== stored;
  const save = async () => {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      const next = await ct.api.setPolicy(
        name,
        draft,
        reason.trim() || undefined
      );
      setBase(next.policy_yaml ?? '');
      setDraft(next.policy_yaml ?? '');
      setReason('');
      ct.accept(next);
      setDone(trans.__('Policy saved.'));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  const remove = async (why: string) => {
    setBusy(true);
    setError(null);
    setDone(null);
    try {
      await ct.api.removePolicy(name, why || undefined);
      setRemoving(false);
      setDone(trans.__('Policy removed: nothing retrains %1 now.', name));
      await ct.refresh();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="jp-mlops-CtPolicy" data-testid="mlops-ct-policy">
      <textarea
        className="jp-mlops-Input jp-mlops-CtPolicy-yaml"
        data-testid="mlops-ct-yaml"
        spellCheck={false}
        rows={Math.min(16, Math.max(8, draft.split('\n').length + 1))}
        placeholder={EXAMPLE}
        value={draft}
        aria-invalid={error !== null}
        aria-label={trans.__('Continuous-training policy (YAML)')}
        onChange={event => {
          setDraft(event.target.value);
          setDone(null);
        }}
        onKeyDown={event => {
          if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
            event.preventDefault();
            if (!busy && draft.trim()) {
              void save();
            }
          }
        }}
      />
      <div className="jp-mlops-CtPolicy-actions">
        <input
          className="jp-mlops-Input jp-mlops-CtPolicy-reason"
          data-testid="mlops-ct-reason"
          maxLength={10000}
          placeholder={trans.__('Reason — written on the audit')}
          value={reason}
          onChange={event => setReason(event.target.value)}
        />
        <button
          className="jp-mlops-Button jp-mod-accept jp-mlops-SmallButton"
          data-testid="mlops-ct-save"
          disabled={busy || !draft.trim() || (!edited && state.policy !== null)}
          title={trans.__(
            'Check the policy and its pipeline on the server, then store it (Ctrl+Enter)'
          )}
          onClick={() => void save()}
        >
          {busy
            ? trans.__('Saving…')
            : state.policy
              ? trans.__('Save')
              : trans.__('Set policy')}
        </button>
        {edited && state.policy !== null && (
          <button
            className="jp-mlops-Button jp-mlops-SmallButton"
            data-testid="mlops-ct-revert"
            disabled={busy}
            onClick={() => {
              setDraft(stored);
              setError(null);
            }}
          >
            {trans.__('Revert')}
          </button>
        )}
        {state.policy !== null && (
          <button
            className={
              'jp-mlops-Button jp-mlops-SmallButton' +
              (removing ? ' jp-mod-active' : '')
            }
            data-testid="mlops-ct-remove"
            disabled={busy}
            aria-pressed={removing}
            onClick={() => setRemoving(r => !r)}
          >
            {trans.__('Remove')}
          </button>
        )}
      </div>
      {removing && (
        <ReasonForm
          title={trans.__('Remove the continuous-training policy of %1', name)}
          note={trans.__(
            'Alerts and schedules no longer retrain it; loops under way go on.'
          )}
          submitLabel={trans.__('Remove policy')}
          busy={busy}
          onSubmit={why => void remove(why)}
          onCancel={() => setRemoving(false)}
          trans={trans}
        />
      )}
      {error && (
        <div
          className="jp-mlops-InlineError jp-mlops-CtPolicy-error"
          role="alert"
          data-testid="mlops-ct-error"
        >
          {error}
        </div>
      )}
      {done && (
        <div
          className="jp-mlops-Done"
          role="status"
          data-testid="mlops-ct-done"
        >
          {done}
        </div>
      )}
    </div>
  );
}

/** One side of a pending decision: the version, its role, its gate report. */
function PendingSide(props: {
  role: 'candidate' | 'champion';
  title: string;
  side: Mlops.ICtSide;
  trans: TranslationBundle;
}): JSX.Element {
  const { side, trans } = props;
  return (
    <div
      className="jp-mlops-CtPending-side"
      data-testid={`mlops-ct-pending-${props.role}`}
      data-version={side.version ?? ''}
    >
      <div className="jp-mlops-CtPending-title">{props.title}</div>
      {side.gate_report ? (
        <GateReport report={side.gate_report} openFailed trans={trans} />
      ) : (
        <div className="jp-mlops-Muted">
          {side.version === null
            ? trans.__('No version holds it.')
            : trans.__('No gate report for v%1.', side.version)}
        </div>
      )}
    </div>
  );
}

/**
 * The candidate a loop chose that waits for approval: its gate report beside the
 * champion's, who approved it so far, and the registry's Approve action.
 */
function PendingCandidate(props: {
  name: string;
  pending: Mlops.ICtPending;
  api: RegistryAPI;
  onApproved: () => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { name, pending, api, trans } = props;
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const candidate = pending.candidate;
  const champion = pending.champion;
  const to = pending.to ?? trans.__('its target');
  const approve = async (reason: string) => {
    if (candidate.version === null) {
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.approve(name, candidate.version, reason || undefined);
      setOpen(false);
      setDone(
        trans.__(
          'Approved v%1: the scheduler deploys it once it has every approval it needs.',
          candidate.version
        )
      );
      props.onApproved();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  const approvers = candidate.approvals.map(a => a.actor);
  return (
    <div
      className="jp-mlops-CtPending"
      data-testid="mlops-ct-pending"
      data-loop={pending.loop.id}
      data-candidate={candidate.version ?? ''}
    >
      <div className="jp-mlops-CtPart-head">
        <span className="jp-mlops-CtPart-title">
          {trans.__(
            'v%1 waits for approval to take %2',
            candidate.version ?? '?',
            to
          )}
        </span>
        <button
          className={
            'jp-mlops-Button jp-mlops-SmallButton jp-mod-accept' +
            (open ? ' jp-mod-active' : '')
          }
          data-testid="mlops-ct-approve"
          disabled={busy || candidate.version === null}
          aria-pressed={open}
          title={trans.__('Approve v%1 (audited)', candidate.version ?? '?')}
          onClick={() => setOpen(o => !o)}
        >
          {trans.__('Approve')}
        </button>
      </div>
      <div className="jp-mlops-Muted">{pending.loop.reason}</div>
      <div className="jp-mlops-Muted" data-testid="mlops-ct-approvals">
        {approvers.length
          ? trans.__('Approved by %1.', approvers.join(', '))
          : trans.__('No approval yet.')}{' '}
        {candidate.approvals_missing === false
          ? trans.__('It has its approvals: the scheduler deploys it.')
          : trans.__(
              'It needs approval by someone other than who registered it.'
            )}
      </div>
      {open && (
        <ReasonForm
          title={trans.__('Approve v%1 for %2', candidate.version ?? '?', to)}
          submitLabel={trans.__('Approve')}
          busy={busy}
          onSubmit={reason => void approve(reason)}
          onCancel={() => setOpen(false)}
          error={error}
          trans={trans}
        />
      )}
      {done && (
        <div
          className="jp-mlops-Done"
          role="status"
          data-testid="mlops-ct-approved"
        >
          {done}
        </div>
      )}
      <div className="jp-mlops-CtPending-sides">
        <PendingSide
          role="candidate"
          title={trans.__('Candidate v%1', candidate.version ?? '?')}
          side={candidate}
          trans={trans}
        />
        <PendingSide
          role="champion"
          title={
            champion.version === null
              ? trans.__('Champion (none in %1)', to)
              : trans.__('Champion v%1 (%2)', champion.version, to)
          }
          side={champion}
          trans={trans}
        />
      </div>
    </div>
  );
}

/** A figure of a rollout's arm, or a dash. */
function figure(
  arm: Mlops.IRolloutArm | undefined,
  key: 'requests' | 'error_rate' | 'p95_ms' | 'accuracy'
): string {
  const value = arm?.[key];
  if (typeof value !== 'number' || !isFinite(value)) {
    return '—';
  }
  switch (key) {
    case 'requests':
      return formatCount(value);
    case 'error_rate':
      return `${(value * 100).toFixed(2)} %`;
    case 'p95_ms':
      return `${value.toFixed(1)} ms`;
    default:
      return value.toFixed(3);
  }
}

/** The rollout under way: mode and share, candidate against champion, and Cancel. */
function ActiveRollout(props: {
  name: string;
  rollout: Mlops.IRollout;
  ct: CtModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { name, rollout, ct, trans } = props;
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const stats = rollout.stats ?? {};
  const rows: [string, 'requests' | 'error_rate' | 'p95_ms' | 'accuracy'][] = [
    [trans.__('Requests'), 'requests'],
    [trans.__('Error rate'), 'error_rate'],
    [trans.__('p95 latency'), 'p95_ms'],
    [trans.__('Accuracy'), 'accuracy']
  ];
  const mode =
    rollout.mode === 'canary'
      ? trans.__('canary, %1% of requests', Math.round(rollout.share * 100))
      : rollout.mode === 'shadow'
        ? trans.__('shadow, a copy of the traffic')
        : rollout.mode;
  const minRequests = rollout.criteria?.min_requests;
  const cancel = async (reason: string) => {
    setBusy(true);
    setError(null);
    try {
      await ct.api.cancelRollout(name, reason || undefined);
      setOpen(false);
      await ct.refresh();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div
      className="jp-mlops-CtRollout"
      data-testid="mlops-ct-rollout"
      data-rollout={rollout.id}
      data-mode={rollout.mode}
    >
      <div className="jp-mlops-CtPart-head">
        <span className="jp-mlops-CtPart-title">
          {trans.__(
            'v%1 on trial beside v%2',
            rollout.candidate,
            rollout.champion ?? '—'
          )}
        </span>
        <button
          className={
            'jp-mlops-Button jp-mlops-SmallButton' +
            (open ? ' jp-mod-active' : '')
          }
          data-testid="mlops-ct-rollout-cancel"
          disabled={busy}
          aria-pressed={open}
          title={trans.__('End the trial now: servers drop the candidate')}
          onClick={() => setOpen(o => !o)}
        >
          {trans.__('Cancel rollout')}
        </button>
      </div>
      <div className="jp-mlops-Muted jp-mlops-CtRollout-facts">
        <span data-testid="mlops-ct-rollout-mode">{mode}</span>
        {' · '}
        {trans.__('takes %1 when promoted', rollout.target)}
        {' · '}
        <span title={formatTime(rollout.started_at)}>
          {trans.__(
            'started %1 by %2',
            formatShortTime(rollout.started_at),
            rollout.started_by
          )}
        </span>
        {typeof minRequests === 'number' &&
          ` · ${trans.__('verdict after %1 requests', formatCount(minRequests))}`}
      </div>
      <div className="jp-mlops-TableScroll">
        <table className="jp-mlops-Grid jp-mlops-CtRollout-stats">
          <thead>
            <tr>
              <th />
              <th>
                {trans.__(
                  'candidate v%1',
                  stats.candidate?.version ?? rollout.candidate
                )}
              </th>
              <th>
                {trans.__(
                  'champion v%1',
                  stats.champion?.version ?? rollout.champion ?? '—'
                )}
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([label, key]) => (
              <tr
                key={key}
                data-testid="mlops-ct-rollout-figure"
                data-figure={key}
              >
                <th>{label}</th>
                <td className="jp-mlops-Number" data-arm="candidate">
                  {figure(stats.candidate, key)}
                </td>
                <td className="jp-mlops-Number" data-arm="champion">
                  {figure(stats.champion, key)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {stats.reason && (
        <div className="jp-mlops-Muted" data-testid="mlops-ct-rollout-verdict">
          {stats.reason}
        </div>
      )}
      {!stats.candidate && (
        <div className="jp-mlops-Muted">
          {trans.__(
            'No comparison yet: the scheduler measures the trial as requests come.'
          )}
        </div>
      )}
      {open && (
        <ReasonForm
          title={trans.__('Cancel the trial of v%1', rollout.candidate)}
          note={trans.__(
            'Servers drop the candidate at once; v%1 keeps answering.',
            rollout.champion ?? '—'
          )}
          submitLabel={trans.__('Cancel rollout')}
          busy={busy}
          onSubmit={reason => void cancel(reason)}
          onCancel={() => setOpen(false)}
          error={error}
          trans={trans}
        />
      )}
    </div>
  );
}

/** The newest loops in a table; picking one shows its timeline. */
function LoopList(props: {
  loops: readonly Mlops.ICtLoop[];
  selected: string | null;
  onSelect: (id: string) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  const [all, setAll] = useState(false);
  const shown = all ? props.loops : props.loops.slice(0, LOOPS_LISTED);
  return (
    <div className="jp-mlops-TableScroll">
      <table
        className="jp-mlops-Grid jp-mlops-CtLoops"
        data-testid="mlops-ct-loops"
      >
        <thead>
          <tr>
            <th>{trans.__('Started')}</th>
            <th>{trans.__('Trigger')}</th>
            <th>{trans.__('State')}</th>
            <th>{trans.__('Version')}</th>
            <th>{trans.__('Why')}</th>
          </tr>
        </thead>
        <tbody>
          {shown.map(loop => (
            <tr
              key={loop.id}
              {...pickable(
                'jp-mlops-CtLoops-row',
                loop.id === props.selected,
                () => props.onSelect(loop.id)
              )}
              data-testid="mlops-ct-loop"
              data-loop={loop.id}
              data-state={loop.state}
              title={trans.__(
                'Show the timeline of loop %1',
                loop.id.slice(0, 8)
              )}
            >
              <td title={formatTime(loop.created_at)}>
                {formatShortTime(loop.created_at)}
              </td>
              <td>{String(loop.trigger?.kind ?? '')}</td>
              <td>
                <span
                  className={`jp-mlops-Pill jp-mlops-LoopState jp-mod-${loop.outcome ?? loop.state}`}
                >
                  {loopOutcome(loop)}
                </span>
              </td>
              <td>{loop.candidate === null ? '' : `v${loop.candidate}`}</td>
              <td title={loop.reason}>{loop.reason}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {!all && props.loops.length > shown.length && (
        <button
          className="jp-mlops-Button jp-mlops-SmallButton"
          data-testid="mlops-ct-loops-more"
          onClick={() => setAll(true)}
        >
          {trans.__('Show all %1', props.loops.length)}
        </button>
      )}
    </div>
  );
}

/**
 * The open model's continuous training: its policy (YAML, editable), the candidate waiting
 * for approval beside the champion, the rollout under way, its newest loops, and their
 * timeline.
 */
export function ContinuousTraining(props: {
  name: string;
  ct: CtModel;
  /** The registry's routes (the Approve action). */
  api: RegistryAPI;
  /** Called after an approval (the model's versions changed). */
  onChanged: () => void;
  onOpenRun?: (runId: string, name: string) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { name, ct, trans } = props;
  useSignal(ct.changed);
  const [timeline, setTimeline] = useState(false);
  const [loop, setLoop] = useState<string | null>(null);
  const state = ct.name === name ? ct.state : null;
  const loops = state?.loops ?? [];
  // The timeline is read again when a loop moves or a rollout starts or ends.
  const stamp = JSON.stringify([
    loops.map(l => [l.id, l.updated_at]),
    state?.rollout?.id ?? null
  ]);
  return (
    <Section
      title={trans.__('Continuous training')}
      extra={
        <span className="jp-mlops-Monitor-head jp-mlops-Ct-head">
          {state && <PolicyBadges policy={state.policy} trans={trans} />}
          <button
            className={
              'jp-mlops-Button jp-mlops-SmallButton' +
              (timeline ? ' jp-mod-active' : '')
            }
            data-testid="mlops-ct-timeline-toggle"
            aria-expanded={timeline}
            onClick={() => setTimeline(t => !t)}
          >
            {timeline ? trans.__('Hide timeline') : trans.__('Timeline')}
          </button>
        </span>
      }
    >
      <div
        className="jp-mlops-Ct"
        data-testid="mlops-ct"
        data-policy={state === null ? '' : state.policy ? 'yes' : 'no'}
      >
        {ct.error && (
          <div className="jp-mlops-InlineError" role="alert">
            {ct.error}
          </div>
        )}
        {state === null && !ct.error && (
          <div className="jp-mlops-Muted">{trans.__('Loading…')}</div>
        )}
        {state !== null && (
          <>
            <div
              className="jp-mlops-Muted jp-mlops-Ct-line"
              data-testid="mlops-ct-line"
            >
              {state.policy
                ? policyLine(state.policy, trans)
                : trans.__(
                    'No policy: nothing retrains %1. Write one below (YAML) to retrain it when an alert fires or on a schedule.',
                    name
                  )}
            </div>
            {state.pending && (
              <PendingCandidate
                key={state.pending.loop.id}
                name={name}
                pending={state.pending}
                api={props.api}
                onApproved={() => {
                  props.onChanged();
                  void ct.refresh();
                }}
                trans={trans}
              />
            )}
            {state.rollout && (
              <ActiveRollout
                key={state.rollout.id}
                name={name}
                rollout={state.rollout}
                ct={ct}
                trans={trans}
              />
            )}
            <PolicyEditor name={name} ct={ct} state={state} trans={trans} />
            {loops.length > 0 && (
              <>
                <h4 className="jp-mlops-Monitor-heading">
                  {trans.__('Loops')}
                </h4>
                <LoopList
                  loops={loops}
                  selected={timeline ? loop : null}
                  onSelect={id => {
                    setLoop(id);
                    setTimeline(true);
                  }}
                  trans={trans}
                />
              </>
            )}
          </>
        )}
        {timeline && (
          <>
            <h4 className="jp-mlops-Monitor-heading">{trans.__('Timeline')}</h4>
            <CtTimeline
              name={name}
              api={ct.api}
              loop={loop}
              stamp={stamp}
              onShowAll={() => setLoop(null)}
              onOpenRun={props.onOpenRun}
              trans={trans}
            />
          </>
        )}
      </div>
    </Section>
  );
}
