import React from 'react';

import { Mlops } from '../tokens';

/** A run's status as a coloured dot and its name (or only the dot). */
export function StatusBadge(props: {
  status: Mlops.RunStatus | string;
  /** Only the dot (the word is its tooltip), for narrow table columns. */
  compact?: boolean;
}): JSX.Element {
  const status = String(props.status);
  const word = status.toLowerCase();
  return (
    <span
      className={`jp-mlops-Status jp-mlops-Status-${word}`}
      title={status}
      aria-label={props.compact ? word : undefined}
      role={props.compact ? 'img' : undefined}
    >
      <span className="jp-mlops-Status-dot" aria-hidden="true" />
      {!props.compact && <span className="jp-mlops-Status-label">{word}</span>}
    </span>
  );
}
