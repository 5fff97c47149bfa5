import React, { useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { ServerConnection } from '@jupyterlab/services';
import { Message } from '@lumino/messaging';

import { ExperimentsTab } from '../components/ExperimentsTab';
import { IPipelineActions, PipelinesTab } from '../components/PipelinesTab';
import { mlopsIcon } from '../icons';
import { RunsModel } from '../model';
import { PipelinesAPI } from '../pipelines';
import { Mlops } from '../tokens';

/**
 * The "MLOps" side panel. Its tabs are views over the store: Experiments (runs) first, then
 * Pipelines (graphs, runs and schedules).
 */
export class MlopsPanel extends ReactWidget {
  constructor(options: MlopsPanel.IOptions) {
    super();
    this._model = options.model;
    this._onOpenRun = options.onOpenRun;
    this._onCompare = options.onCompare;
    this._trans = options.trans;
    this._pipelines = new PipelinesAPI(options.settings);
    this._pipelineActions = {
      openRun: (id, name) => this._onOpenRun(runStub(id, name)),
      openNotebook: options.onOpenNotebook,
      openUrl: options.onOpenUrl
    };
    this.id = 'jupyter-mlops-panel';
    this.addClass('jp-mlops-Panel');
    this.node.dataset.testid = 'mlops-panel';
    this.title.icon = mlopsIcon;
    this.title.caption = this._trans.__('MLOps');
  }

  get model(): RunsModel {
    return this._model;
  }

  dispose(): void {
    this._model.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    return (
      <PanelBody
        model={this._model}
        onOpenRun={this._onOpenRun}
        onCompare={this._onCompare}
        pipelines={this._pipelines}
        pipelineActions={this._pipelineActions}
        trans={this._trans}
      />
    );
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._setActive(this.isVisible);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._setActive(true);
  }

  protected onAfterHide(msg: Message): void {
    super.onAfterHide(msg);
    this._setActive(false);
  }

  protected onBeforeDetach(msg: Message): void {
    this._setActive(false);
    super.onBeforeDetach(msg);
  }

  /** Poll only while the panel is on screen; load on first sight. */
  private _setActive(active: boolean): void {
    this._model.active = active;
    if (active && !this._loaded) {
      this._loaded = true;
      void this._model.load();
    }
  }

  private _model: RunsModel;
  private _onOpenRun: (run: Mlops.IRunSummary) => void;
  private _onCompare?: (runIds: string[]) => void;
  private _loaded = false;
  private _trans: TranslationBundle;
  private _pipelines: PipelinesAPI;
  private _pipelineActions: IPipelineActions;
}

export namespace MlopsPanel {
  export interface IOptions {
    model: RunsModel;
    onOpenRun: (run: Mlops.IRunSummary) => void;
    /** Opens the Compare view on the ticked runs. */
    onCompare?: (runIds: string[]) => void;
    /** Opens a notebook by its server path, reloaded from disk when already open. */
    onOpenNotebook?: (path: string) => Promise<void>;
    /** Opens a URL in a new browser tab (default: `window.open`). */
    onOpenUrl?: (url: string) => void;
    /** The server (default: the one the lab was loaded from). */
    settings?: ServerConnection.ISettings;
    trans: TranslationBundle;
  }
}

/**
 * A run known only by id and name (a pipeline step's run), for `onOpenRun`, which opens the
 * run view by id.
 */
function runStub(id: string, name: string): Mlops.IRunSummary {
  return {
    id,
    name,
    experiment: '',
    status: 'FINISHED',
    start_time: 0,
    end_time: null,
    duration_ms: null,
    user: '',
    notebook_path: null,
    cell_id: null,
    params: {},
    metrics: {},
    tags: {}
  };
}

function PanelBody(props: {
  model: RunsModel;
  onOpenRun: (run: Mlops.IRunSummary) => void;
  onCompare?: (runIds: string[]) => void;
  pipelines: PipelinesAPI;
  pipelineActions: IPipelineActions;
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  const [tab, setTab] = useState<string>('experiments');
  const [pipelinesShown, setPipelinesShown] = useState(false);
  if (tab === 'pipelines' && !pipelinesShown) {
    setPipelinesShown(true);
  }
  const tabs = [
    { id: 'experiments', label: trans.__('Experiments') },
    { id: 'pipelines', label: trans.__('Pipelines') }
  ];
  return (
    <div className="jp-mlops-Panel-body">
      <div className="jp-mlops-Panel-header">
        <span className="jp-mlops-Panel-title">{trans.__('MLOps')}</span>
        <div className="jp-mlops-Tabs" role="tablist">
          {tabs.map(t => (
            <button
              key={t.id}
              role="tab"
              aria-selected={tab === t.id}
              className={
                'jp-mlops-Tab' + (tab === t.id ? ' jp-mod-current' : '')
              }
              data-testid={`mlops-tab-${t.id}`}
              onClick={() => setTab(t.id)}
            >
              {t.label}
            </button>
          ))}
        </div>
      </div>
      {tab === 'experiments' && (
        <ExperimentsTab
          model={props.model}
          onOpenRun={props.onOpenRun}
          onCompare={props.onCompare}
          trans={trans}
        />
      )}
      {/* Kept once shown, so the selected pipeline and run survive a visit to Experiments. */}
      {(tab === 'pipelines' || pipelinesShown) && (
        <div
          className="jp-mlops-Panel-tab"
          hidden={tab !== 'pipelines'}
          role="tabpanel"
        >
          <PipelinesTab
            api={props.pipelines}
            actions={props.pipelineActions}
            trans={trans}
          />
        </div>
      )}
    </div>
  );
}
