import React from 'react';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';

import { RunCard, RunCardDetails } from '../components/RunCard';
import { ApiError, errorMessage, requestAPI } from '../request';
import { Mlops } from '../tokens';

/**
 * Renders a `%%track` cell's `application/vnd.jupyter-mlops.run+json` output as a card: the
 * summary saved with the notebook at once, then the run's details fetched from the store
 * (the notebook keeps only a summary, to stay small). "Open run" opens the Run view.
 */
export class RunCardRenderer
  extends ReactWidget
  implements IRenderMime.IRenderer
{
  constructor(
    options: IRenderMime.IRendererOptions,
    private _trans: TranslationBundle,
    private _openRun: (runId: string) => void,
    private _settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {
    super();
    this._mimeType = options.mimeType;
    this.addClass('jp-mlops-RunCardRenderer');
  }

  /** Draws the summary; the details follow when the server answers (not awaited here). */
  renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const summary = asCellSummary(model.data[this._mimeType]);
    const runId = summary?.info.id ?? null;
    if (runId !== (this._summary?.info.id ?? null)) {
      this._details = { state: 'loading' };
      if (runId !== null) {
        void this._fetch(runId);
      }
    }
    this._summary = summary;
    this.update();
    return Promise.resolve();
  }

  protected render(): JSX.Element {
    const summary = this._summary;
    if (!summary) {
      return (
        <div className="jp-mlops-RunCard jp-mlops-RunCard-invalid">
          {this._trans.__('Not a jupyter-mlops run summary.')}
        </div>
      );
    }
    const known = this._details.state !== 'missing';
    return (
      <RunCard
        summary={summary}
        details={this._details}
        trans={this._trans}
        onOpen={known ? () => this._openRun(summary.info.id) : undefined}
      />
    );
  }

  private async _fetch(runId: string): Promise<void> {
    let details: RunCardDetails;
    try {
      const run = await requestAPI<Mlops.IRun>(
        `runs/${encodeURIComponent(runId)}`,
        {},
        this._settings
      );
      details = { state: 'loaded', run };
    } catch (error) {
      details =
        error instanceof ApiError && error.status === 404
          ? { state: 'missing' }
          : { state: 'failed', message: errorMessage(error) };
    }
    if (this.isDisposed || this._summary?.info.id !== runId) {
      return; // the output changed while the request was out
    }
    this._details = details;
    this.update();
  }

  private _mimeType: string;
  private _summary: Mlops.ICellSummary | null = null;
  private _details: RunCardDetails = { state: 'loading' };
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

/**
 * Output can come from any notebook: keep only what has the expected shape. Notebooks saved
 * before summaries were compact carry the whole run; it is read as a summary too.
 */
export function asCellSummary(data: unknown): Mlops.ICellSummary | null {
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
  const old = isObject(data.summary) ? data.summary : null;
  const params = stringValues(data.params);
  const metrics = isObject(data.metrics)
    ? (data.metrics as { [key: string]: Mlops.MetricValue })
    : {};
  const inputs = labels(data.inputs, datasetLabel);
  const outputs = labels(data.outputs, datasetLabel);
  const models = labels(data.models, modelLabel);
  const notes = labels(old ? old.notes : data.notes, () => null);
  const counts: Mlops.ICellSummary['counts'] = isObject(data.counts)
    ? (data.counts as Mlops.ICellSummary['counts'])
    : {
        params: Object.keys(params).length,
        metrics: Object.keys(metrics).length,
        inputs: inputs.length,
        outputs: outputs.length,
        models: models.length,
        notes: notes.length
      };
  const duration = old ? old.duration_s : data.duration_s;
  return {
    info: {
      id: info.id,
      name: info.name,
      experiment_name: String(info.experiment_name ?? ''),
      status: info.status as Mlops.RunStatus,
      error_name: typeof info.error_name === 'string' ? info.error_name : null,
      error_value:
        info.error_value === null || info.error_value === undefined
          ? null
          : String(info.error_value)
    },
    duration_s: typeof duration === 'number' ? duration : 0,
    counts,
    params,
    metrics,
    inputs,
    outputs,
    models,
    notes
  };
}

function isObject(value: unknown): value is { [key: string]: any } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringValues(value: unknown): { [key: string]: string } {
  const out: { [key: string]: string } = {};
  if (isObject(value)) {
    for (const [key, v] of Object.entries(value)) {
      out[key] = String(v);
    }
  }
  return out;
}

/** Strings as they are; objects (a whole run's entries) through `label`. */
function labels(
  value: unknown,
  label: (item: { [key: string]: any }) => string | null
): string[] {
  if (!Array.isArray(value)) {
    return [];
  }
  return value
    .map(item =>
      typeof item === 'string' ? item : isObject(item) ? label(item) : null
    )
    .filter((item): item is string => item !== null);
}

function datasetLabel(d: { [key: string]: any }): string | null {
  if (typeof d.name !== 'string') {
    return null;
  }
  const shape = Array.isArray(d.shape) ? d.shape.join('×') : String(d.kind);
  const fingerprint = String(d.fingerprint ?? '')
    .split(':')
    .pop()!
    .slice(0, 8);
  return `${d.name} [${shape}] ${fingerprint}`;
}

function modelLabel(m: { [key: string]: any }): string | null {
  if (typeof m.name !== 'string') {
    return null;
  }
  return `${m.name} (${String(m.model_class ?? '')
    .split('.')
    .pop()})`;
}
