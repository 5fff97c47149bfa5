import React, {
  useCallback,
  useEffect,
  useMemo,
  useRef,
  useState
} from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { PipelinesAPI } from '../pipelines';
import { ApiError, errorMessage } from '../request';
import { Mlops } from '../tokens';
import { PipelineDag } from './PipelineDag';
import { PipelineRunForm } from './PipelineRunForm';
import { PipelineRunHistory, pipelineRunDuration } from './PipelineRunHistory';
import { PipelineSteps } from './PipelineSteps';
import { ScheduleList } from './ScheduleList';
import { StatusBadge } from './StatusBadge';
import { RefreshButton, Section, pickable } from './parts';

/** A launched run's record may appear this long after the launch reply (404 until then). */
const LAUNCH_GRACE_MS = 8000;
/** How often the selected run is fetched while it runs. */
const POLL_MS = 1000;
/** How often the history is fetched while one of its runs is still running. */
const HISTORY_POLL_MS = 4000;

/** What the Pipelines tab needs from the lab. */
export interface IPipelineActions {
  /** Open a run (a step's tracked run) in the run view. */
  openRun: (runId: string, name: string) => void;
  /** Open a notebook by its server path, reloading it from disk if already open. */
  openNotebook?: (path: string) => Promise<void>;
  /** Open a URL in a new browser tab (the executed notebook, as a download). */
  openUrl?: (url: string) => void;
}

/** The pipelines of the workspace; the selected one's graph, runs and schedules. */
export function PipelinesTab(props: {
  api: PipelinesAPI;
  actions: IPipelineActions;
  trans: TranslationBundle;
}): JSX.Element {
  const { api, actions, trans } = props;
  const [pipelines, setPipelines] = useState<Mlops.IPipeline[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);

  const load = useCallback(async () => {
    try {
      const found = await api.pipelines();
      setPipelines(found);
      setError(null);
      // Keep the selection while it exists; a lone pipeline is selected by itself.
      setSelected(old =>
        old !== null && found.some(p => p.path === old)
          ? old
          : found.length === 1
            ? found[0].path
            : null
      );
    } catch (e) {
      setPipelines(old => old ?? []);
      setError(errorMessage(e));
    }
  }, [api]);

  useEffect(() => {
    void load();
  }, [load]);

  const pipeline = pipelines?.find(p => p.path === selected) ?? null;
  const countText =
    pipelines === null
      ? trans.__('Loading…')
      : trans._n('%1 pipeline', '%1 pipelines', pipelines.length);
  return (
    <div className="jp-mlops-PipelinesTab" data-testid="mlops-pipelines-tab">
      <div className="jp-mlops-ExperimentsTab-toolbar">
        <span className="jp-mlops-ExperimentsTab-count">{countText}</span>
        <RefreshButton
          title={trans.__('Look for pipelines again')}
          testId="mlops-pipelines-refresh"
          onClick={() => void load()}
          trans={trans}
        />
      </div>
      {error && (
        <div className="jp-mlops-Error" role="alert">
          {error}
        </div>
      )}
      <div className="jp-mlops-PipelinesTab-scroll">
        {pipelines !== null && pipelines.length === 0 && !error && (
          <div className="jp-mlops-Muted jp-mlops-PipelinesTab-empty">
            {trans.__(
              'No pipeline.yaml found under the folder this server serves.'
            )}
          </div>
        )}
        {pipelines !== null && pipelines.length > 0 && (
          <ul className="jp-mlops-PipelineList" role="listbox">
            {pipelines.map(p => (
              <li
                key={p.path}
                role="option"
                {...pickable(
                  'jp-mlops-PipelineList-item',
                  p.path === selected,
                  () => setSelected(p.path)
                )}
                data-testid="mlops-pipeline"
                data-path={p.path}
                title={p.path}
              >
                <span className="jp-mlops-PipelineList-name">{p.name}</span>
                <span className="jp-mlops-PipelineList-info">
                  {p.errors.length
                    ? trans._n('%1 error', '%1 errors', p.errors.length)
                    : trans._n('%1 step', '%1 steps', p.steps.length)}
                </span>
              </li>
            ))}
          </ul>
        )}
        {pipeline && (
          <PipelineDetail
            key={pipeline.path}
            api={api}
            pipeline={pipeline}
            actions={actions}
            trans={trans}
          />
        )}
      </div>
    </div>
  );
}

/** A run as it looks the moment it is launched, until its record arrives. */
function placeholderRun(
  runId: string,
  pipeline: Mlops.IPipeline,
  params: { [key: string]: unknown }
): Mlops.IPipelineRun {
  return {
    run_id: runId,
    pipeline: pipeline.name,
    path: pipeline.path,
    status: 'RUNNING',
    start_time: Date.now(),
    end_time: null,
    duration: null,
    trigger: 'manual',
    params,
    steps: pipeline.steps.map(s => ({
      name: s.name,
      status: 'PENDING',
      run_id: null,
      attempts: 0,
      duration: null,
      progress: null,
      failed_cell: null,
      error_name: null,
      error_value: null,
      traceback: null,
      notebook_api_path: null,
      has_artifact: false,
      cached_from: null
    }))
  };
}

/** The history with a freshly fetched run put in its place (or first, if it is new). */
function mergeRun(
  runs: Mlops.IPipelineRun[] | null,
  run: Mlops.IPipelineRun
): Mlops.IPipelineRun[] | null {
  if (runs === null) {
    return runs;
  }
  const at = runs.findIndex(r => r.run_id === run.run_id);
  if (at < 0) {
    return [run, ...runs];
  }
  const next = runs.slice();
  next[at] = run;
  return next;
}

function PipelineDetail(props: {
  api: PipelinesAPI;
  pipeline: Mlops.IPipeline;
  actions: IPipelineActions;
  trans: TranslationBundle;
}): JSX.Element {
  const { api, pipeline, actions, trans } = props;
  const [runs, setRuns] = useState<Mlops.IPipelineRun[] | null>(null);
  const [historyError, setHistoryError] = useState<string | null>(null);
  const [selectedId, setSelectedId] = useState<string | null>(null);
  const [run, setRun] = useState<Mlops.IPipelineRun | null>(null);
  const [runError, setRunError] = useState<string | null>(null);
  const [launching, setLaunching] = useState(false);
  const [launchError, setLaunchError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  /** When the selected run was launched from here (its record may lag). */
  const launchedAt = useRef<number>(0);

  const loadRuns = useCallback(async () => {
    try {
      const found = await api.runs(pipeline.path, 20);
      setRuns(found);
      setHistoryError(null);
    } catch (e) {
      setRuns(old => old ?? []);
      setHistoryError(errorMessage(e));
    }
  }, [api, pipeline.path]);

  useEffect(() => {
    void loadRuns();
  }, [loadRuns]);

  // Keep the history fresh while one of its runs runs (scheduled runs included).
  const anyRunning = !!runs?.some(r => r.status === 'RUNNING');
  useEffect(() => {
    if (!anyRunning) {
      return;
    }
    const timer = window.setInterval(() => void loadRuns(), HISTORY_POLL_MS);
    return () => window.clearInterval(timer);
  }, [anyRunning, loadRuns]);

  // Fetch the selected run, every second while it runs, through the 404s of a fresh launch.
  useEffect(() => {
    if (selectedId === null) {
      return;
    }
    let cancelled = false;
    let timer: number | undefined;
    let sawRunning = false;
    const tick = async () => {
      try {
        const fresh = await api.run(selectedId);
        if (cancelled) {
          return;
        }
        setRun(fresh);
        setRunError(null);
        setRuns(old => mergeRun(old, fresh));
        if (fresh.status === 'RUNNING') {
          sawRunning = true;
          timer = window.setTimeout(() => void tick(), POLL_MS);
        } else if (sawRunning) {
          void loadRuns();
        }
      } catch (e) {
        if (cancelled) {
          return;
        }
        if (
          e instanceof ApiError &&
          e.status === 404 &&
          Date.now() - launchedAt.current < LAUNCH_GRACE_MS
        ) {
          timer = window.setTimeout(() => void tick(), POLL_MS);
          return;
        }
        setRunError(errorMessage(e));
      }
    };
    void tick();
    return () => {
      cancelled = true;
      window.clearTimeout(timer);
    };
  }, [api, selectedId, loadRuns]);

  const select = (picked: Mlops.IPipelineRun) => {
    launchedAt.current = 0;
    setRun(picked);
    setRunError(null);
    setActionError(null);
    setSelectedId(picked.run_id);
  };

  const launch = async (
    start: () => Promise<string>,
    params: { [key: string]: unknown },
    setError: (message: string | null) => void
  ) => {
    setLaunching(true);
    setError(null);
    try {
      const runId = await start();
      launchedAt.current = Date.now();
      setRun(placeholderRun(runId, pipeline, params));
      setRunError(null);
      setSelectedId(runId);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setLaunching(false);
    }
  };

  const states = useMemo(
    () => (run ? new Map(run.steps.map(s => [s.name, s])) : null),
    [run]
  );

  const canOpenNotebook = (step: Mlops.IStepState) =>
    (!!step.notebook_api_path && !!actions.openNotebook) ||
    (step.has_artifact && !!step.run_id);

  const openNotebook = (step: Mlops.IStepState) => {
    setActionError(null);
    if (step.notebook_api_path && actions.openNotebook) {
      actions
        .openNotebook(step.notebook_api_path)
        .catch(e => setActionError(errorMessage(e)));
    } else if (step.has_artifact && step.run_id) {
      const url = api.artifactUrl(step.run_id, step.name);
      if (actions.openUrl) {
        actions.openUrl(url);
      } else {
        window.open(url, '_blank', 'noopener');
      }
    }
  };

  // A click on a node of a run's graph shows that step in the list below.
  const detail = useRef<HTMLDivElement>(null);
  const showStep = (name: string) => {
    const row = [
      ...(detail.current?.querySelectorAll<HTMLElement>(
        '[data-testid="mlops-step"]'
      ) ?? [])
    ].find(el => el.dataset.step === name);
    if (row) {
      row.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
      row.classList.remove('jp-mod-flash');
      void row.offsetWidth; // restart the animation
      row.classList.add('jp-mod-flash');
    }
  };

  // A failed run's own error, unless a failed step tells it (the executor never started...).
  const runFailure =
    run &&
    run.status !== 'RUNNING' &&
    run.error_value &&
    !run.steps.some(s => s.error_name || s.error_value)
      ? run.error_value
      : null;

  const hasErrors = pipeline.errors.length > 0;
  return (
    <div
      className="jp-mlops-Pipeline"
      data-testid="mlops-pipeline-detail"
      ref={detail}
    >
      <Section
        title={pipeline.name}
        extra={
          <span className="jp-mlops-PipelineSection-path" title={pipeline.path}>
            {pipeline.path}
          </span>
        }
      >
        <PipelineDag
          steps={pipeline.steps}
          states={states}
          onSelectStep={run ? showStep : undefined}
          trans={trans}
        />
        {hasErrors ? (
          <ul
            className="jp-mlops-PipelineErrors"
            role="alert"
            data-testid="mlops-pipeline-errors"
          >
            {pipeline.errors.map((line, i) => (
              <li key={i}>{line}</li>
            ))}
          </ul>
        ) : (
          <PipelineRunForm
            params={pipeline.params}
            busy={launching}
            error={launchError}
            onRun={(params, force, options) =>
              void launch(
                () =>
                  api.launch({
                    path: pipeline.path,
                    params,
                    force,
                    ...options
                  }),
                params,
                setLaunchError
              )
            }
            trans={trans}
          />
        )}
      </Section>
      <Section
        title={trans.__('Runs')}
        extra={
          <RefreshButton
            testId="mlops-pipeline-runs-refresh"
            onClick={() => void loadRuns()}
            trans={trans}
          />
        }
      >
        {historyError && (
          <div className="jp-mlops-InlineError" role="alert">
            {historyError}
          </div>
        )}
        <PipelineRunHistory
          runs={runs}
          selected={selectedId}
          onSelect={select}
          trans={trans}
        />
      </Section>
      {run && (
        <Section
          title={trans.__('Run %1', run.run_id.slice(0, 8))}
          extra={
            <span className="jp-mlops-PipelineSection-sub">
              <StatusBadge status={run.status} />
              <span>{pipelineRunDuration(run)}</span>
            </span>
          }
        >
          {runError && (
            <div className="jp-mlops-InlineError" role="alert">
              {runError}
            </div>
          )}
          {runFailure && (
            <div
              className="jp-mlops-StepError jp-mlops-Pipeline-failure"
              data-testid="mlops-pipeline-run-failure"
            >
              <div className="jp-mlops-StepError-title">{runFailure}</div>
            </div>
          )}
          {(run.status === 'FAILED' || run.status === 'KILLED') && (
            <div className="jp-mlops-Pipeline-resume">
              <button
                className="jp-mlops-Button"
                data-testid="mlops-resume-button"
                disabled={launching}
                title={trans.__(
                  'Run again from the failed step, reusing the steps that finished'
                )}
                onClick={() =>
                  void launch(
                    () => api.resume(run.run_id),
                    run.params,
                    setActionError
                  )
                }
              >
                {trans.__('Re-run from failed step')}
              </button>
            </div>
          )}
          {actionError && (
            <div className="jp-mlops-InlineError" role="alert">
              {actionError}
            </div>
          )}
          <PipelineSteps
            run={run}
            canOpenNotebook={canOpenNotebook}
            onOpenNotebook={openNotebook}
            onOpenRun={step =>
              step.run_id &&
              actions.openRun(step.run_id, `${run.pipeline} · ${step.name}`)
            }
            trans={trans}
          />
        </Section>
      )}
      <Section title={trans.__('Schedules & triggers')}>
        <ScheduleList api={api} path={pipeline.path} trans={trans} />
      </Section>
    </div>
  );
}
