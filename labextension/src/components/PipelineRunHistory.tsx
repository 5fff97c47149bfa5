import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatDuration, formatShortTime, formatTime } from '../format';
import { Mlops } from '../tokens';
import { StatusBadge } from './StatusBadge';
import { pickable } from './parts';

/** `manual`, `schedule:<id>`, `event:<id>` as a word for the table. */
export function triggerLabel(
  trigger: string,
  trans: TranslationBundle
): string {
  const [kind] = trigger.split(':', 1);
  switch (kind) {
    case 'manual':
      return trans.__('manual');
    case 'schedule':
      return trans.__('schedule');
    case 'event':
      return trans.__('event');
    default:
      return trigger;
  }
}

/** A pipeline run's duration: recorded, or so far while it runs. */
export function pipelineRunDuration(run: Mlops.IPipelineRun): string {
  if (run.duration !== null && run.duration !== undefined) {
    return formatDuration(run.duration * 1000);
  }
  if (run.end_time !== null) {
    return formatDuration(run.end_time - run.start_time);
  }
  return run.status === 'RUNNING'
    ? `${formatDuration(Date.now() - run.start_time)}…`
    : '';
}

/** One coloured chip per step, in pipeline order. */
export function StepStrip(props: {
  steps: readonly Mlops.IStepState[];
}): JSX.Element {
  return (
    <span className="jp-mlops-StepStrip">
      {props.steps.map(step => (
        <span
          key={step.name}
          className={`jp-mlops-StepChip jp-mlops-StepChip-${step.status.toLowerCase()}`}
          data-step={step.name}
          data-status={step.status}
          title={`${step.name}: ${step.status}`}
          role="img"
          aria-label={`${step.name}: ${step.status}`}
        />
      ))}
    </span>
  );
}

/** The pipeline's last runs, newest first; a click selects one. */
export function PipelineRunHistory(props: {
  runs: readonly Mlops.IPipelineRun[] | null;
  selected: string | null;
  onSelect: (run: Mlops.IPipelineRun) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { runs, selected, onSelect, trans } = props;
  if (runs === null) {
    return <div className="jp-mlops-Muted">{trans.__('Loading…')}</div>;
  }
  if (runs.length === 0) {
    return (
      <div className="jp-mlops-Muted">
        {trans.__('No runs of this pipeline yet.')}
      </div>
    );
  }
  return (
    <ul className="jp-mlops-PipelineRuns" role="listbox">
      {runs.map(run => (
        <li
          key={run.run_id}
          role="option"
          {...pickable(
            'jp-mlops-PipelineRuns-row',
            run.run_id === selected,
            () => onSelect(run)
          )}
          data-testid="mlops-pipeline-run"
          data-run-id={run.run_id}
          data-status={run.status}
          title={trans.__(
            'Run %1, started %2',
            run.run_id.slice(0, 8),
            formatTime(run.start_time)
          )}
        >
          <span className="jp-mlops-PipelineRuns-line">
            <StatusBadge status={run.status} compact />
            <span className="jp-mlops-PipelineRuns-time">
              {formatShortTime(run.start_time)}
            </span>
            <span className="jp-mlops-PipelineRuns-duration">
              {pipelineRunDuration(run)}
            </span>
            <span className="jp-mlops-PipelineRuns-trigger" title={run.trigger}>
              {triggerLabel(run.trigger, trans)}
            </span>
          </span>
          <StepStrip steps={run.steps} />
        </li>
      ))}
    </ul>
  );
}
