import React, { useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatValue } from '../format';

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

/**
 * The pipeline's params as inputs typed after their JSON values, "Force" and Run. Numbers
 * must parse, other JSON (lists, objects, null) is edited as JSON text.
 */
export function PipelineRunForm(props: {
  params: { [key: string]: unknown };
  busy: boolean;
  error: string | null;
  onRun: (params: { [key: string]: unknown }, force: boolean) => void;
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
  const [formError, setFormError] = useState<string | null>(null);

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
    setFormError(null);
    onRun(values, force);
  };

  const shownError = formError ?? error;
  return (
    <form
      className="jp-mlops-RunForm"
      data-testid="mlops-pipeline-run-form"
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
