import React, { useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatMetric, formatTime, formatValue } from '../format';
import { RegistryAPI, errorMessage } from '../request';
import { Mlops } from '../tokens';
import { useFetched } from './hooks';

type Dict = { [key: string]: unknown };

/** Longest text shown for a part of the lineage the panel does not know. */
const MAX_OTHER = 20_000;
/** Rows shown of a long list (datasets, params, promotions...). */
const MAX_ROWS = 100;

function isDict(value: unknown): value is Dict {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

/** Any value as text (objects as JSON). */
function text(value: unknown): string {
  return formatValue(value);
}

/** The first of `keys` that `sources` hold (and is not null), looked up in order. */
function pick(sources: (Dict | null)[], ...keys: string[]): unknown {
  for (const source of sources) {
    if (!source) {
      continue;
    }
    for (const key of keys) {
      if (source[key] !== undefined && source[key] !== null) {
        return source[key];
      }
    }
  }
  return undefined;
}

/** A path's last part: the notebook's file name (the whole path is in the tooltip). */
function baseName(path: string): string {
  const parts = path.split(/[\\/]/).filter(Boolean);
  return parts.length ? parts[parts.length - 1] : path;
}

function dicts(value: unknown): Dict[] {
  return Array.isArray(value) ? value.filter(isDict) : [];
}

/** `{key: value}` as text values; a list of `{key, value}` pairs is read too. */
function pairs(value: unknown, metric = false): [string, string][] {
  const show = (v: unknown) =>
    metric && (typeof v === 'number' || typeof v === 'string')
      ? formatMetric(v as Mlops.MetricValue)
      : text(v);
  if (isDict(value)) {
    return Object.entries(value)
      .map(([k, v]): [string, string] => [k, show(v)])
      .sort((a, b) => a[0].localeCompare(b[0]));
  }
  return dicts(value).map((d): [string, string] => [
    text(d.key ?? d.name),
    show(d.value)
  ]);
}

/** What the lineage says about the training run, wherever it put it. */
interface IRunFacts {
  id: string;
  name: string;
  experiment: string;
  notebook: string;
  notebookApiPath: string | null;
  cellId: string;
  commit: string;
  dirty: boolean | null;
  user: string;
  start: number | null;
}

function runFacts(lineage: Dict): {
  run: IRunFacts;
  runDict: Dict | null;
  info: Dict | null;
} {
  const runDict = isDict(lineage.run) ? lineage.run : null;
  // A full run record ({info, params, ...}) or its info flattened.
  const info = runDict && isDict(runDict.info) ? runDict.info : runDict;
  // The cell: `cell` or `notebook` ({path, cell_id, ...}), else fields of the run.
  const cell = isDict(lineage.cell)
    ? lineage.cell
    : isDict(lineage.notebook)
      ? lineage.notebook
      : null;
  const git = isDict(lineage.git)
    ? lineage.git
    : isDict(lineage.commit)
      ? lineage.commit
      : null;
  const commit = pick(
    [git, info, lineage],
    'git_commit',
    'commit',
    'sha',
    'hash'
  );
  const dirty = pick([git, info, lineage], 'git_dirty', 'dirty');
  const start = pick([info], 'start_time');
  const api = pick([cell, info, lineage], 'notebook_api_path');
  return {
    runDict,
    info,
    run: {
      id: text(pick([info, lineage], 'id', 'run_id')),
      name: text(pick([info, lineage], 'run_name', 'name')),
      experiment: text(pick([info, lineage], 'experiment_name', 'experiment')),
      notebook: text(
        pick([cell], 'notebook_api_path', 'path', 'notebook_path') ??
          pick([info, lineage], 'notebook_api_path', 'notebook_path') ??
          (typeof lineage.notebook === 'string' ? lineage.notebook : undefined)
      ),
      notebookApiPath: typeof api === 'string' && api ? api : null,
      cellId: text(
        pick([cell], 'cell_id', 'id') ?? pick([info, lineage], 'cell_id')
      ),
      commit: typeof commit === 'string' ? commit : '',
      dirty: typeof dirty === 'boolean' ? dirty : null,
      user: text(pick([info], 'user')),
      start: typeof start === 'number' ? start : null
    }
  };
}

/** The keys read into sections; any other key of the lineage is listed as text. */
const KNOWN = new Set([
  'run',
  'run_id',
  'run_name',
  'experiment',
  'experiment_name',
  'cell',
  'cell_id',
  'notebook',
  'notebook_path',
  'notebook_api_path',
  'git',
  'git_commit',
  'git_dirty',
  'commit',
  'dirty',
  'datasets',
  'inputs',
  'outputs',
  'params',
  'metrics',
  'approvals',
  'promotions',
  'history',
  'version',
  'logged_model',
  'gate_report',
  'served'
]);

function Table(props: {
  testId: string;
  head: string[];
  rows: string[][];
  trans: TranslationBundle;
}): JSX.Element {
  const rows = props.rows.slice(0, MAX_ROWS);
  return (
    <div className="jp-mlops-TableScroll">
      <table className="jp-mlops-Grid" data-testid={props.testId}>
        <thead>
          <tr>
            {props.head.map(h => (
              <th key={h}>{h}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row, i) => (
            <tr key={i}>
              {row.map((cell, j) => (
                <td key={j} title={cell}>
                  {cell}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {props.rows.length > rows.length && (
        <div className="jp-mlops-Muted">
          {props.trans.__('… and %1 more', props.rows.length - rows.length)}
        </div>
      )}
    </div>
  );
}

function Part(props: {
  title: string;
  count?: number;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <div className="jp-mlops-Lineage-part">
      <div className="jp-mlops-Lineage-title">
        {props.title}
        {props.count !== undefined && (
          <span className="jp-mlops-KeyValueTable-count">{props.count}</span>
        )}
      </div>
      {props.children}
    </div>
  );
}

/**
 * Where a version came from: its run (opens the run view), the cell it was trained in (opens
 * the notebook there), the commit, the datasets with their fingerprints, params, metrics,
 * approvals and promotions. The lineage document is read defensively: what is not
 * recognised is listed as text.
 */
export function ModelLineage(props: {
  api: RegistryAPI;
  name: string;
  version: number;
  /** Bumps when the model changed, to read the lineage again. */
  generation?: number;
  onOpenRun: (runId: string, name: string) => void;
  /** Opens a notebook at a cell; no cell link without it. */
  goToCell?: (info: Mlops.IRunInfo) => Promise<void>;
  trans: TranslationBundle;
}): JSX.Element {
  const { api, name, version, trans } = props;
  const { value: lineage, error } = useFetched<Dict>(
    () =>
      api
        .lineage(name, version)
        .then(found => (isDict(found) ? found : { lineage: found })),
    [api, name, version, props.generation]
  );
  const [cellError, setCellError] = useState<string | null>(null);

  if (error) {
    return (
      <div
        className="jp-mlops-InlineError"
        role="alert"
        data-testid="mlops-lineage-error"
      >
        {error}
      </div>
    );
  }
  if (lineage === null) {
    return <div className="jp-mlops-Muted">{trans.__('Loading lineage…')}</div>;
  }

  const { run, runDict } = runFacts(lineage);
  const goToCell = async () => {
    if (!props.goToCell) {
      return;
    }
    setCellError(null);
    try {
      // The run's record says where its notebook is as the lab sees it.
      const info: Mlops.IRunInfo = run.id
        ? (await api.run(run.id)).info
        : ({
            notebook_path: run.notebook || null,
            notebook_api_path: run.notebookApiPath,
            cell_id: run.cellId || null
          } as Mlops.IRunInfo);
      if (!info.notebook_api_path && run.notebookApiPath) {
        info.notebook_api_path = run.notebookApiPath;
      }
      await props.goToCell(info);
    } catch (e) {
      setCellError(errorMessage(e));
    }
  };

  const datasets: Dict[] = [
    ...dicts(pick([lineage, runDict], 'datasets')),
    ...dicts(pick([lineage, runDict], 'inputs')).map(d => ({
      role: 'input',
      ...d
    })),
    ...dicts(pick([lineage, runDict], 'outputs')).map(d => ({
      role: 'output',
      ...d
    }))
  ];
  const versionDict = isDict(lineage.version) ? lineage.version : null;
  const uri = text(versionDict?.uri ?? '');
  const logged = isDict(lineage.logged_model) ? lineage.logged_model : null;
  const gate = isDict(lineage.gate_report) ? lineage.gate_report : null;
  const params = pairs(pick([lineage, runDict], 'params'));
  const metrics = pairs(pick([lineage, runDict], 'metrics'), true);
  const approvals = dicts(lineage.approvals);
  const promotions = dicts(pick([lineage], 'promotions', 'history'));
  const served = dicts(lineage.served);
  const others = Object.entries(lineage).filter(
    ([key, value]) =>
      !KNOWN.has(key) &&
      value !== null &&
      value !== undefined &&
      !(Array.isArray(value) && value.length === 0)
  );
  const commit = run.commit
    ? run.commit.slice(0, 12) +
      (run.dirty
        ? ` ${trans.__('(dirty)')}`
        : run.dirty === false
          ? ` ${trans.__('(clean)')}`
          : '')
    : '';

  return (
    <div className="jp-mlops-Lineage" data-testid="mlops-lineage">
      <table className="jp-mlops-Grid jp-mlops-Lineage-facts">
        <tbody>
          {uri && (
            <tr>
              <th scope="row">{trans.__('URI')}</th>
              <td>
                <code data-testid="mlops-lineage-uri">{uri}</code>
              </td>
            </tr>
          )}
          <tr>
            <th scope="row">{trans.__('Run')}</th>
            <td>
              {run.id ? (
                <button
                  className="jp-mlops-Link"
                  data-testid="mlops-lineage-run"
                  data-run-id={run.id}
                  title={trans.__('Open run %1', run.id)}
                  onClick={() =>
                    props.onOpenRun(run.id, run.name || run.id.slice(0, 8))
                  }
                >
                  {run.name
                    ? `${run.name} (${run.id.slice(0, 8)})`
                    : run.id.slice(0, 8)}
                </button>
              ) : (
                <span className="jp-mlops-Muted">{trans.__('unknown')}</span>
              )}
            </td>
          </tr>
          {run.experiment && (
            <tr>
              <th scope="row">{trans.__('Experiment')}</th>
              <td>{run.experiment}</td>
            </tr>
          )}
          <tr>
            <th scope="row">{trans.__('Cell')}</th>
            <td>
              {run.notebook || run.cellId ? (
                props.goToCell && (run.id || run.notebookApiPath) ? (
                  <button
                    className="jp-mlops-Link"
                    data-testid="mlops-lineage-cell"
                    title={trans.__(
                      'Open %1 at the cell that trained it',
                      run.notebook || trans.__('the notebook')
                    )}
                    onClick={() => void goToCell()}
                  >
                    {run.notebook
                      ? `${baseName(run.notebook)}${run.cellId ? ` · ${trans.__('cell %1', run.cellId.slice(0, 8))}` : ''}`
                      : run.cellId}
                  </button>
                ) : (
                  <span>
                    {[run.notebook, run.cellId].filter(Boolean).join(' · ')}
                  </span>
                )
              ) : (
                <span className="jp-mlops-Muted">
                  {trans.__('not trained in a notebook cell')}
                </span>
              )}
            </td>
          </tr>
          {commit && (
            <tr data-testid="mlops-lineage-commit">
              <th scope="row">{trans.__('Commit')}</th>
              <td title={run.commit}>{commit}</td>
            </tr>
          )}
          {logged && (
            <tr>
              <th scope="row">{trans.__('Model')}</th>
              <td title={text(logged.sha256 ?? '')}>
                {`${text(logged.model_class ?? logged.name)}${
                  logged.flavor ? ` (${text(logged.flavor)})` : ''
                }`}
              </td>
            </tr>
          )}
          {gate && (
            <tr data-testid="mlops-lineage-gates">
              <th scope="row">{trans.__('Gates')}</th>
              <td>
                {`${gate.passed ? trans.__('passed') : trans.__('failed')}${
                  gate.current === false
                    ? ` ${trans.__('(for an older configuration)')}`
                    : ''
                } · ${typeof gate.created_at === 'number' ? formatTime(gate.created_at) : ''}`}
              </td>
            </tr>
          )}
          {run.user && (
            <tr>
              <th scope="row">{trans.__('Trained by')}</th>
              <td>
                {run.start !== null
                  ? `${run.user} · ${formatTime(run.start)}`
                  : run.user}
              </td>
            </tr>
          )}
        </tbody>
      </table>
      {cellError && (
        <div
          className="jp-mlops-InlineError"
          role="alert"
          data-testid="mlops-lineage-cell-error"
        >
          {cellError}
        </div>
      )}
      <Part title={trans.__('Datasets')} count={datasets.length}>
        {datasets.length === 0 ? (
          <div className="jp-mlops-Muted">{trans.__('None recorded.')}</div>
        ) : (
          <Table
            testId="mlops-lineage-datasets"
            head={[
              trans.__('Name'),
              trans.__('Version'),
              trans.__('Role'),
              trans.__('Fingerprint')
            ]}
            rows={datasets.map(d => [
              text(d.name ?? d.ref ?? d.source),
              d.version === undefined || d.version === null
                ? ''
                : `v${text(d.version)}`,
              text(d.role ?? ''),
              text(d.fingerprint ?? d.hash ?? '')
            ])}
            trans={trans}
          />
        )}
      </Part>
      <Part title={trans.__('Params')} count={params.length}>
        {params.length === 0 ? (
          <div className="jp-mlops-Muted">{trans.__('None recorded.')}</div>
        ) : (
          <Table
            testId="mlops-lineage-params"
            head={[trans.__('Param'), trans.__('Value')]}
            rows={params}
            trans={trans}
          />
        )}
      </Part>
      <Part title={trans.__('Metrics')} count={metrics.length}>
        {metrics.length === 0 ? (
          <div className="jp-mlops-Muted">{trans.__('None recorded.')}</div>
        ) : (
          <Table
            testId="mlops-lineage-metrics"
            head={[trans.__('Metric'), trans.__('Value')]}
            rows={metrics}
            trans={trans}
          />
        )}
      </Part>
      <Part title={trans.__('Approvals')} count={approvals.length}>
        {approvals.length === 0 ? (
          <div className="jp-mlops-Muted">{trans.__('None.')}</div>
        ) : (
          <Table
            testId="mlops-lineage-approvals"
            head={[trans.__('By'), trans.__('At'), trans.__('Reason')]}
            rows={approvals.map(a => [
              text(a.actor),
              typeof a.at === 'number' ? formatTime(a.at) : text(a.at),
              text(a.reason ?? '')
            ])}
            trans={trans}
          />
        )}
      </Part>
      <Part title={trans.__('Promotions')} count={promotions.length}>
        {promotions.length === 0 ? (
          <div className="jp-mlops-Muted">{trans.__('None.')}</div>
        ) : (
          <Table
            testId="mlops-lineage-promotions"
            head={[
              trans.__('At'),
              trans.__('By'),
              trans.__('Move'),
              trans.__('Reason')
            ]}
            rows={promotions.map(p => {
              const from = text(pick([p], 'from_value', 'from'));
              const to = text(pick([p], 'to_value', 'to', 'stage'));
              const alias = p.alias ? `@${text(p.alias)} ` : '';
              const forced =
                (p.forced !== null && p.forced !== undefined) ||
                p.action === 'force'
                  ? `${trans.__('forced')}: `
                  : '';
              return [
                typeof p.at === 'number' ? formatTime(p.at) : text(p.at),
                text(p.actor ?? ''),
                `${forced}${alias}${from || '∅'} → ${to || '∅'}`,
                text(p.forced || p.reason || '')
              ];
            })}
            trans={trans}
          />
        )}
      </Part>
      <Part title={trans.__('Served')} count={served.length}>
        {served.length === 0 ? (
          <div className="jp-mlops-Muted">{trans.__('Not served.')}</div>
        ) : (
          <Table
            testId="mlops-lineage-served"
            head={[
              trans.__('Address'),
              trans.__('Follows'),
              trans.__('Since'),
              trans.__('Until')
            ]}
            rows={served.map(s => [
              text(s.url),
              text(s.ref ?? ''),
              typeof s.since === 'number' ? formatTime(s.since) : text(s.since),
              s.serving_now
                ? trans.__('serving now')
                : typeof s.until === 'number'
                  ? formatTime(s.until)
                  : text(s.status ?? '')
            ])}
            trans={trans}
          />
        )}
      </Part>
      {others.map(([key, value]) => {
        const shown =
          isDict(value) || Array.isArray(value)
            ? JSON.stringify(value, null, 1)
            : text(value);
        return (
          <details key={key} className="jp-mlops-Lineage-other">
            <summary>{key}</summary>
            <pre>
              {shown.length > MAX_OTHER
                ? `${shown.slice(0, MAX_OTHER)}…`
                : shown}
            </pre>
          </details>
        );
      })}
    </div>
  );
}
