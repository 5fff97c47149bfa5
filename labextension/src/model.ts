import { ISignal, Signal } from '@lumino/signaling';
import { ServerConnection } from '@jupyterlab/services';

import { PolledModel } from './polled';
import { ApiError, errorMessage, query, requestAPI } from './request';
import { Mlops } from './tokens';

/**
 * The state behind the Experiments tab: experiments, the applied query, the sort, the chosen
 * columns and a cache of run pages. Rows are fetched a page at a time for the range the table
 * shows, so a store of 100,000 runs costs a few pages, never the whole list.
 */
export class RunsModel extends PolledModel {
  constructor(options: RunsModel.IOptions = {}) {
    super({
      name: 'jupyter-mlops:changes',
      interval: options.pollInterval ?? 1500,
      max: 30 * 1000
    });
    this._settings = options.settings ?? ServerConnection.makeSettings();
    this._pageSize = options.pageSize ?? 200;
  }

  /** The rows were replaced wholesale (new query, sort or experiment): scroll to the top. */
  get reset(): ISignal<this, void> {
    return this._reset;
  }

  get experiments(): readonly Mlops.IExperiment[] {
    return this._experiments;
  }

  /** The selected experiment's name; null for all experiments. */
  get experiment(): string | null {
    return this._query.experiment;
  }

  /** The filter the rows match (the last one the server accepted). */
  get filter(): string {
    return this._query.filter;
  }

  /** The server's message for the last filter it refused; null when it was accepted. */
  get queryError(): string | null {
    return this._queryError;
  }

  /** Why the runs or experiments could not be loaded (server down, extension missing...). */
  get loadError(): string | null {
    return this._loadError;
  }

  get sort(): RunsModel.ISort | null {
    return this._query.sort;
  }

  /** Matching runs; null until the first page arrives. */
  get total(): number | null {
    return this._total;
  }

  get loading(): boolean {
    return this._loading;
  }

  /** Bumps on every reset or refresh, so views can refetch what they show. */
  get generation(): number {
    return this._generation;
  }

  /** The param and metric columns shown after the fixed ones. */
  get columns(): readonly RunsModel.IColumn[] {
    return this._columns;
  }

  /** Param keys present in the runs loaded so far, sorted. */
  get paramKeys(): string[] {
    return [...this._paramKeys].sort();
  }

  /** Metric keys present in the runs loaded so far, sorted. */
  get metricKeys(): string[] {
    return [...this._metricKeys].sort();
  }

  /** The run at a row index, if its page is loaded (possibly from before a refresh). */
  getRow(index: number): Mlops.IRunSummary | undefined {
    const page = this._pages.get(Math.floor(index / this._pageSize));
    return page?.rows[index % this._pageSize];
  }

  /** Make sure the rows [start, end) get loaded; the view calls it as it scrolls. */
  ensureRows(start: number, end: number): void {
    this._wanted = [start, Math.max(start + 1, end)];
    if (this._fetchTimer !== null) {
      return;
    }
    // Coalesce a burst of scroll events into one round of page requests.
    this._fetchTimer = window.setTimeout(() => {
      this._fetchTimer = null;
      this._fetchWanted();
    }, 30);
  }

  /** Load the experiments and the first page of runs. */
  async load(): Promise<void> {
    await Promise.all([this._loadExperiments(), this._replace(this._query)]);
  }

  /** Show one experiment's runs (null: all experiments). */
  async setExperiment(name: string | null): Promise<void> {
    if (name === this._query.experiment) {
      return;
    }
    await this._replace({ ...this._query, experiment: name });
  }

  /**
   * Apply a filter. When the server refuses it, its message becomes `queryError` and the rows
   * of the previous filter stay. Resolves to whether it was accepted.
   */
  async setFilter(text: string): Promise<boolean> {
    const filter = text.trim();
    if (filter === this._query.filter && this._queryError === null) {
      return true;
    }
    return this._replace({ ...this._query, filter }, true);
  }

  /**
   * Sort by a column: first in its natural direction (numbers descending, text ascending),
   * then the other way, then back to the server's default (newest first).
   */
  async toggleSort(column: RunsModel.IColumn): Promise<void> {
    const field = RunsModel.orderField(column);
    const current = this._query.sort;
    const natural = column.kind === 'metric' || RunsModel.isNumeric(column);
    let sort: RunsModel.ISort | null;
    if (!current || current.columnId !== column.id) {
      sort = { columnId: column.id, field, descending: natural };
    } else if (current.descending === natural) {
      sort = { ...current, descending: !natural };
    } else {
      sort = null;
    }
    await this._replace({ ...this._query, sort });
  }

  /** Show or hide a param or metric column. */
  toggleColumn(column: RunsModel.IColumn): void {
    this._autoColumns = false;
    const shown = this._columns.some(c => c.id === column.id);
    this._columns = shown
      ? this._columns.filter(c => c.id !== column.id)
      : [...this._columns, column];
    this.emitChanged();
  }

  /** Reload experiments and the rows on screen, keeping the old rows until new ones come. */
  async refresh(): Promise<void> {
    this._generation++;
    this.emitChanged();
    this._fetchWanted();
    await this._loadExperiments();
  }

  dispose(): void {
    if (this._fetchTimer !== null) {
      window.clearTimeout(this._fetchTimer);
      this._fetchTimer = null;
    }
    super.dispose();
  }

  /** Poll for new and ended runs (only while someone looks at them). */
  protected async poll(): Promise<void> {
    const { token } = await requestAPI<Mlops.IChanges>(
      'changes',
      {},
      this._settings
    );
    const previous = this._token;
    this._token = token;
    if (previous !== null && previous !== token) {
      await this.refresh();
    }
  }

  private async _loadExperiments(): Promise<void> {
    try {
      const reply = await requestAPI<Mlops.IExperimentsReply>(
        'experiments',
        {},
        this._settings
      );
      this._experiments = reply.experiments;
      if (this._loadError !== null && this._total !== null) {
        this._loadError = null;
      }
    } catch (error) {
      this._loadError = errorMessage(error);
    }
    this.emitChanged();
  }

  /**
   * Fetch the first page for a new query; only if the server accepts it does it replace the
   * current rows. A refused filter leaves everything as it was, plus the server's message.
   */
  private async _replace(
    next: RunsModel.IQuery,
    isFilterChange = false
  ): Promise<boolean> {
    const seq = ++this._replaceSeq;
    this._loading = true;
    this.emitChanged();
    let page: Mlops.IRunsPage;
    try {
      page = await this._requestPage(next, 0);
    } catch (error) {
      if (seq !== this._replaceSeq) {
        return false;
      }
      this._loading = false;
      if (error instanceof ApiError && error.status === 400 && isFilterChange) {
        this._queryError = error.message;
      } else {
        this._loadError = errorMessage(error);
      }
      this.emitChanged();
      return false;
    }
    if (seq !== this._replaceSeq) {
      return false;
    }
    if (next.experiment !== this._query.experiment) {
      this._paramKeys.clear();
      this._metricKeys.clear();
    }
    this._query = next;
    this._queryError = null;
    this._loadError = null;
    this._loading = false;
    this._generation++;
    this._pages.clear();
    this._storePage(0, page, this._generation);
    if (this._autoColumns) {
      this._columns = RunsModel.defaultColumns(page.runs);
    }
    this._reset.emit();
    this.emitChanged();
    return true;
  }

  private _fetchWanted(): void {
    if (this.isDisposed || this._total === null) {
      return;
    }
    const [start, end] = this._wanted;
    const last = Math.min(end, Math.max(this._total, 1)) - 1;
    const first = Math.floor(start / this._pageSize);
    const lastPage = Math.floor(Math.max(start, last) / this._pageSize);
    for (let index = first; index <= lastPage; index++) {
      const page = this._pages.get(index);
      const key = `${this._generation}:${index}`;
      if (page?.generation === this._generation || this._inFlight.has(key)) {
        continue;
      }
      void this._fetchPage(index, this._generation, key);
    }
  }

  private async _fetchPage(
    index: number,
    generation: number,
    key: string
  ): Promise<void> {
    const queryAtStart = this._query;
    this._inFlight.add(key);
    try {
      const page = await this._requestPage(queryAtStart, index);
      if (generation !== this._generation || queryAtStart !== this._query) {
        return; // a newer query or refresh owns the cache now
      }
      this._storePage(index, page, generation);
      if (index === 0 && this._autoColumns) {
        this._columns = RunsModel.defaultColumns(page.runs);
      }
      this._loadError = null;
    } catch (error) {
      if (generation === this._generation) {
        this._loadError = errorMessage(error);
      }
    } finally {
      this._inFlight.delete(key);
    }
    this.emitChanged();
  }

  private _requestPage(
    q: RunsModel.IQuery,
    index: number
  ): Promise<Mlops.IRunsPage> {
    const qs = query({
      experiment: q.experiment,
      filter: q.filter,
      order_by: q.sort
        ? `${q.sort.field} ${q.sort.descending ? 'DESC' : 'ASC'}`
        : null,
      limit: this._pageSize,
      offset: index * this._pageSize
    });
    return requestAPI<Mlops.IRunsPage>(`runs${qs}`, {}, this._settings);
  }

  private _storePage(
    index: number,
    page: Mlops.IRunsPage,
    generation: number
  ): void {
    this._pages.set(index, { rows: page.runs, generation });
    this._total = page.total;
    for (const run of page.runs) {
      Object.keys(run.params).forEach(k => this._paramKeys.add(k));
      Object.keys(run.metrics).forEach(k => this._metricKeys.add(k));
    }
  }

  private _settings: ServerConnection.ISettings;
  private _pageSize: number;
  private _reset = new Signal<this, void>(this);
  private _experiments: Mlops.IExperiment[] = [];
  private _query: RunsModel.IQuery = {
    experiment: null,
    filter: '',
    sort: null
  };
  private _queryError: string | null = null;
  private _loadError: string | null = null;
  private _loading = false;
  private _total: number | null = null;
  private _generation = 0;
  private _replaceSeq = 0;
  private _pages = new Map<number, Private.IPage>();
  private _inFlight = new Set<string>();
  private _wanted: [number, number] = [0, 1];
  private _fetchTimer: number | null = null;
  private _token: string | null = null;
  private _columns: RunsModel.IColumn[] = [];
  private _autoColumns = true;
  private _paramKeys = new Set<string>();
  private _metricKeys = new Set<string>();
}

export namespace RunsModel {
  export interface IOptions {
    settings?: ServerConnection.ISettings;
    /** Rows per request (the server allows up to 1000). */
    pageSize?: number;
    /** Milliseconds between two `GET changes`. */
    pollInterval?: number;
  }

  export interface IQuery {
    experiment: string | null;
    filter: string;
    sort: ISort | null;
  }

  export interface ISort {
    columnId: string;
    /** The `order_by` field, e.g. `metrics.acc`. */
    field: string;
    descending: boolean;
  }

  export interface IColumn {
    /** `status`, `name`, ... or `params.<key>` / `metrics.<key>`; used in test ids. */
    id: string;
    kind: 'attribute' | 'param' | 'metric';
    /** The attribute's `order_by` name, or the param or metric key. */
    key: string;
  }

  /** The columns every table has, in order. */
  export const FIXED_COLUMNS: readonly IColumn[] = [
    { id: 'status', kind: 'attribute', key: 'status' },
    { id: 'name', kind: 'attribute', key: 'name' },
    { id: 'start', kind: 'attribute', key: 'start_time' },
    { id: 'duration', kind: 'attribute', key: 'duration' },
    { id: 'user', kind: 'attribute', key: 'user' }
  ];

  export function paramColumn(key: string): IColumn {
    return { id: `params.${key}`, kind: 'param', key };
  }

  export function metricColumn(key: string): IColumn {
    return { id: `metrics.${key}`, kind: 'metric', key };
  }

  export function isNumeric(column: IColumn): boolean {
    return column.kind === 'attribute'
      ? column.key === 'start_time' || column.key === 'duration'
      : column.kind === 'metric';
  }

  /** The `order_by` field for a column; keys are quoted, since `forest.max_depth` has a dot. */
  export function orderField(column: IColumn): string {
    if (column.kind === 'attribute') {
      return column.key;
    }
    const prefix = column.kind === 'param' ? 'params' : 'metrics';
    return `${prefix}.${quoteKey(column.key)}`;
  }

  export function quoteKey(key: string): string {
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      return key;
    }
    return key.includes('`') ? `"${key.replace(/"/g, '""')}"` : `\`${key}\``;
  }

  /** Until the user picks columns: the metrics most runs of the first page have, up to 4. */
  export function defaultColumns(
    runs: readonly Mlops.IRunSummary[]
  ): IColumn[] {
    const counts = new Map<string, number>();
    for (const run of runs) {
      for (const key of Object.keys(run.metrics)) {
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    return [...counts.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, 4)
      .map(([key]) => metricColumn(key));
  }
}

namespace Private {
  export interface IPage {
    rows: Mlops.IRunSummary[];
    generation: number;
  }
}
