/**
 * Wire types of the REST API (`<base_url>/mlops/api/v1/`), mirroring the Python entities in
 * `jupyter_mlops/entities.py` and the payloads of `jupyter_mlops/server/handlers.py`.
 */
export namespace Mlops {
  /** The MIME type of a `%%track` cell's summary bundle. */
  export const RUN_MIME = 'application/vnd.jupyter-mlops.run+json';

  /** Command ids, shared by the plugins, the panel and the output renderer. */
  export namespace CommandIDs {
    export const openRun = 'jupyter-mlops:open-run';
    export const openPanel = 'jupyter-mlops:open-panel';
    export const refresh = 'jupyter-mlops:refresh';
    export const compare = 'jupyter-mlops:compare';
  }

  export type RunStatus = 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED';

  /** JSON cannot carry NaN or ±inf: the server sends them as these strings. */
  export type MetricValue = number | 'NaN' | 'Infinity' | '-Infinity';

  export interface IExperiment {
    id: number;
    name: string;
    created_at: number;
    description: string;
    run_count: number;
  }

  export interface IRunInfo {
    id: string;
    experiment_id: number;
    experiment_name: string;
    name: string;
    status: RunStatus;
    start_time: number;
    end_time: number | null;
    duration_ms: number | null;
    user: string;
    parent_run_id: string | null;
    notebook_path: string | null;
    /** The notebook's path relative to the server root (`GET runs/<id>` only). */
    notebook_api_path?: string | null;
    cell_id: string | null;
    execution_count: number | null;
    source?: string | null;
    git_commit: string | null;
    git_dirty: boolean | null;
    python_version: string | null;
    host: string | null;
    pid: number | null;
    error_name: string | null;
    error_value: string | null;
    traceback?: string | null;
  }

  export interface IDatasetVersion {
    id: string;
    name: string;
    version: number;
    fingerprint: string;
    kind: string;
    shape: number[] | null;
    schema: { [key: string]: string }[];
    profile: { [key: string]: unknown } | null;
    source: string;
    nbytes: number;
    created_at: number;
    role: 'input' | 'output' | null;
  }

  export interface IArtifact {
    path: string;
    sha256: string;
    size: number;
    kind: string;
    created_at: number;
  }

  export interface ILoggedModel {
    id: string;
    run_id: string;
    name: string;
    flavor: string;
    model_class: string;
    artifact_path: string;
    sha256: string;
    signature: { [key: string]: unknown } | null;
    params: { [key: string]: unknown };
    created_at: number;
  }

  /** Everything recorded for one run (`GET runs/<id>`). */
  export interface IRun {
    info: IRunInfo;
    params: { [key: string]: string };
    metrics: { [key: string]: MetricValue };
    tags: { [key: string]: string };
    inputs: IDatasetVersion[];
    outputs: IDatasetVersion[];
    models: ILoggedModel[];
    artifacts: IArtifact[];
    environment?: { [key: string]: unknown };
  }

  /** A run as a table row (`GET runs`). */
  export interface IRunSummary {
    id: string;
    experiment: string;
    name: string;
    status: RunStatus;
    start_time: number;
    end_time: number | null;
    duration_ms: number | null;
    user: string;
    notebook_path: string | null;
    cell_id: string | null;
    params: { [key: string]: string | null };
    metrics: { [key: string]: MetricValue | null };
    tags: { [key: string]: string };
  }

  export interface IRunsPage {
    runs: IRunSummary[];
    total: number;
    offset: number;
    limit: number;
  }

  /** A metric's history, min-max downsampled on the server. */
  export interface IMetricSeries {
    key: string;
    total: number;
    steps: number[];
    values: MetricValue[];
    timestamps: number[];
    downsampled: boolean;
  }

  /** Runs side by side (`GET compare?runs=a,b`). */
  export interface ICompareReply {
    runs: IRun[];
    params: string[];
    differing_params: string[];
    metrics: string[];
  }

  export interface IExperimentsReply {
    experiments: IExperiment[];
  }

  export interface IChanges {
    token: string;
  }

  export interface IStoreInfo {
    store: string;
    artifacts: string;
    source: string;
  }

  /** The body of every 4xx reply. */
  export interface IApiError {
    code: string;
    message: string;
  }

  /**
   * The `%%track` output bundle (`TrackMagics._display_summary`): a run without its source,
   * traceback and environment, plus what the cell itself measured.
   */
  export interface IRunDisplay extends IRun {
    summary?: { duration_s: number; notes: string[] };
  }
}
