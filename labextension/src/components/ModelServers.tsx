import React, { useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatCount, formatShortTime, formatTime } from '../format';
import { errorMessage } from '../request';
import { ServersModel } from '../serving';
import { Mlops } from '../tokens';
import {
  ServeForm,
  ServedLine,
  ServerAddress,
  aliasTarget,
  followed,
  isVersionRef
} from './ServeForm';
import { StatusBadge } from './StatusBadge';
import { useSignal } from './hooks';
import { Section } from './parts';

/** Requests per second, as a figure that moves: `0.4`, `12.5`, `1,673`. */
function formatRate(rate: number | undefined): string {
  if (typeof rate !== 'number' || !isFinite(rate)) {
    return '0';
  }
  return rate < 100 ? rate.toFixed(1) : formatCount(Math.round(rate));
}

/** A latency in milliseconds (`1.5 ms`), or a dash before the first request. */
function formatMs(ms: number | null | undefined): string {
  if (typeof ms !== 'number' || !isFinite(ms)) {
    return '–';
  }
  return `${ms < 10 ? ms.toFixed(1) : formatCount(Math.round(ms))} ms`;
}

/**
 * One live server: its status, what it follows and the version answering now, its address,
 * its request rate, p95 latency and request count, who started it when, and Stop (after a
 * confirmation: the requests sent to it afterwards fail).
 */
function ServerItem(props: {
  server: Mlops.IModelServer;
  servers: ServersModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { server, servers, trans } = props;
  const [confirming, setConfirming] = useState(false);
  const [stopping, setStopping] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const stats = server.stats ?? {};
  // A server of a fixed version answers with it: only one that follows says which.
  const fixed = isVersionRef(server.ref);

  const stop = async () => {
    setStopping(true);
    setError(null);
    try {
      await servers.stop(server.id);
    } catch (e) {
      setError(errorMessage(e));
      setStopping(false);
      setConfirming(false);
    }
  };

  return (
    <li
      className="jp-mlops-Server"
      data-testid="mlops-server"
      data-server={server.id}
      data-status={server.status}
      data-version={server.version ?? ''}
    >
      <div className="jp-mlops-Server-line">
        <span
          className="jp-mlops-Server-follows"
          data-testid="mlops-server-follows"
          title={trans.__('Follows %1%2', server.name, server.ref)}
        >
          {followed(server.ref)}
        </span>
        {server.version !== null && !fixed && (
          <span
            className="jp-mlops-Server-version"
            data-testid="mlops-server-version"
            title={trans.__('The version answering now')}
          >
            {`→ v${server.version}`}
          </span>
        )}
        {!confirming && (
          <button
            className="jp-mlops-Button jp-mlops-SmallButton jp-mlops-Server-stop"
            data-testid="mlops-server-stop"
            title={trans.__('Stop this server')}
            disabled={stopping || server.stop_requested}
            onClick={() => setConfirming(true)}
          >
            {stopping || server.stop_requested
              ? trans.__('Stopping…')
              : trans.__('Stop')}
          </button>
        )}
      </div>
      <div className="jp-mlops-Server-line">
        <StatusBadge status={server.status} />
        <ServerAddress server={server} trans={trans} />
      </div>
      <div className="jp-mlops-Server-figures">
        <span
          data-testid="mlops-server-rate"
          data-value={stats.rate ?? 0}
          title={trans.__('Requests per second over the last ten seconds')}
        >
          {trans.__('%1 req/s', formatRate(stats.rate))}
        </span>
        <span
          data-testid="mlops-server-p95"
          title={trans.__(
            '95th percentile latency (median %1)',
            formatMs(stats.p50_ms)
          )}
        >
          {trans.__('p95 %1', formatMs(stats.p95_ms))}
        </span>
        <span
          data-testid="mlops-server-requests"
          data-value={stats.requests ?? 0}
          title={trans.__(
            '%1 errors · %2 rows recorded',
            formatCount(stats.errors ?? 0),
            formatCount(stats.recorded ?? 0)
          )}
        >
          {trans._n(
            '%2 request',
            '%2 requests',
            stats.requests ?? 0,
            formatCount(stats.requests ?? 0)
          )}
        </span>
      </div>
      <div
        className="jp-mlops-Server-meta"
        title={`${formatTime(server.started_at)} · ${server.host} · pid ${server.pid ?? '?'} · ${server.id}`}
      >
        {trans.__(
          'by %1 · %2 · %3',
          server.started_by,
          formatShortTime(server.started_at),
          server.id.slice(0, 8)
        )}
      </div>
      {confirming && (
        <div
          className="jp-mlops-Server-confirm"
          role="alertdialog"
          data-testid="mlops-server-confirm"
        >
          <span>
            {trans.__('Stop this server? Requests sent to it will fail.')}
          </span>
          <span className="jp-mlops-ReasonForm-buttons">
            <button
              className="jp-mlops-Button jp-mod-accept jp-mod-warn"
              data-testid="mlops-server-stop-confirm"
              disabled={stopping}
              onClick={() => void stop()}
            >
              {stopping ? trans.__('Stopping…') : trans.__('Stop server')}
            </button>
            <button
              className="jp-mlops-Button"
              data-testid="mlops-server-stop-cancel"
              disabled={stopping}
              onClick={() => setConfirming(false)}
            >
              {trans.__('Keep running')}
            </button>
          </span>
        </div>
      )}
      {error && (
        <div className="jp-mlops-InlineError" role="alert">
          {error}
        </div>
      )}
    </li>
  );
}

/**
 * The open model's live servers (polled, so their figures move) and a Serve button for each
 * of its aliases: a server started for an alias follows it as it moves.
 */
export function ModelServers(props: {
  name: string;
  aliases: readonly Mlops.IModelAlias[];
  servers: ServersModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { name, servers, trans } = props;
  useSignal(servers.changed);
  const [alias, setAlias] = useState<string | null>(null);
  const [served, setServed] = useState<Mlops.IModelServer | null>(null);
  const list = servers.name === name ? servers.servers : null;
  const aliases = [...props.aliases].sort((a, b) =>
    a.alias.localeCompare(b.alias)
  );

  const choose = (next: string) => {
    setAlias(old => (old === next ? null : next));
    setServed(null);
  };

  return (
    <Section
      title={trans.__('Servers')}
      extra={
        <span
          className="jp-mlops-PipelineSection-sub"
          data-testid="mlops-servers-count"
        >
          {list === null
            ? ''
            : trans._n('%1 running', '%1 running', list.length)}
        </span>
      }
    >
      <div className="jp-mlops-ModelServers" data-testid="mlops-servers">
        {servers.error && (
          <div className="jp-mlops-InlineError" role="alert">
            {servers.error}
          </div>
        )}
        {list === null && !servers.error && (
          <div className="jp-mlops-Muted">{trans.__('Loading servers…')}</div>
        )}
        {list !== null && list.length === 0 && (
          <div className="jp-mlops-Muted" data-testid="mlops-no-servers">
            {trans.__(
              'No server is running. Serve a version (Serve, under its actions) or an alias.'
            )}
          </div>
        )}
        {list !== null && list.length > 0 && (
          <ul className="jp-mlops-ServerList">
            {list.map(s => (
              <ServerItem
                key={s.id}
                server={s}
                servers={servers}
                trans={trans}
              />
            ))}
          </ul>
        )}
        {aliases.length > 0 && (
          <div className="jp-mlops-ServeAliases" role="toolbar">
            <span className="jp-mlops-Muted">{trans.__('Serve')}</span>
            {aliases.map(a => (
              <button
                key={a.alias}
                className={
                  'jp-mlops-Button jp-mlops-SmallButton jp-mlops-ServeAlias' +
                  (alias === a.alias ? ' jp-mod-active' : '')
                }
                data-testid="mlops-serve-alias"
                data-alias={a.alias}
                aria-pressed={alias === a.alias}
                title={trans.__(
                  'Serve @%1 (now v%2), following it as it moves',
                  a.alias,
                  a.version
                )}
                onClick={() => choose(a.alias)}
              >
                {`@${a.alias}`}
              </button>
            ))}
          </div>
        )}
        {alias !== null && (
          <ServeForm
            key={alias}
            targets={[aliasTarget(name, alias, trans)]}
            title={trans.__('Serve %1@%2', name, alias)}
            servers={servers}
            onStarted={server => {
              setAlias(null);
              setServed(server);
            }}
            onCancel={() => setAlias(null)}
            trans={trans}
          />
        )}
        {served && <ServedLine server={served} trans={trans} />}
      </div>
    </Section>
  );
}
