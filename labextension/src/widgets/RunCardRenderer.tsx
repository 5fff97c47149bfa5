import React from 'react';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';

import { RunCard } from '../components/RunCard';
import { Mlops } from '../tokens';

/**
 * Renders a `%%track` cell's `application/vnd.jupyter-mlops.run+json` output as a card whose
 * "Open run" button opens the Run view.
 */
export class RunCardRenderer
  extends ReactWidget
  implements IRenderMime.IRenderer
{
  constructor(
    options: IRenderMime.IRendererOptions,
    private _trans: TranslationBundle,
    private _openRun: (runId: string) => void
  ) {
    super();
    this._mimeType = options.mimeType;
    this.addClass('jp-mlops-RunCardRenderer');
  }

  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this._run = asRunDisplay(model.data[this._mimeType]);
    this.update();
    return Promise.resolve();
  }

  protected render(): JSX.Element {
    const run = this._run;
    if (!run) {
      return (
        <div className="jp-mlops-RunCard jp-mlops-RunCard-invalid">
          {this._trans.__('Not a jupyter-mlops run summary.')}
        </div>
      );
    }
    return (
      <RunCard
        run={run}
        trans={this._trans}
        onOpen={() => this._openRun(run.info.id)}
      />
    );
  }

  private _mimeType: string;
  private _run: Mlops.IRunDisplay | null = null;
}

/** The renderer's rank: below text/html's 50, so the lab prefers the card. */
export const RUN_CARD_RANK = 40;

export function createRunCardFactory(
  trans: TranslationBundle,
  openRun: (runId: string) => void
): IRenderMime.IRendererFactory {
  return {
    safe: true,
    mimeTypes: [Mlops.RUN_MIME],
    defaultRank: RUN_CARD_RANK,
    createRenderer: options => new RunCardRenderer(options, trans, openRun)
  };
}

/** Output can come from any notebook: keep only what has the expected shape. */
function asRunDisplay(data: unknown): Mlops.IRunDisplay | null {
  if (!isObject(data) || !isObject(data.info)) {
    return null;
  }
  const info = data.info;
  if (
    typeof info.id !== 'string' ||
    typeof info.name !== 'string' ||
    typeof info.status !== 'string'
  ) {
    return null;
  }
  const summary = isObject(data.summary) ? data.summary : {};
  return {
    ...(data as unknown as Mlops.IRunDisplay),
    params: isObject(data.params) ? (data.params as Mlops.IRun['params']) : {},
    metrics: isObject(data.metrics)
      ? (data.metrics as Mlops.IRun['metrics'])
      : {},
    tags: isObject(data.tags) ? (data.tags as Mlops.IRun['tags']) : {},
    inputs: Array.isArray(data.inputs) ? data.inputs : [],
    outputs: Array.isArray(data.outputs) ? data.outputs : [],
    models: Array.isArray(data.models) ? data.models : [],
    artifacts: Array.isArray(data.artifacts) ? data.artifacts : [],
    summary: {
      duration_s:
        typeof summary.duration_s === 'number' ? summary.duration_s : 0,
      notes: Array.isArray(summary.notes) ? summary.notes.map(String) : []
    }
  };
}

function isObject(value: unknown): value is { [key: string]: any } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
