import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { API_NAMESPACE, query, requestAPI } from './request';
import { Mlops } from './tokens';

/** The pipeline and schedule routes of the REST API, typed. */
export class PipelinesAPI {
  constructor(
    readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  async pipelines(): Promise<Mlops.IPipeline[]> {
    const reply = await requestAPI<Mlops.IPipelinesReply>(
      'pipelines',
      {},
      this.settings
    );
    return reply.pipelines;
  }

  async runs(path: string, limit = 20): Promise<Mlops.IPipelineRun[]> {
    const reply = await requestAPI<Mlops.IPipelineRunsReply>(
      `pipelines/runs${query({ path, limit })}`,
      {},
      this.settings
    );
    return reply.runs;
  }

  run(runId: string): Promise<Mlops.IPipelineRun> {
    return requestAPI<Mlops.IPipelineRun>(
      `pipelines/runs/${encodeURIComponent(runId)}`,
      {},
      this.settings
    );
  }

  /**
   * Start a run; the reply comes before the run's record exists (see `run()`). Run options
   * left out are the server's defaults (the local executor, its default workers).
   */
  async launch(body: Mlops.IPipelineLaunchBody): Promise<string> {
    const full: Required<Mlops.IPipelineLaunchBody> = {
      from_step: null,
      executor: 'local',
      scheduler_address: null,
      max_workers: null,
      ...body
    };
    const reply = await requestAPI<Mlops.IPipelineLaunch>(
      'pipelines/runs',
      { method: 'POST', body: JSON.stringify(full) },
      this.settings
    );
    return reply.run_id;
  }

  /** Run a failed run again from its failed step; the new run's id. */
  async resume(runId: string): Promise<string> {
    const reply = await requestAPI<Mlops.IPipelineLaunch>(
      `pipelines/runs/${encodeURIComponent(runId)}/resume`,
      { method: 'POST', body: '{}' },
      this.settings
    );
    return reply.run_id;
  }

  async schedules(path: string): Promise<Mlops.ISchedule[]> {
    const reply = await requestAPI<Mlops.ISchedulesReply>(
      `schedules${query({ path })}`,
      {},
      this.settings
    );
    return reply.schedules;
  }

  /**
   * A new schedule or trigger with the run options of the runs it starts (executor,
   * scheduler_address, max_workers, params); those left out are the server's defaults.
   */
  addSchedule(body: Mlops.IScheduleCreate): Promise<Mlops.ISchedule> {
    return requestAPI<Mlops.ISchedule>(
      'schedules',
      { method: 'POST', body: JSON.stringify(body) },
      this.settings
    );
  }

  setScheduleEnabled(id: string, enabled: boolean): Promise<Mlops.ISchedule> {
    return requestAPI<Mlops.ISchedule>(
      `schedules/${encodeURIComponent(id)}`,
      { method: 'PATCH', body: JSON.stringify({ enabled }) },
      this.settings
    );
  }

  async deleteSchedule(id: string): Promise<void> {
    await requestAPI<void>(
      `schedules/${encodeURIComponent(id)}`,
      { method: 'DELETE' },
      this.settings
    );
  }

  /** The executed notebook of a step, stored as its run's artifact (a download). */
  artifactUrl(stepRunId: string, step: string): string {
    return URLExt.join(
      this.settings.baseUrl,
      API_NAMESPACE,
      'runs',
      encodeURIComponent(stepRunId),
      'artifacts',
      'notebooks',
      `${encodeURIComponent(step)}.ipynb`
    );
  }
}
