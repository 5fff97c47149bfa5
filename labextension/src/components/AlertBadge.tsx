import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { Mlops } from '../tokens';

/** The words of the alert levels (translated where shown). */
export function levelText(level: string, trans: TranslationBundle): string {
  switch (level) {
    case 'alert':
      return trans.__('alert');
    case 'warn':
      return trans.__('warn');
    case 'ok':
      return trans.__('ok');
    default:
      return level;
  }
}

/**
 * A monitoring rule's state (or a model's loudest) as a coloured pill: ok green, warn
 * amber, alert red.
 */
export function AlertBadge(props: {
  state: Mlops.AlertLevel | string;
  /** Shown instead of the state's word. */
  label?: string;
  title?: string;
  trans: TranslationBundle;
}): JSX.Element {
  const { state, trans } = props;
  const known = (Mlops.ALERT_LEVELS as readonly string[]).includes(state)
    ? state
    : 'unknown';
  return (
    <span
      className={`jp-mlops-Pill jp-mlops-Alert jp-mlops-Alert-${known}`}
      data-testid="mlops-alert-badge"
      data-state={state}
      title={props.title ?? levelText(state, trans)}
    >
      {props.label ?? levelText(state, trans)}
    </span>
  );
}
