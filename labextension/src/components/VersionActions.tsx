import React, { useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { RegistryAPI, blocked, errorMessage } from '../request';
import { ServersModel } from '../serving';
import { Mlops } from '../tokens';
import { GateReport } from './GateReport';
import { Field, ReasonForm } from './ReasonForm';
import { ServeForm, ServedLine, versionTargets } from './ServeForm';

type ActionId =
  | 'promote-staging'
  | 'promote-production'
  | 'archive'
  | 'set-alias'
  | 'remove-alias'
  | 'approve'
  | 'validate'
  | 'serve';

const STAGE_OF: { [id: string]: Mlops.Stage } = {
  'promote-staging': 'Staging',
  'promote-production': 'Production',
  archive: 'Archived'
};

/** Why a stage move was refused: each blocker, and the numbers of the gates that failed. */
export function PromotionBlockers(props: {
  blocked: Mlops.IPromotionBlocked;
  trans: TranslationBundle;
}): JSX.Element {
  const { blocked: info, trans } = props;
  return (
    <div className="jp-mlops-Blockers" data-testid="mlops-blockers">
      <div className="jp-mlops-Blockers-title">
        {trans.__('Promotion blocked:')}
      </div>
      <ul className="jp-mlops-Blockers-list">
        {(info.blockers.length ? info.blockers : [info.message]).map(
          (line, i) => (
            <li key={i} data-testid="mlops-blocker">
              {line}
            </li>
          )
        )}
      </ul>
      {info.report && !info.report.passed && (
        <GateReport report={info.report} onlyFailed openFailed trans={trans} />
      )}
    </div>
  );
}

/**
 * What can be done to one version: promote to Staging or Production, archive, set or move an
 * alias, remove one, approve, validate. Each opens a form with a reason for the audit; a
 * refused promotion shows its blockers and offers to force it with a reason. Serve (given
 * `servers`) starts a model server for the version, or for one of its aliases.
 */
export function VersionActions(props: {
  api: RegistryAPI;
  model: Mlops.IRegisteredModel;
  version: Mlops.IVersionRow | Mlops.IVersionDetail;
  /** The model's aliases (to say which one an alias would move from). */
  aliases: readonly Mlops.IModelAlias[];
  /** Called after any action that changed the registry. */
  onChanged: () => void;
  /** The model's servers: without them, no Serve. */
  servers?: ServersModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { api, model, version, trans } = props;
  const [open, setOpen] = useState<ActionId | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [refused, setRefused] = useState<Mlops.IPromotionBlocked | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [served, setServed] = useState<Mlops.IModelServer | null>(null);
  const [alias, setAlias] = useState('');
  const [removeAlias, setRemoveAlias] = useState('');

  const v = version.version;
  const ref = `v${v}`;
  const hasGates = !!model.gates;
  const actions: {
    id: ActionId;
    label: string;
    title: string;
    /** The form's submit button. */
    submit: string;
    disabled?: boolean;
  }[] = [
    {
      id: 'promote-staging',
      label: trans.__('Staging'),
      submit: trans.__('Promote'),
      title: trans.__('Promote %1 to Staging', ref),
      disabled: version.stage === 'Staging'
    },
    {
      id: 'promote-production',
      label: trans.__('Production'),
      submit: trans.__('Promote'),
      title: trans.__('Promote %1 to Production', ref),
      disabled: version.stage === 'Production'
    },
    {
      id: 'archive',
      label: trans.__('Archive'),
      submit: trans.__('Archive'),
      title: trans.__('Archive %1', ref),
      disabled: version.stage === 'Archived'
    },
    {
      id: 'set-alias',
      label: trans.__('Set alias'),
      submit: trans.__('Set alias'),
      title: trans.__('Point an alias at %1 (creating or moving it)', ref)
    },
    ...(version.aliases.length
      ? [
          {
            id: 'remove-alias' as ActionId,
            label: trans.__('Remove alias'),
            submit: trans.__('Remove'),
            title: trans.__('Remove an alias of %1', ref)
          }
        ]
      : []),
    {
      id: 'approve',
      label: trans.__('Approve'),
      submit: trans.__('Approve'),
      title: trans.__('Approve %1 for Production', ref)
    },
    {
      id: 'validate',
      label: trans.__('Validate'),
      submit: trans.__('Validate'),
      title: hasGates
        ? trans.__('Run the gates on %1 now', ref)
        : trans.__('%1 has no gates to run', model.name),
      disabled: !hasGates
    },
    ...(props.servers
      ? [
          {
            id: 'serve' as ActionId,
            label: trans.__('Serve'),
            submit: trans.__('Start server'),
            title: trans.__(
              'Serve %1 over HTTP (a model server in its own process)',
              ref
            )
          }
        ]
      : [])
  ];

  const choose = (id: ActionId) => {
    setOpen(old => (old === id ? null : id));
    setError(null);
    setRefused(null);
    setDone(null);
    setServed(null);
    setAlias('');
    setRemoveAlias(version.aliases[0] ?? '');
  };

  const run = async (id: ActionId, reason: string, force: boolean) => {
    setBusy(true);
    setError(null);
    setDone(null);
    const why = reason || undefined;
    try {
      let message: string;
      if (id in STAGE_OF) {
        const stage = STAGE_OF[id];
        const moved = await api.setStage(model.name, v, {
          stage,
          reason: why,
          force: force || undefined
        });
        message = force
          ? trans.__('Forced %1 into %2.', ref, moved.stage)
          : trans.__('Moved %1 to %2.', ref, moved.stage);
      } else if (id === 'set-alias') {
        const set = await api.setAlias(model.name, alias.trim(), v, why);
        message = trans.__('@%1 now points at v%2.', set.alias, set.version);
      } else if (id === 'remove-alias') {
        await api.deleteAlias(model.name, removeAlias, why);
        message = trans.__('Removed @%1.', removeAlias);
      } else if (id === 'approve') {
        await api.approve(model.name, v, why);
        message = trans.__('Approved %1.', ref);
      } else {
        const report = await api.validate(model.name, v);
        message = report.passed
          ? trans.__('%1 passed its gates.', ref)
          : trans.__('%1 failed gates: %2.', ref, failedGates(report));
      }
      setRefused(null);
      setOpen(null);
      setDone(message);
      props.onChanged();
    } catch (e) {
      const info = blocked(e);
      setRefused(info);
      setError(info ? null : errorMessage(e));
      if (info) {
        // The move did not happen; what the server knows may still have changed (a report).
        props.onChanged();
      }
    } finally {
      setBusy(false);
    }
  };

  const current = actions.find(a => a.id === open) ?? null;
  const holder = props.aliases.find(a => a.alias === alias.trim());
  return (
    <div
      className="jp-mlops-VersionActions"
      data-testid="mlops-version-actions"
    >
      <div className="jp-mlops-VersionActions-buttons" role="toolbar">
        {actions.map(action => (
          <button
            key={action.id}
            className={
              'jp-mlops-Button jp-mlops-SmallButton' +
              (open === action.id ? ' jp-mod-active' : '')
            }
            data-testid={`mlops-action-${action.id}`}
            title={action.title}
            aria-pressed={open === action.id}
            disabled={action.disabled || busy}
            onClick={() => choose(action.id)}
          >
            {action.label}
          </button>
        ))}
      </div>
      {done && (
        <div
          className="jp-mlops-Done"
          role="status"
          data-testid="mlops-action-done"
        >
          {done}
        </div>
      )}
      {served && <ServedLine server={served} trans={trans} />}
      {current && current.id === 'serve' && props.servers && (
        <ServeForm
          targets={versionTargets(model.name, v, version.aliases, trans)}
          title={current.title}
          servers={props.servers}
          onStarted={server => {
            setOpen(null);
            setServed(server);
          }}
          onCancel={() => choose('serve')}
          trans={trans}
        />
      )}
      {current && current.id !== 'serve' && (
        <ReasonForm
          key={current.id}
          title={current.title}
          submitLabel={current.submit}
          busy={busy}
          allowForce={refused !== null && current.id in STAGE_OF}
          ready={
            current.id === 'set-alias'
              ? alias.trim() !== ''
              : current.id === 'remove-alias'
                ? removeAlias !== ''
                : true
          }
          note={
            current.id === 'promote-production' &&
            version.stage !== 'Production'
              ? trans.__('The version now in Production, if any, is archived.')
              : current.id === 'validate'
                ? trans.__(
                    'Runs the gates on the holdout now; the report is stored with the version.'
                  )
                : undefined
          }
          onSubmit={(reason, force) => void run(current.id, reason, force)}
          onCancel={() => choose(current.id)}
          error={
            refused ? (
              <PromotionBlockers blocked={refused} trans={trans} />
            ) : (
              error
            )
          }
          trans={trans}
        >
          {current.id === 'set-alias' && (
            <Field label={trans.__('Alias')}>
              <input
                className="jp-mlops-Input"
                data-testid="mlops-alias-name"
                list="jp-mlops-alias-names"
                placeholder={trans.__('champion')}
                value={alias}
                onChange={event => setAlias(event.target.value)}
              />
              <datalist id="jp-mlops-alias-names">
                {props.aliases.map(a => (
                  <option key={a.alias} value={a.alias} />
                ))}
              </datalist>
              {holder && holder.version !== v && (
                <span className="jp-mlops-Muted">
                  {trans.__(
                    'Moves @%1 from v%2.',
                    holder.alias,
                    holder.version
                  )}
                </span>
              )}
            </Field>
          )}
          {current.id === 'remove-alias' && (
            <Field label={trans.__('Alias')}>
              <select
                className="jp-mlops-Select"
                data-testid="mlops-remove-alias-name"
                value={removeAlias}
                onChange={event => setRemoveAlias(event.target.value)}
              >
                {version.aliases.map(a => (
                  <option key={a} value={a}>
                    {`@${a}`}
                  </option>
                ))}
              </select>
            </Field>
          )}
        </ReasonForm>
      )}
    </div>
  );
}

function failedGates(report: Mlops.IGateReport): string {
  const gates = Array.isArray(report.report?.gates) ? report.report.gates : [];
  return gates
    .filter(g => !g.passed)
    .map(g => String(g.gate))
    .join(', ');
}
