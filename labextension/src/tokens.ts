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

  /** One step of a pipeline spec (`GET pipelines`). */
  export interface IPipelineStep {
    name: string;
    /** The step's notebook, relative to the server root. */
    notebook: string;
    upstream: string[];
    parameters: { [key: string]: unknown };
    inputs: string[];
    outputs: string[];
    timeout: number | null;
    retries: number;
  }

  /** A pipeline found in the workspace; `errors` are its validation problems, one a line. */
  export interface IPipeline {
    /** The `pipeline.yaml`, relative to the server root. */
    path: string;
    name: string;
    params: { [key: string]: unknown };
    steps: IPipelineStep[];
    errors: string[];
  }

  export interface IPipelinesReply {
    pipelines: IPipeline[];
  }

  export type PipelineRunStatus = 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED';

  /** KILLED: the step's kernel was killed (its run's own status). */
  export type StepStatus =
    | 'PENDING'
    | 'RUNNING'
    | 'FINISHED'
    | 'FAILED'
    | 'SKIPPED'
    | 'CACHED'
    | 'KILLED';

  /**
   * Where a running step's notebook is: `cell` (0-based index in the output notebook) of
   * `cells`, whose first line is `source`.
   */
  export interface IStepProgress {
    cell: number;
    cells: number;
    source: string;
  }

  /** One step of a pipeline run. */
  export interface IStepState {
    name: string;
    status: StepStatus;
    /** The tracked run of the step's notebook. */
    run_id: string | null;
    attempts: number;
    /** Seconds. */
    duration: number | null;
    progress: IStepProgress | null;
    /** 0-based index of the failed cell in the output notebook (injected cell counted). */
    failed_cell: number | null;
    error_name: string | null;
    error_value: string | null;
    traceback: string | null;
    /** The executed notebook, relative to the server root, when the lab can open it. */
    notebook_api_path: string | null;
    /** The executed notebook is stored as the step run's artifact. */
    has_artifact: boolean;
    /** The pipeline run whose result a CACHED step reused. */
    cached_from: string | null;
  }

  /** A run of a pipeline (`GET pipelines/runs/<id>`); `steps` in pipeline order. */
  export interface IPipelineRun {
    run_id: string;
    pipeline: string;
    path: string | null;
    status: PipelineRunStatus;
    start_time: number;
    end_time: number | null;
    /** Seconds. */
    duration: number | null;
    /** `manual`, `schedule:<id>` or `event:<id>`. */
    trigger: string;
    params: { [key: string]: unknown };
    /** Why the run failed when no step says (e.g. its executor could not start). */
    error_value?: string | null;
    steps: IStepState[];
  }

  export interface IPipelineRunsReply {
    runs: IPipelineRun[];
  }

  /** The executors a run may name (the server may know more, from installed packages). */
  export type Executor = 'local' | 'dask';

  /** Steps at once with the `local` executor: 1 to `MAX_WORKERS`, `DEFAULT_WORKERS` if null. */
  export const MAX_WORKERS = 64;
  export const DEFAULT_WORKERS = 2;

  /** How a pipeline run goes, besides its parameters (`POST pipelines/runs`, schedules). */
  export interface IRunOptions {
    /** `local` (kernels started by the server's machine) or `dask`. */
    executor: string;
    /** The Dask scheduler, e.g. `tcp://host:8786`; required by (and only for) `dask`. */
    scheduler_address: string | null;
    /** Steps at once with the `local` executor; null: the default. */
    max_workers: number | null;
  }

  /** The body of `POST pipelines/runs`. */
  export interface IPipelineLaunchBody extends Partial<IRunOptions> {
    path: string;
    params: { [key: string]: unknown };
    force: boolean;
    from_step?: string | null;
  }

  /** The reply of `POST pipelines/runs` and `POST pipelines/runs/<id>/resume`. */
  export interface IPipelineLaunch {
    run_id: string;
  }

  export type MissedPolicy = 'skip' | 'once' | 'all';

  /** When a pipeline runs by itself: a cron line, or a new version of a dataset. */
  export interface ISchedule {
    id: string;
    path: string;
    pipeline: string;
    kind: 'cron' | 'event';
    cron: string | null;
    timezone: string | null;
    event: { type: string; key: string } | null;
    params: { [key: string]: unknown };
    enabled: boolean;
    missed: MissedPolicy;
    next_run_time: number | null;
    last_run_time: number | null;
    last_run_id: string | null;
    /** The run options it keeps for its runs (unset ones are the defaults). */
    options: IScheduleOptions;
  }

  /** A schedule's run options, e.g. `{executor: 'dask', scheduler_address: 'tcp://h:8786'}`. */
  export interface IScheduleOptions extends Partial<IRunOptions> {
    kernel_name?: string;
  }

  export interface ISchedulesReply {
    schedules: ISchedule[];
  }

  /**
   * The body of `POST schedules`: `cron` (with `timezone`) or `dataset`, and the run options
   * of the runs it starts.
   */
  export interface IScheduleCreate extends Partial<IRunOptions> {
    path: string;
    cron?: string;
    timezone?: string;
    dataset?: string;
    params?: { [key: string]: unknown };
    missed?: MissedPolicy;
    enabled?: boolean;
  }

  /** What a cell's summary counts (`views.SUMMARY_KINDS`). */
  export type SummaryKind =
    'params' | 'metrics' | 'inputs' | 'outputs' | 'models' | 'notes';

  /**
   * The `%%track` output bundle (`views.cell_summary`): what a notebook keeps of a cell's
   * run, under 2 KiB. Who it is and how it ended, how many of each thing it recorded
   * (`counts`, absent when none) and the first few, clipped; the card fetches the rest
   * (`GET runs/<id>`). Parts with nothing to name are absent.
   */
  export interface ICellSummary {
    info: {
      id: string;
      name: string;
      experiment_name: string;
      status: RunStatus;
      error_name?: string | null;
      error_value?: string | null;
    };
    /** How long the cell ran. */
    duration_s: number;
    counts: { [kind in SummaryKind]?: number };
    params?: { [key: string]: string };
    metrics?: { [key: string]: MetricValue };
    /** `name [shape] fingerprint`, e.g. `train [120×4] 9ba72818`. */
    inputs?: string[];
    outputs?: string[];
    /** `name (Class)` */
    models?: string[];
    notes?: string[];
  }

  /** A registered model's stages, in the order a version moves through them. */
  export type Stage = 'None' | 'Staging' | 'Production' | 'Archived';

  /** The stages a version can be moved to from the panel. */
  export const STAGES: readonly Stage[] = [
    'None',
    'Staging',
    'Production',
    'Archived'
  ];

  /** A name under which versions of a model are registered (`RegisteredModel`). */
  export interface IRegisteredModel {
    name: string;
    description: string;
    tags: { [key: string]: string };
    created_at: number;
    updated_at: number;
    /** Approvals a version needs before Production (by someone other than its registrant). */
    required_approvals: number;
    /** The validation gates' configuration (`client/gates.py`); null: no gate. */
    gates: { [key: string]: unknown } | null;
    intended_use: string;
    limitations: string;
  }

  /** A registered model as a list row (`GET models`). */
  export interface IModelSummary extends IRegisteredModel {
    /** How many versions it has. */
    versions: number;
    /** The version in each guarded stage, or null. */
    stages: { Staging?: number | null; Production?: number | null };
    /** Alias → version. */
    aliases: { [alias: string]: number };
    /**
     * The seq of the model's newest audit entry: any decision about it (an approval, a gate
     * run made elsewhere) changes the row, so the open model is read again.
     */
    audit_seq: number;
  }

  export interface IModelsReply {
    models: IModelSummary[];
  }

  /** Version `version` of a registered model: a logged model (`ModelVersion`). */
  export interface IModelVersion {
    name: string;
    version: number;
    logged_model_id: string;
    run_id: string;
    stage: Stage | string;
    sha256: string;
    description: string;
    created_at: number;
    created_by: string;
  }

  /** A free name (`champion`) pointing at one version (`ModelAlias`). */
  export interface IModelAlias {
    name: string;
    alias: string;
    version: number;
    updated_at: number;
    updated_by: string;
  }

  /** One person's approval of a version for Production (`ModelApproval`). */
  export interface IModelApproval {
    name: string;
    version: number;
    actor: string;
    at: number;
    reason: string | null;
  }

  /** One decision on the registry's append-only, hash-chained record (`AuditEntry`). */
  export interface IAuditEntry {
    seq: number;
    at: number;
    actor: string;
    /**
     * create_model | update_model | set_gates | register | stage | force | set_alias |
     * delete_alias | approve | validate | integrity_failure
     */
    action: string;
    name: string;
    version: number | null;
    alias: string | null;
    from_value: string | null;
    to_value: string | null;
    reason: string | null;
    report_sha256: string | null;
    prev_hash: string;
    hash: string;
  }

  export interface IAuditReply {
    entries: IAuditEntry[];
  }

  /** One measured check of a gate: `value` against `threshold` (text, e.g. `>= 0.8`). */
  export interface IGateCheck {
    name: string;
    value: number | null;
    threshold: string;
    passed: boolean;
    note?: string;
  }

  export type GateName =
    'metrics' | 'champion' | 'robustness' | 'latency' | 'fairness';

  /** One gate's outcome; `summary` is a line with its numbers. */
  export interface IGateResult {
    gate: GateName | string;
    passed: boolean;
    summary: string;
    checks: IGateCheck[];
  }

  /** The document a gate run produces (`GateReport.report`). */
  export interface IGateReportDoc {
    model?: { [key: string]: unknown };
    holdout?: { ref?: string; fingerprint?: string; rows?: number } | null;
    config_sha256?: string;
    duration_s?: number;
    gates: IGateResult[];
  }

  /** The outcome of a version's validation gates, stored with it (`GateReport`). */
  export interface IGateReport {
    sha256: string;
    name: string;
    version: number;
    model_sha256: string;
    config_sha256: string;
    passed: boolean;
    created_at: number;
    created_by: string;
    report: IGateReportDoc;
  }

  /** The newest gate report of a version, in brief (`GET models/<name>`). */
  export interface IGateReportBrief {
    sha256: string;
    passed: boolean;
    created_at: number;
    /** The gates that failed. */
    failed: string[];
  }

  /** A version as a row of the model's versions table. */
  export interface IVersionRow extends IModelVersion {
    aliases: string[];
    approvals: IModelApproval[];
    report: IGateReportBrief | null;
  }

  /** One registered model with its aliases and versions (`GET models/<name>`). */
  export interface IModelDetail {
    model: IRegisteredModel;
    aliases: IModelAlias[];
    versions: IVersionRow[];
  }

  /** One version with everything decided about it (`GET models/<name>/versions/<v>`). */
  export interface IVersionDetail extends IModelVersion {
    aliases: string[];
    approvals: IModelApproval[];
    /** Newest first. */
    reports: IGateReport[];
  }

  /** The body of `POST models` (register a logged model as a new version). */
  export interface IRegisterBody {
    /** `runs:/<run id>/<model name>` or a logged model's id. */
    source: string;
    name: string;
    description?: string;
    tags?: { [key: string]: string };
  }

  /** The body of `POST models/<name>/versions/<v>/stage`. */
  export interface IStageBody {
    stage: Stage;
    reason?: string;
    /** Move even though gates or approvals forbid it (needs a reason; audited). */
    force?: boolean;
    archive_existing?: boolean;
  }

  /** The 409 body of a stage move that gates or approvals forbid. */
  export interface IPromotionBlocked extends IApiError {
    code: 'PROMOTION_BLOCKED';
    blockers: string[];
    report: IGateReport | null;
  }

  /**
   * Where a version came from and what was decided about it (`GET .../lineage`): the run,
   * its cell and commit, datasets, params, metrics, approvals and promotions. Read
   * defensively: the panel shows what it recognises and lists the rest as text.
   */
  export type IModelLineage = { [key: string]: unknown };

  /** The model card (`GET .../card`), Markdown. */
  export interface IModelCard {
    markdown: string;
  }

  /**
   * A model server's state: STARTING until its model is loaded and its port answers;
   * STOPPED when it ended as asked, FAILED when it could not start, KILLED when its process
   * died without saying so (`ServerStatus`).
   */
  export type ServerStatus =
    'STARTING' | 'RUNNING' | 'STOPPED' | 'FAILED' | 'KILLED';

  /** The states of a live server. */
  export const LIVE_SERVER_STATES: readonly ServerStatus[] = [
    'STARTING',
    'RUNNING'
  ];

  /** A server's figures, refreshed with each heartbeat (every few seconds). */
  export interface IModelServerStats {
    requests?: number;
    errors?: number;
    rows?: number;
    /** Requests per second over the last ~10 s. */
    rate?: number;
    p50_ms?: number | null;
    p95_ms?: number | null;
    p99_ms?: number | null;
    /** Prediction rows recorded in the store, dropped (queue full), waiting. */
    recorded?: number;
    dropped?: number;
    queued?: number;
    /** How many times it switched version (following an alias or stage). */
    switches?: number;
    workers?: number;
    last_request_at?: number | null;
  }

  /**
   * A model server process (`ModelServer`): what it follows (`ref`: `@champion`,
   * `/Production` or `/3`), the version answering now, where it listens, who started it
   * and how it is doing.
   */
  export interface IModelServer {
    id: string;
    name: string;
    ref: string;
    version: number | null;
    url: string;
    host: string;
    pid: number | null;
    started_by: string;
    status: ServerStatus | string;
    started_at: number;
    heartbeat: number;
    ended_at: number | null;
    reason: string;
    stop_requested: boolean;
    /** The options it runs with (`ServeOptions.to_json()`: never the token). */
    options: { [key: string]: unknown };
    stats: IModelServerStats;
  }

  export interface IServersReply {
    servers: IModelServer[];
  }

  /** The options the panel sets when it starts a server; the rest are the defaults. */
  export interface IServeOptions {
    /** 0 or left out: a free port. */
    port?: number;
    /** Record every prediction in the store. */
    record?: boolean;
  }

  /** The body of `POST servers`. */
  export interface IServeBody {
    /** `churn@champion`, `churn/Production` or `churn/3`. */
    target: string;
    options?: IServeOptions;
  }

  // -- monitoring (`jupyter_mlops/monitoring/`, `server/monitoring_handlers.py`) --------------

  /** A monitoring rule's state, from calm to loud (`ALERT_STATES`). */
  export type AlertLevel = 'ok' | 'warn' | 'alert';

  export const ALERT_LEVELS: readonly AlertLevel[] = ['ok', 'warn', 'alert'];

  /** Where one alert rule of a model stands (`AlertState`). */
  export interface IAlertState {
    name: string;
    rule: string;
    state: AlertLevel | string;
    /** When it entered this state (ms). */
    since: number;
    updated_at: number;
    /** The rule's value in the last window evaluated. */
    value: number | null;
    window_end: number | null;
    /** The recent windows' levels, oldest first. */
    levels: string[];
    /** The version that served most of the last window. */
    version: number | null;
    /** The last webhook delivery: at, status, error. */
    delivery: { [key: string]: unknown } | null;
  }

  /** One column's drift in one window (`ColumnDrift.to_dict()`). */
  export interface IColumnDrift {
    column: string;
    kind: string;
    /** ks, chisquare, z (p-values: drifted below the threshold); wasserstein,
     * jensenshannon, psi (distances: drifted at or above it). */
    method: string;
    threshold: number;
    statistic: number | null;
    p_value: number | null;
    score: number | null;
    drifted: boolean;
    reference_rows: number;
    current_rows: number;
    note: string | null;
  }

  export interface IDatasetDrift {
    columns: number;
    drifted_columns: number;
    share: number;
    threshold: number;
    weighted: boolean;
    drifted: boolean;
  }

  /** One column's data quality in one window. */
  export interface IDataQuality {
    column: string;
    rows: number;
    missing_share: number | null;
    reference_missing_share: number | null;
    type_errors: number;
    /** Numbers outside the reference's range. */
    out_of_range_share: number | null;
    /** Categories the reference never saw. */
    unseen_share: number | null;
    unseen_values: string[];
  }

  /** Quality figures: accuracy, f1, roc_auc (a classifier) or rmse, mae (a regressor). */
  export interface IQualityFigures {
    rows?: number;
    accuracy?: number | null;
    f1?: number | null;
    roc_auc?: number | null;
    rmse?: number | null;
    mae?: number | null;
    calibrated?: boolean;
  }

  export interface IWindowQuality {
    task: string | null;
    /** From labels (null until some rows of the window are labelled). */
    realised: IQualityFigures | null;
    /** From the model's scores alone, before labels come (CBPE). */
    estimated: IQualityFigures | null;
    labelled_rows: number;
  }

  /** Latency, load and errors of one window. */
  export interface IWindowOperations {
    requests: number;
    rows: number;
    errors: number;
    error_rate: number | null;
    server_errors: number;
    request_rate: number | null;
    p50_ms: number | null;
    p95_ms: number | null;
    p99_ms: number | null;
    mean_ms: number | null;
    refused_rows?: number;
  }

  /** Reference and window shares over one set of bins (numbers) or categories. */
  export interface IDistribution {
    kind: 'numeric' | 'categorical' | string;
    edges?: number[];
    labels?: string[];
    reference: number[];
    current: number[];
  }

  /** One window checked against its reference (`WindowReport.to_dict()`). */
  export interface IWindowReport {
    start: number | null;
    end: number | null;
    rows: number;
    versions: number[];
    drift: IColumnDrift[];
    dataset_drift: IDatasetDrift;
    prediction_drift: IColumnDrift | null;
    data_quality: IDataQuality[];
    quality: IWindowQuality;
    operations: IWindowOperations | null;
    missing_columns: string[];
    notes: string[];
    /** The drifted columns and the predictions, reference against this window. */
    distributions: { [column: string]: IDistribution };
  }

  /** An alert rule as configured (`alerts.rules` of the monitoring configuration). */
  export interface IAlertRule {
    name: string;
    metric: string;
    column: string | null;
    above: number | null;
    below: number | null;
    warn: number | null;
  }

  /** A model's monitoring configuration, as far as the panel reads it. */
  export interface IMonitorConfig {
    window: string;
    drift: { [key: string]: unknown };
    alerts?: { rules?: IAlertRule[]; [key: string]: unknown };
    [key: string]: unknown;
  }

  /** A reference's summary: its rows, where it came from, when it was built. */
  export interface IReferenceSummary {
    rows: number;
    source: string;
    created_at: number;
  }

  /** `MonitorReport.to_dict()`: a model's traffic, window by window, oldest first. */
  export interface IMonitorReport {
    name: string;
    /** The windows' duration (`1h`) when cut by time. */
    window: string | null;
    /** Rows per window when cut by rows. */
    rows_per_window: number | null;
    since: number | null;
    until: number | null;
    config: IMonitorConfig;
    /** Per version (as text) that served a window: its reference. */
    references: { [version: string]: IReferenceSummary };
    windows: IWindowReport[];
    notes: string[];
  }

  /** A `monitor.alert` event: a rule changed state. */
  export interface IAlertEvent {
    id: number;
    type: string;
    key: string;
    created_at: number;
    payload: {
      rule?: string;
      metric?: string;
      column?: string | null;
      state?: string;
      previous?: string;
      value?: number | null;
      threshold?: number | null;
      direction?: string;
      window_start?: number | null;
      window_end?: number | null;
      version?: number | null;
      [key: string]: unknown;
    };
  }

  /** `GET monitoring/models/<name>`. */
  export interface IMonitoringReply {
    report: IMonitorReport;
    alerts: IAlertState[];
    /** The last 100 changes of state, oldest first. */
    history: IAlertEvent[];
  }

  /** How the traffic is cut: by time (`1h`, `1d`) or by `rows`, `windows` back. */
  export interface IWindowChoice {
    window?: string;
    rows?: number;
    windows?: number;
    version?: number;
  }

  /** A version's monitoring: its reference, and its rules' loudest state when it served
   * the windows they last judged. */
  export interface IVersionMonitoring {
    version: number;
    logged_model_id: string;
    reference: IReferenceSummary | null;
    state: AlertLevel | null;
  }

  /** A registered model's monitoring at a glance (`GET monitoring/states`). */
  export interface IModelMonitoring {
    name: string;
    /** The loudest of its rules' states (`ok` without rules judged). */
    state: AlertLevel;
    alerts: IAlertState[];
    versions: IVersionMonitoring[];
  }

  export interface IMonitoringStatesReply {
    models: IModelMonitoring[];
  }

  /** `POST monitoring/models/<name>/evaluate`. */
  export interface IEvaluateReply {
    alerts: IAlertState[];
  }

  // -- continuous training (`jupyter_mlops/automation/`, `server/ct_handlers.py`) -----------

  /** A model's continuous-training policy (`CtPolicy.to_dict()`); its pipeline is named
   * relative to the server's root when it is inside it. Read defensively. */
  export interface ICtPolicy {
    pipeline: string;
    params: { [key: string]: unknown };
    trigger: {
      alerts: string[];
      level: string;
      schedule: string | null;
      timezone: string;
    };
    data: {
      dataset: string | null;
      traffic: string | null;
      target: string | null;
      param: string;
    } | null;
    promote: {
      mode: 'auto' | 'approval' | string;
      metric: string | null;
      to: string;
    };
    rollout: {
      mode: 'direct' | 'shadow' | 'canary' | string;
      share: number;
      min_requests: number;
      timeout: string;
      [key: string]: unknown;
    };
    guardrails: { cooldown: string; max_per_day: number; dry_run: boolean };
    enabled: boolean;
  }

  /** The states of a loop under way, then how it ended (`LOOP_STATES`). */
  export type LoopState =
    'training' | 'approval' | 'rollout' | 'done' | 'failed' | 'dry_run';

  /** One retrain, from its trigger to its end (`CtLoop`). */
  export interface ICtLoop {
    id: string;
    name: string;
    state: LoopState | string;
    /** kind (alert, schedule, manual), rule, event id, version, drifted columns... */
    trigger: { kind?: string; [key: string]: unknown };
    pipeline_path: string;
    pipeline_run_id: string | null;
    params: { [key: string]: unknown };
    dry_run: boolean;
    created_at: number;
    updated_at: number;
    ended_at: number | null;
    /** promoted, kept, rolled_back, failed, would_promote... */
    outcome: string | null;
    candidate: number | null;
    champion: number | null;
    reason: string;
    joined: number;
  }

  /** One side of a rollout's comparison (`automation/rollout.py` `Arm`). */
  export interface IRolloutArm {
    version: number | null;
    requests: number;
    errors: number;
    error_rate: number | null;
    p95_ms: number | null;
    labelled: number;
    accuracy: number | null;
  }

  /** A rollout's last comparison: candidate against champion, and the verdict so far. */
  export interface IRolloutStats {
    candidate?: IRolloutArm;
    champion?: IRolloutArm;
    verdict?: string;
    reason?: string;
  }

  /** A candidate on trial beside the champion (`Rollout`). */
  export interface IRollout {
    id: string;
    name: string;
    candidate: number;
    champion: number | null;
    mode: 'shadow' | 'canary' | string;
    share: number;
    /** The stage, or `@alias`, the candidate takes when promoted. */
    target: string;
    criteria: { [key: string]: unknown };
    state: 'active' | 'promoted' | 'rolled_back' | 'cancelled' | string;
    started_at: number;
    started_by: string;
    loop_id: string | null;
    ended_at: number | null;
    reason: string;
    stats: IRolloutStats;
  }

  /** One side of a decision waiting for approval: a version and its gate report. */
  export interface ICtSide {
    version: number | null;
    gate_report: IGateReport | null;
  }

  /** The loop whose candidate waits for approval, with both gate reports. */
  export interface ICtPending {
    loop: ICtLoop;
    candidate: ICtSide & {
      approvals: IModelApproval[];
      /** Whether it still needs approvals (null when unknown). */
      approvals_missing: boolean | null;
    };
    /** The version holding the policy's `promote.to` now. */
    champion: ICtSide;
    /** The stage or `@alias` it would take. */
    to: string | null;
  }

  /** `GET models/<name>/ct` (and the reply of `PUT`). */
  export interface ICtState {
    policy: ICtPolicy | null;
    policy_yaml: string | null;
    /** The newest 20 loops, newest first. */
    loops: ICtLoop[];
    rollout: IRollout | null;
    pending: ICtPending | null;
  }

  /** One entry of a loop's timeline: when, what kind, what happened. */
  export interface ITimelineEntry {
    at: number;
    /** alert, triggered, pipeline_started, pipeline, step, registered, candidates,
     * decision, stage, rollout, server... */
    kind: string;
    summary: string;
    detail: { [key: string]: unknown };
  }

  /** A loop from the alert that started it to its end (`LoopTimeline.to_dict()`). */
  export interface ILoopTimeline {
    loop: ICtLoop;
    entries: ITimelineEntry[];
    started_at: number;
    switched_at: number | null;
    ended_at: number | null;
    /** Seconds: detection_s, pipeline_s, gates_s, trial_s, switch_s (null: not measured). */
    parts: { [part: string]: number | null };
    total_s: number | null;
  }

  /** `GET models/<name>/timeline`. */
  export interface ITimelineReply {
    timelines: ILoopTimeline[];
  }
}
