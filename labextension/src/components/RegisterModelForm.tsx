import React, { useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { RegistryAPI, errorMessage } from '../request';
import { Field } from './ReasonForm';

/**
 * Register a model a run logged (`runs:/<run id>/<model name>`) as the next version of a
 * registered model: a name (the logged model's by default) and a description. Shows the new
 * version's `models:/name/N`, or the server's error, inline. When the run logged two models
 * under one name, `runs:/` would name only one of them: the logged model's id is sent.
 */
export function RegisterModelForm(props: {
  api: RegistryAPI;
  runId: string;
  /** The logged model's name within the run. */
  modelName: string;
  /** The logged model's id, sent instead when its name is not unique in the run. */
  modelId?: string | null;
  onClose: () => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { api, runId, modelName, trans } = props;
  const [name, setName] = useState(modelName);
  const [description, setDescription] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [uri, setUri] = useState<string | null>(null);

  const submit = async () => {
    setBusy(true);
    setError(null);
    setUri(null);
    try {
      const version = await api.register({
        source: props.modelId || `runs:/${runId}/${modelName}`,
        name: name.trim(),
        description: description.trim() || undefined
      });
      setUri(`models:/${version.name}/${version.version}`);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="jp-mlops-RegisterForm"
      data-testid="mlops-register-form"
      onSubmit={event => {
        event.preventDefault();
        if (!busy && name.trim()) {
          void submit();
        }
      }}
    >
      <Field label={trans.__('Registered model')}>
        <input
          className="jp-mlops-Input"
          data-testid="mlops-register-name"
          value={name}
          maxLength={500}
          onChange={event => setName(event.target.value)}
        />
      </Field>
      <Field label={trans.__('Description of this version')}>
        <textarea
          className="jp-mlops-Input jp-mlops-ReasonForm-reason"
          data-testid="mlops-register-description"
          rows={2}
          value={description}
          onChange={event => setDescription(event.target.value)}
        />
      </Field>
      <div className="jp-mlops-ReasonForm-buttons">
        <button
          type="submit"
          className="jp-mlops-Button jp-mod-accept"
          data-testid="mlops-register-submit"
          disabled={busy || !name.trim()}
        >
          {busy ? trans.__('Registering…') : trans.__('Register')}
        </button>
        <button
          type="button"
          className="jp-mlops-Button"
          onClick={props.onClose}
        >
          {uri ? trans.__('Close') : trans.__('Cancel')}
        </button>
      </div>
      {uri && (
        <div className="jp-mlops-Done" role="status">
          {trans.__('Registered as ')}
          <code data-testid="mlops-register-result">{uri}</code>
        </div>
      )}
      {error && (
        <div
          className="jp-mlops-InlineError"
          role="alert"
          data-testid="mlops-register-error"
        >
          {error}
        </div>
      )}
    </form>
  );
}
