import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatDuration } from '../format';
import { Mlops } from '../tokens';
import { StatusBadge } from './StatusBadge';

/** Terminal colour codes, as kernels put them in tracebacks. */
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** A running step's place in its notebook: a bar, "cell 3 of 10" and the cell's first line. */
function StepProgress(props: {
  progress: Mlops.IStepProgress | null;
  trans: TranslationBundle;
}): JSX.Element {
  const { progress, trans } = props;
  // `cell` is 0-based: cell 0 of 10 runs the first cell, shown as "cell 1 of 10".
  const fraction =
    progress && progress.cells > 0
      ? Math.min(1, Math.max(0, (progress.cell + 1) / progress.cells))
      : 0;
  return (
    <div className="jp-mlops-StepProgress" data-testid="mlops-step-progress">
      <div
        className="jp-mlops-StepProgress-bar"
        role="progressbar"
        aria-valuemin={0}
        aria-valuemax={progress?.cells ?? 0}
        aria-valuenow={progress ? progress.cell + 1 : 0}
      >
        <div
          className="jp-mlops-StepProgress-fill"
          style={{ width: `${Math.round(fraction * 100)}%` }}
        />
      </div>
      <div className="jp-mlops-StepProgress-text">
        {progress
          ? trans.__('cell %1 of %2', progress.cell + 1, progress.cells)
          : trans.__('starting…')}
      </div>
      {progress?.source && (
        <code className="jp-mlops-StepProgress-source" title={progress.source}>
          {progress.source}
        </code>
      )}
    </div>
  );
}

/** Where and why a step failed, the traceback folded. */
function StepError(props: {
  step: Mlops.IStepState;
  trans: TranslationBundle;
}): JSX.Element {
  const { step, trans } = props;
  const where =
    step.failed_cell !== null && step.failed_cell !== undefined
      ? trans.__('Cell %1', step.failed_cell + 1)
      : '';
  const what = [step.error_name, step.error_value].filter(Boolean).join(': ');
  return (
    <div className="jp-mlops-StepError" data-testid="mlops-step-error">
      <div className="jp-mlops-StepError-title">
        {[where, what || trans.__('failed')].filter(Boolean).join(' · ')}
      </div>
      {step.traceback && (
        <details className="jp-mlops-StepError-traceback">
          <summary>{trans.__('Traceback')}</summary>
          <pre>{stripAnsi(step.traceback)}</pre>
        </details>
      )}
    </div>
  );
}

/** The steps of one pipeline run: status, attempts, duration, progress or error, links. */
export function PipelineSteps(props: {
  run: Mlops.IPipelineRun;
  onOpenNotebook: (step: Mlops.IStepState) => void;
  canOpenNotebook: (step: Mlops.IStepState) => boolean;
  onOpenRun: (step: Mlops.IStepState) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { run, onOpenNotebook, canOpenNotebook, onOpenRun, trans } = props;
  return (
    <ul className="jp-mlops-Steps">
      {run.steps.map(step => (
        <li
          key={step.name}
          className="jp-mlops-Step"
          data-testid="mlops-step"
          data-step={step.name}
          data-status={step.status}
        >
          <div className="jp-mlops-Step-header">
            <StatusBadge status={step.status} compact />
            <span className="jp-mlops-Step-name" title={step.name}>
              {step.name}
            </span>
            <span className="jp-mlops-Step-meta">
              {[
                step.status.toLowerCase(),
                step.attempts > 1 ? trans.__('%1 attempts', step.attempts) : '',
                step.duration !== null && step.duration !== undefined
                  ? formatDuration(step.duration * 1000)
                  : ''
              ]
                .filter(Boolean)
                .join(' · ')}
            </span>
          </div>
          {step.status === 'RUNNING' && (
            <StepProgress progress={step.progress} trans={trans} />
          )}
          {(step.status === 'FAILED' ||
            (step.status === 'KILLED' && step.error_name)) && (
            <StepError step={step} trans={trans} />
          )}
          {step.status === 'CACHED' && step.cached_from && (
            <div className="jp-mlops-Muted jp-mlops-Step-note">
              {trans.__('Reused from run %1', step.cached_from.slice(0, 8))}
            </div>
          )}
          {(canOpenNotebook(step) || step.run_id) && (
            <div className="jp-mlops-Step-actions">
              {canOpenNotebook(step) && (
                <button
                  className="jp-mlops-Button jp-mlops-SmallButton"
                  data-testid="mlops-step-open-notebook"
                  title={
                    step.notebook_api_path
                      ? trans.__('Open %1', step.notebook_api_path)
                      : trans.__('Download the executed notebook')
                  }
                  onClick={() => onOpenNotebook(step)}
                >
                  {trans.__('Open notebook')}
                </button>
              )}
              {step.run_id && (
                <button
                  className="jp-mlops-Button jp-mlops-SmallButton"
                  data-testid="mlops-step-open-run"
                  title={trans.__('Open run %1', step.run_id.slice(0, 8))}
                  onClick={() => onOpenRun(step)}
                >
                  {trans.__('Open run')}
                </button>
              )}
            </div>
          )}
        </li>
      ))}
    </ul>
  );
}
