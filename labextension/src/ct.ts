import { ServerConnection } from '@jupyterlab/services';

import { PolledModel } from './polled';
import { errorMessage, query, requestAPI } from './request';
import { Mlops } from './tokens';

/** A model name as one path segment (a name may hold `/` and spaces). */
function segment(text: string): string {
  return encodeURIComponent(text);
}

/**
 * The continuous-training routes of the REST API, typed: a model's policy (read, set from
 * YAML, removed), its loops, the candidate waiting for approval, the rollout under way and
 * its cancel, and each loop's timeline. Writes are made as the Jupyter user (audited).
 */
export class CtAPI {
  constructor(
    readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  /** `name`'s policy, newest loops, active rollout and pending candidate. */
  state(name: string): Promise<Mlops.ICtState> {
    return requestAPI<Mlops.ICtState>(
      `models/${segment(name)}/ct`,
      {},
      this.settings
    );
  }

  /**
   * Set `name`'s policy from YAML text: the server checks every field and the pipeline (an
   * `ApiError` whose message names what is wrong otherwise); resolves with the new state.
   */
  setPolicy(
    name: string,
    policy: string,
    reason?: string
  ): Promise<Mlops.ICtState> {
    const body: { policy: string; reason?: string } = { policy };
    if (reason) {
      body.reason = reason;
    }
    return requestAPI<Mlops.ICtState>(
      `models/${segment(name)}/ct`,
      { method: 'PUT', body: JSON.stringify(body) },
      this.settings
    );
  }

  /** Remove `name`'s policy: nothing retrains it any more. */
  async removePolicy(name: string, reason?: string): Promise<void> {
    await requestAPI<void>(
      `models/${segment(name)}/ct${query({ reason })}`,
      { method: 'DELETE' },
      this.settings
    );
  }

  /** The timelines of `name`'s newest `limit` loops (or of one loop), newest first. */
  async timeline(
    name: string,
    options: { limit?: number; loop?: string | null } = {}
  ): Promise<Mlops.ILoopTimeline[]> {
    const reply = await requestAPI<Mlops.ITimelineReply>(
      `models/${segment(name)}/timeline${query({
        limit: options.limit,
        loop: options.loop
      })}`,
      {},
      this.settings
    );
    return reply.timelines;
  }

  /** End `name`'s rollout under way as cancelled: servers drop the candidate. */
  cancelRollout(name: string, reason?: string): Promise<Mlops.IRollout> {
    return requestAPI<Mlops.IRollout>(
      `models/${segment(name)}/rollout/cancel`,
      { method: 'POST', body: JSON.stringify(reason ? { reason } : {}) },
      this.settings
    );
  }
}

/**
 * The open model's continuous training: its policy, loops, pending candidate and rollout,
 * polled while the Models tab is on screen, so a loop the scheduler moves (a retrain that
 * ends, a candidate that starts waiting, a rollout's figures) shows without a refresh.
 */
export class CtModel extends PolledModel {
  constructor(options: CtModel.IOptions) {
    super({
      name: 'jupyter-mlops:ct',
      interval: options.pollInterval ?? 5000,
      max: 60 * 1000
    });
    this.api = options.api;
  }

  readonly api: CtAPI;

  /** The model whose continuous training is shown, or null. */
  get name(): string | null {
    return this._name;
  }

  /** Its state; null until the first reply. */
  get state(): Mlops.ICtState | null {
    return this._state;
  }

  /** Why the state could not be read. */
  get error(): string | null {
    return this._error;
  }

  /** Bumps each time the state changed, so views that show more of it read it again. */
  get generation(): number {
    return this._generation;
  }

  /** Show another model's continuous training (null: none); it is read at the next
   * `refresh()` or round of the poll. */
  select(name: string | null): void {
    if (name === this._name) {
      return;
    }
    this._name = name;
    this._state = null;
    this._error = null;
    this._text = null;
    this._seq++;
    this.emitChanged();
  }

  /** Read the state again now. */
  async refresh(): Promise<void> {
    await this._load().catch(() => undefined); // shown as error
  }

  /** Take a state a write replied with (a saved policy). */
  accept(state: Mlops.ICtState): void {
    this._seq++;
    this._apply(state);
  }

  protected async poll(): Promise<void> {
    await this._load();
  }

  private async _load(): Promise<void> {
    const name = this._name;
    if (name === null) {
      return;
    }
    const seq = ++this._seq;
    let state: Mlops.ICtState;
    try {
      state = await this.api.state(name);
    } catch (error) {
      if (seq === this._seq && name === this._name) {
        this._error = errorMessage(error);
        this.emitChanged();
      }
      throw error; // so the poll backs off while the server is away
    }
    if (seq !== this._seq || name !== this._name) {
      return;
    }
    this._apply(state);
  }

  private _apply(state: Mlops.ICtState): void {
    const text = JSON.stringify(state);
    if (text === this._text && this._error === null) {
      return;
    }
    this._text = text;
    this._state = state;
    this._error = null;
    this._generation++;
    this.emitChanged();
  }

  private _name: string | null = null;
  private _state: Mlops.ICtState | null = null;
  private _error: string | null = null;
  private _text: string | null = null;
  private _generation = 0;
  private _seq = 0;
}

export namespace CtModel {
  export interface IOptions {
    api: CtAPI;
    /** Milliseconds between two `GET models/<name>/ct` while the Models tab is shown. */
    pollInterval?: number;
  }
}

/** A loop's end in a word or two: its outcome, else its state. */
export function loopOutcome(loop: Mlops.ICtLoop): string {
  return (loop.outcome ?? loop.state).replace(/_/g, ' ');
}
