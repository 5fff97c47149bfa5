import { ServerConnection } from '@jupyterlab/services';

import { PolledModel } from './polled';
import { errorMessage, query, requestAPI } from './request';
import { Mlops } from './tokens';

/** A model name as one path segment (a name may hold `/` and spaces). */
function segment(text: string): string {
  return encodeURIComponent(text);
}

/**
 * The monitoring routes of the REST API, typed: a served model's report over windows with its
 * alert states and history, every model's monitoring state at a glance, and an evaluation of
 * a model's alert rules now.
 */
export class MonitoringAPI {
  constructor(
    readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  /** Every registered model's loudest alert state, its rules, and which versions have a
   * reference. */
  async states(): Promise<Mlops.IModelMonitoring[]> {
    const reply = await requestAPI<Mlops.IMonitoringStatesReply>(
      'monitoring/states',
      {},
      this.settings
    );
    return reply.models;
  }

  /**
   * `name`'s recorded traffic checked window by window (the server reads it all: seconds on
   * a busy model), its rules' states and their last changes.
   */
  report(
    name: string,
    choice: Mlops.IWindowChoice = {}
  ): Promise<Mlops.IMonitoringReply> {
    return requestAPI<Mlops.IMonitoringReply>(
      `monitoring/models/${segment(name)}${query({
        window: choice.rows === undefined ? choice.window : undefined,
        rows: choice.rows,
        windows: choice.windows,
        version: choice.version
      })}`,
      {},
      this.settings
    );
  }

  /** Judge `name`'s alert rules on its complete windows now; the rules' states after it. */
  async evaluate(name: string): Promise<Mlops.IAlertState[]> {
    const reply = await requestAPI<Mlops.IEvaluateReply>(
      `monitoring/models/${segment(name)}/evaluate`,
      { method: 'POST', body: '{}' },
      this.settings
    );
    return reply.alerts;
  }
}

/** The loudest of some levels (`ok` for none). */
export function loudest(
  levels: readonly (string | null | undefined)[]
): Mlops.AlertLevel {
  let rank = 0;
  for (const level of levels) {
    const r = Mlops.ALERT_LEVELS.indexOf(level as Mlops.AlertLevel);
    rank = Math.max(rank, r);
  }
  return Mlops.ALERT_LEVELS[rank];
}

/**
 * Every registered model's monitoring state (its rules' states, which versions have a
 * reference), polled while the Models tab is on screen: a rule the scheduler moves in the
 * background shows in the model list and the version rows at the next round.
 */
export class MonitoringModel extends PolledModel {
  constructor(options: MonitoringModel.IOptions) {
    super({
      name: 'jupyter-mlops:monitoring',
      interval: options.pollInterval ?? 10000,
      max: 2 * 60 * 1000
    });
    this.api = options.api;
  }

  readonly api: MonitoringAPI;

  /** The states, by model name; null until the first reply. */
  get states(): ReadonlyMap<string, Mlops.IModelMonitoring> | null {
    return this._states;
  }

  /** One model's state (null until read, or when it has none). */
  stateOf(name: string): Mlops.IModelMonitoring | null {
    return this._states?.get(name) ?? null;
  }

  /** Why the states could not be read. */
  get error(): string | null {
    return this._error;
  }

  /** Bumps each time any state changed: views that show more of a model read it again. */
  get generation(): number {
    return this._generation;
  }

  /** Read the states again now. */
  async refresh(): Promise<void> {
    await this._load().catch(() => undefined); // shown as error
  }

  /** Evaluate `name`'s rules now; the states are read again after it (an ApiError
   * otherwise). */
  async evaluate(name: string): Promise<Mlops.IAlertState[]> {
    try {
      return await this.api.evaluate(name);
    } finally {
      await this.refresh();
    }
  }

  protected async poll(): Promise<void> {
    await this._load();
  }

  private async _load(): Promise<void> {
    const seq = ++this._seq;
    let models: Mlops.IModelMonitoring[];
    try {
      models = await this.api.states();
    } catch (error) {
      if (seq === this._seq) {
        this._error = errorMessage(error);
        this.emitChanged();
      }
      throw error; // so the poll backs off while the server is away
    }
    if (seq !== this._seq) {
      return;
    }
    const text = JSON.stringify(models);
    if (text === this._text && this._error === null) {
      return;
    }
    this._text = text;
    this._states = new Map(models.map(m => [m.name, m]));
    this._error = null;
    this._generation++;
    this.emitChanged();
  }

  private _states: Map<string, Mlops.IModelMonitoring> | null = null;
  private _error: string | null = null;
  private _text: string | null = null;
  private _generation = 0;
  private _seq = 0;
}

export namespace MonitoringModel {
  export interface IOptions {
    api: MonitoringAPI;
    /** Milliseconds between two `GET monitoring/states` while the Models tab is shown. */
    pollInterval?: number;
  }
}
