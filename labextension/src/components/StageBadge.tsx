import React from 'react';

import { Mlops } from '../tokens';

/**
 * A version's stage as a coloured badge (Production, Staging, Archived; None is muted),
 * optionally with the version that holds it (`Production v3`).
 */
export function StageBadge(props: {
  stage: Mlops.Stage | string;
  /** The version in that stage, shown after the stage's name. */
  version?: number | null;
  title?: string;
}): JSX.Element {
  const stage = String(props.stage);
  const text =
    props.version === undefined || props.version === null
      ? stage
      : `${stage} v${props.version}`;
  return (
    <span
      className={`jp-mlops-Pill jp-mlops-Stage jp-mlops-Stage-${stage.toLowerCase()}`}
      title={props.title ?? text}
      data-testid="mlops-stage-badge"
      data-stage={stage}
    >
      {text}
    </span>
  );
}
