import { ServerConnection } from '@jupyterlab/services';

import { PolledModel } from './polled';
import { errorMessage, query, requestAPI } from './request';
import { Mlops } from './tokens';

/**
 * The model server routes of the REST API, typed. A server is started as the Jupyter user,
 * in its own process: it outlives the lab, and `jupyter-mlops serve list` sees it too.
 */
export class ServingAPI {
  constructor(
    readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  /** Servers, newest first: of one model when given; live ones unless `all`. */
  async servers(model?: string, all = false): Promise<Mlops.IModelServer[]> {
    const reply = await requestAPI<Mlops.IServersReply>(
      `servers${query({ model, all: all ? 1 : null })}`,
      {},
      this.settings
    );
    return reply.servers;
  }

  server(id: string): Promise<Mlops.IModelServer> {
    return requestAPI<Mlops.IModelServer>(
      `servers/${encodeURIComponent(id)}`,
      {},
      this.settings
    );
  }

  /**
   * Start a server for `target` (`churn@champion`, `churn/3`); resolves once it answers
   * (seconds; longer for a large model) with its record, which holds its address.
   */
  start(
    target: string,
    options: Mlops.IServeOptions = {}
  ): Promise<Mlops.IModelServer> {
    const body: Mlops.IServeBody = { target, options };
    return requestAPI<Mlops.IModelServer>(
      'servers',
      { method: 'POST', body: JSON.stringify(body) },
      this.settings
    );
  }

  /** Stop a server; resolves with its ended record. */
  stop(id: string): Promise<Mlops.IModelServer> {
    return requestAPI<Mlops.IModelServer>(
      `servers/${encodeURIComponent(id)}/stop`,
      { method: 'POST', body: '{}' },
      this.settings
    );
  }
}

/**
 * The live servers of the open model. While the Models tab is on screen a `Poll` reads them
 * every few seconds, so their request rate and latency move; a server started or stopped
 * elsewhere (a notebook, the CLI) appears or goes at the next round.
 */
export class ServersModel extends PolledModel {
  constructor(options: ServersModel.IOptions) {
    super({
      name: 'jupyter-mlops:servers',
      interval: options.pollInterval ?? 3000,
      max: 60 * 1000
    });
    this.api = options.api;
  }

  readonly api: ServingAPI;

  /** The model whose servers are listed, or null. */
  get name(): string | null {
    return this._name;
  }

  /** Its live servers, newest first; null until the first reply. */
  get servers(): readonly Mlops.IModelServer[] | null {
    return this._servers;
  }

  /** Why they could not be read. */
  get error(): string | null {
    return this._error;
  }

  /** List the servers of `name` (null: none). */
  select(name: string | null): void {
    if (name === this._name) {
      return;
    }
    this._name = name;
    this._servers = null;
    this._error = null;
    this._text = null;
    this.emitChanged();
    void this.refresh();
  }

  /** Read the servers again now. */
  async refresh(): Promise<void> {
    await this._load().catch(() => undefined); // shown as error
  }

  /** Start a server for `target`; its record once it answers (an ApiError otherwise). */
  async start(
    target: string,
    options: Mlops.IServeOptions
  ): Promise<Mlops.IModelServer> {
    try {
      return await this.api.start(target, options);
    } finally {
      void this.refresh();
    }
  }

  /** Stop a server; its ended record. */
  async stop(id: string): Promise<Mlops.IModelServer> {
    try {
      return await this.api.stop(id);
    } finally {
      void this.refresh();
    }
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
    let servers: Mlops.IModelServer[];
    try {
      servers = await this.api.servers(name);
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
    const text = JSON.stringify(servers);
    if (text === this._text && this._error === null) {
      return;
    }
    this._text = text;
    this._servers = servers;
    this._error = null;
    this.emitChanged();
  }

  private _name: string | null = null;
  private _servers: Mlops.IModelServer[] | null = null;
  private _error: string | null = null;
  private _text: string | null = null;
  private _seq = 0;
}

export namespace ServersModel {
  export interface IOptions {
    api: ServingAPI;
    /** Milliseconds between two `GET servers` while the Models tab is shown. */
    pollInterval?: number;
  }
}
