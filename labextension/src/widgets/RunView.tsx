import React from 'react';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';

import { MetricCharts } from '../components/MetricCharts';
import { RunDetails } from '../components/RunDetails';
import { Highlighter } from '../components/RunSections';
import { RegistryAPI, errorMessage, requestAPI } from '../request';
import { Mlops } from '../tokens';

/** How often an open view of a running run reloads it. */
const RUNNING_RELOAD_MS = 2000;

/**
 * One run in the main area (the content of a MainAreaWidget titled with the run's name).
 */
export class RunView extends ReactWidget {
  constructor(options: RunView.IOptions) {
    super();
    this._runId = options.runId;
    this._settings = options.settings ?? ServerConnection.makeSettings();
    this._trans = options.trans;
    this._goToCell = options.goToCell ?? null;
    this._highlight = options.highlight ?? null;
    this._registry = new RegistryAPI(this._settings);
    this.addClass('jp-mlops-RunView');
    this.title.label = this._trans.__('Run %1', this._runId.slice(0, 8));
    this.title.caption = this._trans.__('Run %1', this._runId);
    void this.load();
  }

  get runId(): string {
    return this._runId;
  }

  get run(): Mlops.IRun | null {
    return this._run;
  }

  /** (Re)load the run from the server. */
  async load(): Promise<void> {
    try {
      const run = await requestAPI<Mlops.IRun>(
        `runs/${encodeURIComponent(this._runId)}`,
        {},
        this._settings
      );
      if (this.isDisposed) {
        return;
      }
      this._run = run;
      this._error = null;
      this.title.label =
        run.info.name || this._trans.__('Run %1', run.info.id.slice(0, 8));
      this.title.caption = `${run.info.name}\n${run.info.experiment_name} · ${run.info.id}`;
    } catch (error) {
      if (this.isDisposed) {
        return;
      }
      this._error = errorMessage(error);
    }
    this.update();
    this._scheduleReload();
  }

  /** Open the run's notebook at its cell; a failure is shown in the view. */
  async goToCell(): Promise<void> {
    if (!this._goToCell || !this._run) {
      return;
    }
    this._goToCellError = null;
    this.update();
    try {
      await this._goToCell(this._run.info);
    } catch (error) {
      this._goToCellError = errorMessage(error);
    }
    if (!this.isDisposed) {
      this.update();
    }
  }

  dispose(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
    }
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._scheduleReload();
  }

  protected render(): JSX.Element {
    if (this._error !== null) {
      return (
        <div
          className="jp-mlops-Error"
          role="alert"
          data-testid="mlops-run-view-error"
        >
          {this._error}
        </div>
      );
    }
    if (this._run === null) {
      return (
        <div className="jp-mlops-Loading">{this._trans.__('Loading run…')}</div>
      );
    }
    return (
      <RunDetails
        run={this._run}
        trans={this._trans}
        highlight={this._highlight}
        onGoToCell={this._goToCell ? this._onGoToCell : null}
        goToCellError={this._goToCellError}
        registry={this._registry}
        charts={
          <MetricCharts
            run={this._run}
            settings={this._settings}
            trans={this._trans}
          />
        }
      />
    );
  }

  private _scheduleReload(): void {
    if (
      this._timer !== null ||
      this.isDisposed ||
      !this.isAttached ||
      this._run?.info.status !== 'RUNNING'
    ) {
      return;
    }
    this._timer = window.setTimeout(() => {
      this._timer = null;
      void this.load();
    }, RUNNING_RELOAD_MS);
  }

  private _runId: string;
  private _settings: ServerConnection.ISettings;
  private _run: Mlops.IRun | null = null;
  private _error: string | null = null;
  private _timer: number | null = null;
  private _trans: TranslationBundle;
  private _goToCell: ((info: Mlops.IRunInfo) => Promise<void>) | null;
  private _goToCellError: string | null = null;
  private _highlight: Highlighter | null;
  private _registry: RegistryAPI;
  private _onGoToCell = (): void => {
    void this.goToCell();
  };
}

export namespace RunView {
  export interface IOptions {
    runId: string;
    settings?: ServerConnection.ISettings;
    trans: TranslationBundle;
    /** Opens the run's notebook at its cell; throws an Error with a message to show. */
    goToCell?: (info: Mlops.IRunInfo) => Promise<void>;
    /** Syntax highlighting for the cell source. */
    highlight?: Highlighter;
  }
}
