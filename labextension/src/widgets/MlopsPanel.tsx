import React, { useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';

import { ExperimentsTab } from '../components/ExperimentsTab';
import { mlopsIcon } from '../icons';
import { RunsModel } from '../model';
import { Mlops } from '../tokens';

/**
 * The "MLOps" side panel. Its tabs are views over the store; Experiments (runs) comes first,
 * models and pipelines will sit beside it.
 */
export class MlopsPanel extends ReactWidget {
  constructor(options: MlopsPanel.IOptions) {
    super();
    this._model = options.model;
    this._onOpenRun = options.onOpenRun;
    this._onCompare = options.onCompare;
    this._trans = options.trans;
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
}

export namespace MlopsPanel {
  export interface IOptions {
    model: RunsModel;
    onOpenRun: (run: Mlops.IRunSummary) => void;
    /** Opens the Compare view on the ticked runs. */
    onCompare?: (runIds: string[]) => void;
    trans: TranslationBundle;
  }
}

function PanelBody(props: {
  model: RunsModel;
  onOpenRun: (run: Mlops.IRunSummary) => void;
  onCompare?: (runIds: string[]) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  const [tab, setTab] = useState<string>('experiments');
  const tabs = [{ id: 'experiments', label: trans.__('Experiments') }];
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
    </div>
  );
}
