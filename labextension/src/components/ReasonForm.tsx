import React, { useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

/** A labelled row of a form: the label, then its control (and any note) under it. */
export function Field(props: {
  label: string;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <label className="jp-mlops-ReasonForm-field">
      <span>{props.label}</span>
      {props.children}
    </label>
  );
}

/**
 * The form under a registry action: its own fields (an alias name...), a reason for the
 * audit, and, when the server refused the move, a "Force with reason" box that holds the
 * submit back until a reason is written. Errors are shown inline, as text.
 */
export function ReasonForm(props: {
  /** What the action does, e.g. "Promote v2 to Production". */
  title: string;
  submitLabel: string;
  busy: boolean;
  onSubmit: (reason: string, force: boolean) => void;
  onCancel: () => void;
  /** Fields of the action shown above the reason. */
  children?: React.ReactNode;
  /** Whether the action's own fields are filled in. */
  ready?: boolean;
  /** Offer to force the move (after the server blocked it). */
  allowForce?: boolean;
  /** A short line under the title (what the action will do). */
  note?: string;
  /** Why the last attempt failed, shown under the form. */
  error?: React.ReactNode;
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  const [reason, setReason] = useState('');
  const [force, setForce] = useState(false);
  const forcing = !!props.allowForce && force;
  const needsReason = forcing && reason.trim() === '';
  const canSubmit = !props.busy && props.ready !== false && !needsReason;
  const submit = () => {
    if (canSubmit) {
      props.onSubmit(reason.trim(), forcing);
    }
  };
  return (
    <form
      className="jp-mlops-ReasonForm"
      data-testid="mlops-reason-form"
      onSubmit={event => {
        event.preventDefault();
        submit();
      }}
    >
      <div className="jp-mlops-ReasonForm-title">{props.title}</div>
      {props.note && <div className="jp-mlops-Muted">{props.note}</div>}
      {props.children}
      <Field
        label={forcing ? trans.__('Reason (required)') : trans.__('Reason')}
      >
        <textarea
          className="jp-mlops-Input jp-mlops-ReasonForm-reason"
          data-testid="mlops-reason"
          rows={2}
          maxLength={10000}
          placeholder={trans.__('Why — written on the audit')}
          value={reason}
          onChange={event => setReason(event.target.value)}
          onKeyDown={event => {
            if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
              event.preventDefault();
              submit();
            }
          }}
        />
      </Field>
      {props.allowForce && (
        <label className="jp-mlops-ReasonForm-force">
          <input
            type="checkbox"
            data-testid="mlops-force"
            checked={force}
            onChange={event => setForce(event.target.checked)}
          />
          <span>
            {trans.__('Force with reason (overrides the blockers; audited)')}
          </span>
        </label>
      )}
      {needsReason && (
        <div className="jp-mlops-Muted" data-testid="mlops-force-needs-reason">
          {trans.__('A forced move needs a reason.')}
        </div>
      )}
      <div className="jp-mlops-ReasonForm-buttons">
        <button
          type="submit"
          className={
            'jp-mlops-Button jp-mod-accept' + (forcing ? ' jp-mod-warn' : '')
          }
          data-testid="mlops-action-submit"
          disabled={!canSubmit}
        >
          {props.busy
            ? trans.__('Working…')
            : forcing
              ? trans.__('Force: %1', props.submitLabel)
              : props.submitLabel}
        </button>
        <button
          type="button"
          className="jp-mlops-Button"
          data-testid="mlops-action-cancel"
          onClick={props.onCancel}
        >
          {trans.__('Cancel')}
        </button>
      </div>
      {props.error && (
        <div
          className="jp-mlops-InlineError"
          role="alert"
          data-testid="mlops-action-error"
        >
          {props.error}
        </div>
      )}
    </form>
  );
}
