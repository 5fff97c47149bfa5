import React, { useEffect, useState } from 'react';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { ServerConnection } from '@jupyterlab/services';
import { Message } from '@lumino/messaging';

import { ExperimentsTab } from '../components/ExperimentsTab';
import { IModelsActions, ModelsTab } from '../components/ModelsTab';
import { IPipelineActions, PipelinesTab } from '../components/PipelinesTab';
import { mlopsIcon } from '../icons';
import { RunsModel } from '../model';
import { PipelinesAPI } from '../pipelines';
import { ModelsModel } from '../registry';
import { RegistryAPI } from '../request';
import { Mlops } from '../tokens';

/**
 * The "MLOps" side panel. Its tabs are views over the store: Experiments (runs) first, then
 * Pipelines (graphs, runs and schedules), then Models (the registry).
 */
export class MlopsPanel extends ReactWidget {
  constructor(options: MlopsPanel.IOptions) {
    super();
    this._model = options.model;
    this._onOpenRun = options.onOpenRun;
    this._onCompare = options.onCompare;
    this._trans = options.trans;
    // A pipeline step's run and a model version's run are known by id and name.
    const openRun = (id: string, name: string) =>
      this._onOpenRun(runStub(id, name));
    this._pipelines = new PipelinesAPI(options.settings);
    this._pipelineActions = {
      openRun,
      openNotebook: options.onOpenNotebook,
      openUrl: options.onOpenUrl
    };
    this._models = new ModelsModel({ api: new RegistryAPI(options.settings) });
    this._modelsActions = {
      openRun,
      goToCell: options.goToCell,
      rendermime: options.rendermime ?? null
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

  /** The state behind the Models tab. */
  get models(): ModelsModel {
    return this._models;
  }

  dispose(): void {
    this._model.dispose();
    this._models.dispose();
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
        models={this._models}
        modelsActions={this._modelsActions}
        onTab={this._onTab}
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
    this._visible = active;
    this._model.active = active;
    this._models.active = active && this._tab === 'models';
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
  private _models: ModelsModel;
  private _modelsActions: IModelsActions;
  private _visible = false;
  private _tab = 'experiments';
  /** The registry is polled only while its tab is the one shown. */
  private _onTab = (tab: string): void => {
    this._tab = tab;
    this._models.active = this._visible && tab === 'models';
  };
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
    /** Opens a notebook at a run's cell (a model's lineage); throws an Error to show. */
    goToCell?: (info: Mlops.IRunInfo) => Promise<void>;
    /** The lab's renderers, for model cards (Markdown). */
    rendermime?: IRenderMimeRegistry | null;
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

/**
 * A tab's body, rendered from the first time its tab is the current one and then kept
 * (hidden while another tab is current), so what was open in it survives the visit.
 */
function KeptTab(props: {
  current: boolean;
  children: React.ReactNode;
}): JSX.Element | null {
  const [shown, setShown] = useState(false);
  if (props.current && !shown) {
    setShown(true);
  }
  if (!props.current && !shown) {
    return null;
  }
  return (
    <div className="jp-mlops-Panel-tab" hidden={!props.current} role="tabpanel">
      {props.children}
    </div>
  );
}

function PanelBody(props: {
  model: RunsModel;
  onOpenRun: (run: Mlops.IRunSummary) => void;
  onCompare?: (runIds: string[]) => void;
  pipelines: PipelinesAPI;
  pipelineActions: IPipelineActions;
  models: ModelsModel;
  modelsActions: IModelsActions;
  onTab: (tab: string) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { trans, onTab } = props;
  const [tab, setTab] = useState<string>('experiments');
  useEffect(() => onTab(tab), [tab, onTab]);
  const tabs = [
    { id: 'experiments', label: trans.__('Experiments') },
    { id: 'pipelines', label: trans.__('Pipelines') },
    { id: 'models', label: trans.__('Models') }
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
      {/* The selected pipeline and run survive a visit to another tab. */}
      <KeptTab current={tab === 'pipelines'}>
        <PipelinesTab
          api={props.pipelines}
          actions={props.pipelineActions}
          trans={trans}
        />
      </KeptTab>
      {/* The open model and version survive a visit to another tab. */}
      <KeptTab current={tab === 'models'}>
        <ModelsTab
          model={props.models}
          actions={props.modelsActions}
          trans={trans}
        />
      </KeptTab>
    </div>
  );
}
