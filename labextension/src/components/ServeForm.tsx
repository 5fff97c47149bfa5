import React, { useEffect, useRef, useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { errorMessage } from '../request';
import { ServersModel } from '../serving';
import { Mlops } from '../tokens';
import { Field } from './ReasonForm';

/**
 * A server's address as a link to its OpenAPI description, opened in a new tab. The address
 * comes from the store, where any process may have written it: only an http(s) one links.
 */
export function ServerAddress(props: {
  server: Mlops.IModelServer;
  trans: TranslationBundle;
}): JSX.Element {
  const { server, trans } = props;
  const web = /^https?:\/\//i.test(server.url);
  const shown = server.url.replace(/^https?:\/\//i, '');
  if (!web) {
    return (
      <span
        className="jp-mlops-ServerAddress"
        data-testid="mlops-server-address"
      >
        {server.url}
      </span>
    );
  }
  return (
    <a
      className="jp-mlops-Link jp-mlops-ServerAddress"
      data-testid="mlops-server-address"
      href={`${server.url}/openapi.json`}
      target="_blank"
      rel="noopener noreferrer"
      title={trans.__('%1 — open its OpenAPI description', server.url)}
    >
      {shown}
    </a>
  );
}

/** Whether a server's `ref` is a fixed version (`/3`) rather than an alias or a stage. */
export function isVersionRef(ref: string): boolean {
  return /^\/\d+$/.test(ref);
}

/** What a server follows, as the panel names it: `@champion`, `Production` or `v3`. */
export function followed(ref: string): string {
  if (ref.startsWith('@')) {
    return ref;
  }
  return isVersionRef(ref) ? `v${ref.slice(1)}` : ref.replace(/^\//, '');
}

/** The line under an action once a server answers: what it serves and where. */
export function ServedLine(props: {
  server: Mlops.IModelServer;
  trans: TranslationBundle;
}): JSX.Element {
  const { server, trans } = props;
  return (
    <div className="jp-mlops-Done" role="status" data-testid="mlops-served">
      {server.version !== null && !isVersionRef(server.ref)
        ? trans.__(
            'Serving %1 (v%2) at ',
            `${server.name} ${followed(server.ref)}`,
            server.version
          )
        : trans.__('Serving %1 at ', `${server.name} ${followed(server.ref)}`)}
      <ServerAddress server={server} trans={trans} />
    </div>
  );
}

/** A port as typed: null for "any free one", NaN when it is no port number. */
function parsePort(text: string): number | null {
  const t = text.trim();
  if (t === '') {
    return null;
  }
  const n = /^\d{1,5}$/.test(t) ? Number(t) : NaN;
  return n >= 1 && n <= 65535 ? n : NaN;
}

/** Something a server can follow: a version (`churn/3`) or an alias (`churn@champion`). */
export interface IServeTarget {
  target: string;
  /** How the form names it, e.g. "v3" or "@champion". */
  label: string;
  /** What serving it means (a fixed version, or one that moves with the alias). */
  note: string;
}

/** The serve targets of a version: itself, then each alias that points at it. */
export function versionTargets(
  name: string,
  version: number,
  aliases: readonly string[],
  trans: TranslationBundle
): IServeTarget[] {
  return [
    {
      target: `${name}/${version}`,
      label: `v${version}`,
      note: trans.__('Serves v%1, whatever moves later.', version)
    },
    ...aliases.map(alias => aliasTarget(name, alias, trans))
  ];
}

/** The serve target of an alias. */
export function aliasTarget(
  name: string,
  alias: string,
  trans: TranslationBundle
): IServeTarget {
  return {
    target: `${name}@${alias}`,
    label: `@${alias}`,
    note: trans.__(
      'Follows @%1: when it moves, the server switches to the new version.',
      alias
    )
  };
}

/**
 * The small form that starts a model server for one of `targets` (`churn/3`,
 * `churn@champion`; a choice when there are several): an optional port and whether to
 * record predictions. Starting takes seconds (the server loads the model, then answers):
 * the form shows its progress, then hands the server's record to `onStarted`; a refusal is
 * shown as the server's message, as text.
 */
export function ServeForm(props: {
  /** What it may serve, the first chosen. */
  targets: readonly IServeTarget[];
  /** What the form does, e.g. "Serve churn". */
  title: string;
  servers: ServersModel;
  onStarted: (server: Mlops.IModelServer) => void;
  onCancel: () => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  const [index, setIndex] = useState(0);
  const chosenTarget = props.targets[index] ?? props.targets[0];
  const [port, setPort] = useState('');
  const [record, setRecord] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false;
    },
    []
  );
  const chosen = parsePort(port);
  const badPort = chosen !== null && isNaN(chosen);

  const submit = async () => {
    if (busy || badPort) {
      return;
    }
    setBusy(true);
    setError(null);
    const options: Mlops.IServeOptions = { record };
    if (chosen !== null) {
      options.port = chosen;
    }
    try {
      const server = await props.servers.start(chosenTarget.target, options);
      if (mounted.current) {
        setBusy(false);
        props.onStarted(server);
      }
    } catch (e) {
      if (mounted.current) {
        setBusy(false);
        setError(errorMessage(e));
      }
    }
  };

  return (
    <form
      className="jp-mlops-ReasonForm jp-mlops-ServeForm"
      data-testid="mlops-serve-form"
      data-target={chosenTarget.target}
      onSubmit={event => {
        event.preventDefault();
        void submit();
      }}
    >
      <div className="jp-mlops-ReasonForm-title">{props.title}</div>
      {props.targets.length > 1 && (
        <Field label={trans.__('Serve')}>
          <select
            className="jp-mlops-Select"
            data-testid="mlops-serve-target"
            value={index}
            disabled={busy}
            onChange={event => setIndex(Number(event.target.value))}
          >
            {props.targets.map((t, i) => (
              <option key={t.target} value={i}>
                {t.label}
              </option>
            ))}
          </select>
        </Field>
      )}
      <div className="jp-mlops-Muted">{chosenTarget.note}</div>
      <div className="jp-mlops-ServeForm-fields">
        <Field label={trans.__('Port')}>
          <input
            className="jp-mlops-Input jp-mlops-ServeForm-port"
            data-testid="mlops-serve-port"
            inputMode="numeric"
            placeholder={trans.__('any free port')}
            value={port}
            disabled={busy}
            onChange={event => setPort(event.target.value)}
          />
        </Field>
        <label className="jp-mlops-ServeForm-record">
          <input
            type="checkbox"
            data-testid="mlops-serve-record"
            checked={record}
            disabled={busy}
            onChange={event => setRecord(event.target.checked)}
          />
          <span>{trans.__('Record predictions')}</span>
        </label>
      </div>
      {badPort && (
        <div className="jp-mlops-InlineError" role="alert">
          {trans.__('A port is a whole number from 1 to 65535.')}
        </div>
      )}
      <div className="jp-mlops-ReasonForm-buttons">
        <button
          type="submit"
          className="jp-mlops-Button jp-mod-accept"
          data-testid="mlops-serve-submit"
          disabled={busy || badPort}
        >
          {busy ? trans.__('Starting…') : trans.__('Start server')}
        </button>
        <button
          type="button"
          className="jp-mlops-Button"
          data-testid="mlops-serve-cancel"
          disabled={busy}
          onClick={props.onCancel}
        >
          {trans.__('Cancel')}
        </button>
      </div>
      {busy && (
        <div
          className="jp-mlops-ServeForm-progress"
          role="status"
          data-testid="mlops-serve-starting"
        >
          <div
            className="jp-mlops-StepProgress-bar jp-mlops-ServeForm-bar"
            role="progressbar"
            aria-label={trans.__('Starting the server')}
          >
            <div className="jp-mlops-ServeForm-sweep" />
          </div>
          <span className="jp-mlops-Muted">
            {trans.__(
              'Starting… loading the model, then waiting for it to answer'
            )}
          </span>
        </div>
      )}
      {error && (
        <div
          className="jp-mlops-InlineError"
          role="alert"
          data-testid="mlops-serve-error"
        >
          {error}
        </div>
      )}
    </form>
  );
}
