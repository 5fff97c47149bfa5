import { CtAPI, CtModel } from './ct';
import { MonitoringAPI, MonitoringModel } from './monitoring';
import { PolledModel } from './polled';
import { RegistryAPI, errorMessage } from './request';
import { ServersModel, ServingAPI } from './serving';
import { Mlops } from './tokens';

/**
 * The state behind the Models tab: the registered models at a glance, the open one's
 * versions and audit. While the tab is on screen a `Poll` re-reads the list; when the open
 * model's row changed (another user promoted, a notebook registered a version), the model and
 * its audit are read again, so the tab follows the registry without a refresh button. The
 * open model's live servers are `servers`, its continuous training `ct`, and every model's
 * monitoring state is `monitoring`, all polled while this model is.
 */
export class ModelsModel extends PolledModel {
  constructor(options: ModelsModel.IOptions) {
    super({
      name: 'jupyter-mlops:models',
      interval: options.pollInterval ?? 4000,
      max: 60 * 1000
    });
    this.api = options.api;
    this.servers = new ServersModel({
      api: options.serving ?? new ServingAPI(options.api.settings)
    });
    this.monitoring = new MonitoringModel({
      api: options.monitoring ?? new MonitoringAPI(options.api.settings)
    });
    this.ct = new CtModel({
      api: options.ct ?? new CtAPI(options.api.settings)
    });
  }

  readonly api: RegistryAPI;

  /** The open model's live servers. */
  readonly servers: ServersModel;

  /** Every model's alert states and references. */
  readonly monitoring: MonitoringModel;

  /** The open model's continuous training: policy, loops, pending candidate, rollout. */
  readonly ct: CtModel;

  /** Poll (the list, the open model's servers and continuous training, the monitoring
   * states) only while the tab is shown. */
  get active(): boolean {
    return super.active;
  }
  set active(value: boolean) {
    super.active = value;
    this.servers.active = value;
    this.monitoring.active = value;
    this.ct.active = value;
  }

  dispose(): void {
    this.servers.dispose();
    this.monitoring.dispose();
    this.ct.dispose();
    super.dispose();
  }

  /** The registered models; null until the first reply. */
  get models(): readonly Mlops.IModelSummary[] | null {
    return this._models;
  }

  /** Why the list could not be read. */
  get loadError(): string | null {
    return this._loadError;
  }

  /** The open model's name, or null for the list alone. */
  get selected(): string | null {
    return this._selected;
  }

  /** The open model, its aliases and versions; null while it loads. */
  get detail(): Mlops.IModelDetail | null {
    return this._detail;
  }

  /** The open model's audit, oldest first; null while it loads. */
  get audit(): readonly Mlops.IAuditEntry[] | null {
    return this._audit;
  }

  /** Why the open model could not be read. */
  get detailError(): string | null {
    return this._detailError;
  }

  /** Bumps each time the open model is read again, so its views refetch what they show. */
  get generation(): number {
    return this._generation;
  }

  /** Open a model (null: back to the list). */
  async select(name: string | null): Promise<void> {
    if (name === this._selected) {
      return;
    }
    this._selected = name;
    this.servers.select(name);
    this.ct.select(name);
    this._openRowText = this._rowText(name, this._models ?? []);
    this._detail = null;
    this._audit = null;
    this._detailError = null;
    this.emitChanged();
    if (name !== null) {
      await this.refreshModel();
    }
  }

  /** Read the list, and the open model with its audit, again (once). */
  async refresh(): Promise<void> {
    const reread = await this._loadModels().catch(() => false); // shown as loadError
    if (!reread) {
      await this.refreshModel();
    }
  }

  /** Read the open model and its audit again (after an action on it). */
  async refreshModel(): Promise<void> {
    const name = this._selected;
    if (name === null) {
      return;
    }
    const seq = ++this._detailSeq;
    // A decision about the model (a loop's, an approval) may have moved its loops too.
    void this.ct.refresh();
    try {
      const [detail, audit] = await Promise.all([
        this.api.model(name),
        this.api.audit(name)
      ]);
      if (seq !== this._detailSeq || name !== this._selected) {
        return;
      }
      this._detail = detail;
      this._audit = audit;
      this._detailError = null;
    } catch (error) {
      if (seq !== this._detailSeq || name !== this._selected) {
        return;
      }
      this._detailError = errorMessage(error);
    }
    this._generation++;
    this.emitChanged();
  }

  /** The poll's round, while the tab is shown: read the list. */
  protected async poll(): Promise<void> {
    await this._loadModels();
  }

  /** Read the list; resolves to whether the open model was read again with it. */
  private async _loadModels(): Promise<boolean> {
    let models: Mlops.IModelSummary[];
    try {
      models = await this.api.models();
    } catch (error) {
      this._loadError = errorMessage(error);
      this._models = this._models ?? [];
      this.emitChanged();
      throw error; // so the poll backs off while the server is away
    }
    const text = JSON.stringify(models);
    if (text === this._listText && this._loadError === null) {
      return false;
    }
    this._listText = text;
    // The open model's row moved (a stage, an alias, a new version, or any audited decision
    // such as an approval or a gate run, through its audit_seq): read it again.
    const name = this._selected;
    const row = this._rowText(name, models);
    const openChanged = name !== null && row !== this._openRowText;
    this._openRowText = row;
    this._models = models;
    this._loadError = null;
    this.emitChanged();
    if (openChanged) {
      await this.refreshModel();
    }
    return openChanged;
  }

  private _rowText(
    name: string | null,
    models: readonly Mlops.IModelSummary[]
  ): string | undefined {
    return name === null
      ? undefined
      : JSON.stringify(models.find(m => m.name === name));
  }

  private _models: Mlops.IModelSummary[] | null = null;
  private _listText: string | null = null;
  private _openRowText: string | undefined = undefined;
  private _loadError: string | null = null;
  private _selected: string | null = null;
  private _detail: Mlops.IModelDetail | null = null;
  private _audit: Mlops.IAuditEntry[] | null = null;
  private _detailError: string | null = null;
  private _detailSeq = 0;
  private _generation = 0;
}

export namespace ModelsModel {
  export interface IOptions {
    api: RegistryAPI;
    /** The model server routes (default: on the registry's server). */
    serving?: ServingAPI;
    /** The monitoring routes (default: on the registry's server). */
    monitoring?: MonitoringAPI;
    /** The continuous-training routes (default: on the registry's server). */
    ct?: CtAPI;
    /** Milliseconds between two `GET models` while the tab is shown. */
    pollInterval?: number;
  }
}
