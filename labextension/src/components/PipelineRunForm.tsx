import React, { useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatValue } from '../format';
import { Mlops } from '../tokens';

function byName<T>(
  names: string[],
  value: (name: string) => T
): {
  [key: string]: T;
} {
  const out: { [key: string]: T } = {};
  names.forEach(n => (out[n] = value(n)));
  return out;
}

type ParamKind = 'number' | 'boolean' | 'string' | 'json';

function kindOf(value: unknown): ParamKind {
  if (typeof value === 'number') {
    return 'number';
  }
  if (typeof value === 'boolean') {
    return 'boolean';
  }
  if (typeof value === 'string') {
    return 'string';
  }
  return 'json';
}

function initialText(value: unknown): string {
  const kind = kindOf(value);
  if (kind === 'json') {
    return JSON.stringify(value ?? null);
  }
  return kind === 'string' ? (value as string) : formatValue(value);
}

/** The run option a client-side check refused, to mark and unfold. */
type BadOption = 'workers' | 'address' | null;

/** `text` as a worker count, or null unless a whole number from 1 to MAX_WORKERS. */
function parseWorkers(text: string): number | null {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) {
    return null;
  }
  const n = Number(trimmed);
  return n >= 1 && n <= Mlops.MAX_WORKERS ? n : null;
}

/**
 * The pipeline's params as inputs typed after their JSON values, the run options (folded:
 * executor, workers or Dask scheduler), "Force" and Run. Numbers must parse, other JSON
 * (lists, objects, null) is edited as JSON text.
 */
export function PipelineRunForm(props: {
  params: { [key: string]: unknown };
  busy: boolean;
  error: string | null;
  onRun: (
    params: { [key: string]: unknown },
    force: boolean,
    options: Mlops.IRunOptions
  ) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { params, busy, error, onRun, trans } = props;
  const names = Object.keys(params);
  const [texts, setTexts] = useState<{ [key: string]: string }>(() =>
    byName(names, n => initialText(params[n]))
  );
  const [flags, setFlags] = useState<{ [key: string]: boolean }>(() =>
    byName(
      names.filter(n => kindOf(params[n]) === 'boolean'),
      n => !!params[n]
    )
  );
  const [force, setForce] = useState(false);
  const [executor, setExecutor] = useState<Mlops.Executor>('local');
  const [workers, setWorkers] = useState(String(Mlops.DEFAULT_WORKERS));
  const [address, setAddress] = useState('');
  const [optionsOpen, setOptionsOpen] = useState(false);
  const [badOption, setBadOption] = useState<BadOption>(null);
  const [formError, setFormError] = useState<string | null>(null);

  /** The run options, or why not (and which input is wrong). */
  const runOptions = ():
    | { ok: true; options: Mlops.IRunOptions }
    | { ok: false; bad: BadOption; message: string } => {
    if (executor === 'dask') {
      const where = address.trim();
      if (!where) {
        return {
          ok: false,
          bad: 'address',
          message: trans.__(
            'The dask executor needs a scheduler address, e.g. tcp://host:8786.'
          )
        };
      }
      return {
        ok: true,
        options: { executor, scheduler_address: where, max_workers: null }
      };
    }
    const n = parseWorkers(workers);
    if (n === null) {
      return {
        ok: false,
        bad: 'workers',
        message: trans.__(
          'Workers must be a whole number from 1 to %1.',
          Mlops.MAX_WORKERS
        )
      };
    }
    return {
      ok: true,
      options: { executor, scheduler_address: null, max_workers: n }
    };
  };

  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    const values: { [key: string]: unknown } = {};
    for (const name of names) {
      const kind = kindOf(params[name]);
      const text = texts[name] ?? '';
      if (kind === 'boolean') {
        values[name] = flags[name] ?? false;
      } else if (kind === 'number') {
        const n = Number(text);
        if (text.trim() === '' || !isFinite(n)) {
          setFormError(trans.__('%1 must be a number.', name));
          return;
        }
        values[name] = n;
      } else if (kind === 'json') {
        try {
          values[name] = JSON.parse(text);
        } catch {
          setFormError(trans.__('%1 must be JSON.', name));
          return;
        }
      } else {
        values[name] = text;
      }
    }
    const checked = runOptions();
    if (!checked.ok) {
      setBadOption(checked.bad);
      setOptionsOpen(true);
      setFormError(checked.message);
      return;
    }
    setBadOption(null);
    setFormError(null);
    onRun(values, force, checked.options);
  };

  /** An edit of the input a check refused (or of the executor) takes its message away. */
  const edited = (option: BadOption | 'executor') => {
    if (badOption !== null && (option === badOption || option === 'executor')) {
      setBadOption(null);
      setFormError(null);
    }
  };

  // What the folded options say: the executor, and its workers or scheduler.
  const workerCount = parseWorkers(workers);
  const optionsHint =
    executor === 'dask'
      ? [trans.__('dask'), address.trim()].filter(Boolean).join(' · ')
      : workerCount !== null
        ? trans._n('local · %1 worker', 'local · %1 workers', workerCount)
        : trans.__('local');

  const shownError = formError ?? error;
  return (
    <form
      className="jp-mlops-RunForm"
      data-testid="mlops-pipeline-run-form"
      noValidate
      onSubmit={submit}
    >
      {names.length > 0 && (
        <div className="jp-mlops-RunForm-params">
          {names.map(name => {
            const kind = kindOf(params[name]);
            const id = `jp-mlops-param-${name}`;
            return (
              <label key={name} className="jp-mlops-RunForm-param" htmlFor={id}>
                <span className="jp-mlops-RunForm-name" title={name}>
                  {name}
                </span>
                {kind === 'boolean' ? (
                  <input
                    id={id}
                    type="checkbox"
                    data-testid="mlops-pipeline-param"
                    data-name={name}
                    checked={flags[name] ?? false}
                    onChange={e =>
                      setFlags(old => ({ ...old, [name]: e.target.checked }))
                    }
                  />
                ) : (
                  <input
                    id={id}
                    className="jp-mlops-Input"
                    type={kind === 'number' ? 'number' : 'text'}
                    step={kind === 'number' ? 'any' : undefined}
                    data-testid="mlops-pipeline-param"
                    data-name={name}
                    value={texts[name] ?? ''}
                    onChange={e =>
                      setTexts(old => ({ ...old, [name]: e.target.value }))
                    }
                  />
                )}
              </label>
            );
          })}
        </div>
      )}
      <details
        className="jp-mlops-RunForm-options"
        data-testid="mlops-pipeline-run-options"
        open={optionsOpen}
        onToggle={e => setOptionsOpen((e.target as HTMLDetailsElement).open)}
      >
        <summary title={trans.__('Where and how the steps run')}>
          {trans.__('Run options')}
          <span
            className="jp-mlops-RunForm-hint"
            data-testid="mlops-pipeline-run-options-hint"
          >
            {optionsHint}
          </span>
        </summary>
        <div className="jp-mlops-RunForm-params">
          <label className="jp-mlops-RunForm-param">
            <span className="jp-mlops-RunForm-label">
              {trans.__('Executor')}
            </span>
            <select
              className="jp-mlops-Select"
              data-testid="mlops-pipeline-executor"
              title={trans.__(
                'local: kernels started by this server, a few at a time; dask: each step a task on a Dask cluster'
              )}
              value={executor}
              onChange={e => {
                setExecutor(e.target.value as Mlops.Executor);
                edited('executor');
              }}
            >
              <option value="local">{trans.__('local')}</option>
              <option value="dask">{trans.__('dask')}</option>
            </select>
          </label>
          {executor === 'dask' ? (
            <label className="jp-mlops-RunForm-param">
              <span className="jp-mlops-RunForm-label">
                {trans.__('Scheduler')}
              </span>
              <input
                className="jp-mlops-Input jp-mlops-RunForm-address"
                type="text"
                data-testid="mlops-pipeline-scheduler-address"
                placeholder={trans.__('tcp://host:8786')}
                spellCheck={false}
                autoComplete="off"
                title={trans.__(
                  "The Dask scheduler's address; its workers must see the same notebooks and store"
                )}
                aria-invalid={badOption === 'address'}
                value={address}
                onChange={e => {
                  setAddress(e.target.value);
                  edited('address');
                }}
              />
            </label>
          ) : (
            <label className="jp-mlops-RunForm-param">
              <span className="jp-mlops-RunForm-label">
                {trans.__('Workers')}
              </span>
              <input
                className="jp-mlops-Input jp-mlops-RunForm-workers"
                type="number"
                min={1}
                max={Mlops.MAX_WORKERS}
                step={1}
                data-testid="mlops-pipeline-workers"
                title={trans.__(
                  'Steps that run at once (1 to %1)',
                  Mlops.MAX_WORKERS
                )}
                aria-invalid={badOption === 'workers'}
                value={workers}
                onChange={e => {
                  setWorkers(e.target.value);
                  edited('workers');
                }}
              />
            </label>
          )}
        </div>
      </details>
      <div className="jp-mlops-RunForm-actions">
        <label
          className="jp-mlops-RunForm-force"
          title={trans.__(
            'Run every step, even those whose cached result is valid'
          )}
        >
          <input
            type="checkbox"
            data-testid="mlops-pipeline-force"
            checked={force}
            onChange={e => setForce(e.target.checked)}
          />
          {trans.__('Force (ignore cache)')}
        </label>
        <button
          type="submit"
          className="jp-mlops-Button jp-mod-accept"
          data-testid="mlops-pipeline-run-button"
          disabled={busy}
        >
          {busy ? trans.__('Starting…') : trans.__('Run')}
        </button>
      </div>
      {shownError && (
        <div
          className="jp-mlops-InlineError"
          role="alert"
          data-testid="mlops-pipeline-run-error"
        >
          {shownError}
        </div>
      )}
    </form>
  );
}
