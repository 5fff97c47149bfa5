import React, { useEffect, useState } from 'react';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { TranslationBundle } from '@jupyterlab/translation';

import { ModelsModel } from '../registry';
import { Mlops } from '../tokens';
import { AlertBadge } from './AlertBadge';
import { AliasChips } from './AliasChips';
import { AuditList } from './AuditList';
import { ContinuousTraining } from './ContinuousTraining';
import { ModelMonitoring } from './ModelMonitoring';
import { ModelServers } from './ModelServers';
import { ModelVersions } from './ModelVersions';
import { StageBadge } from './StageBadge';
import { VersionDetail } from './VersionDetail';
import { useSignal } from './hooks';
import { RefreshButton, Section, pickable } from './parts';

/** Models listed before the filter has to narrow them. */
const MAX_LISTED = 200;
/** From this many models on, a filter box is shown. */
const FILTER_FROM = 10;

/** What the Models tab needs from the lab. */
export interface IModelsActions {
  /** Open a run in the run view. */
  openRun: (runId: string, name: string) => void;
  /** Open a notebook at a run's cell; no cell link without it. */
  goToCell?: (info: Mlops.IRunInfo) => Promise<void>;
  /** Draws model cards (Markdown); shown as text without it. */
  rendermime?: IRenderMimeRegistry | null;
}

/** Registered models at a glance: name, Production and Staging versions, aliases. */
function ModelList(props: {
  models: readonly Mlops.IModelSummary[];
  /** Each model's monitoring state (a warn or alert shows on its row). */
  monitoring: ReadonlyMap<string, Mlops.IModelMonitoring> | null;
  selected: string | null;
  onSelect: (name: string) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { trans, selected, onSelect } = props;
  const [filter, setFilter] = useState('');
  const needle = filter.trim().toLowerCase();
  const matching = needle
    ? props.models.filter(m => m.name.toLowerCase().includes(needle))
    : props.models;
  const shown = matching.slice(0, MAX_LISTED);
  return (
    <div className="jp-mlops-ModelList-wrap">
      {props.models.length >= FILTER_FROM && (
        <input
          className="jp-mlops-Input jp-mlops-ModelList-filter"
          data-testid="mlops-models-filter"
          placeholder={trans.__('Filter models')}
          value={filter}
          onChange={event => setFilter(event.target.value)}
        />
      )}
      <ul className="jp-mlops-ModelList" role="listbox">
        {shown.map(m => {
          const stages = m.stages ?? {};
          const watched = props.monitoring?.get(m.name);
          return (
            <li
              key={m.name}
              role="option"
              {...pickable('jp-mlops-ModelList-item', m.name === selected, () =>
                onSelect(m.name)
              )}
              data-testid="mlops-model"
              data-model={m.name}
              title={m.description || m.name}
            >
              <div className="jp-mlops-ModelList-line">
                <span className="jp-mlops-ModelList-name">{m.name}</span>
                {watched && watched.state !== 'ok' && (
                  <AlertBadge
                    state={watched.state}
                    title={trans.__(
                      'Monitoring: %1',
                      watched.alerts
                        .filter(a => a.state !== 'ok')
                        .map(a => `${a.rule} ${a.state}`)
                        .join(', ')
                    )}
                    trans={trans}
                  />
                )}
                <span className="jp-mlops-ModelList-count">
                  {trans._n('%1 version', '%1 versions', m.versions)}
                </span>
              </div>
              <div className="jp-mlops-ModelList-line jp-mlops-ModelList-badges">
                {typeof stages.Production === 'number' && (
                  <StageBadge stage="Production" version={stages.Production} />
                )}
                {typeof stages.Staging === 'number' && (
                  <StageBadge stage="Staging" version={stages.Staging} />
                )}
                <AliasChips aliases={m.aliases ?? {}} />
                {typeof stages.Production !== 'number' &&
                  typeof stages.Staging !== 'number' &&
                  Object.keys(m.aliases ?? {}).length === 0 && (
                    <span className="jp-mlops-Muted">
                      {trans.__('nothing staged')}
                    </span>
                  )}
              </div>
            </li>
          );
        })}
      </ul>
      {matching.length > shown.length && (
        <div className="jp-mlops-Muted jp-mlops-ModelList-more">
          {trans.__(
            '%1 more: filter to find them.',
            matching.length - shown.length
          )}
        </div>
      )}
    </div>
  );
}

/** The gate configuration in one line: which stages it guards and which gates it runs. */
function gatesLine(
  gates: { [key: string]: unknown } | null,
  trans: TranslationBundle
): string {
  if (!gates) {
    return trans.__('no gates');
  }
  const names = ['metrics', 'champion', 'robustness', 'latency', 'fairness'];
  const on = names.filter(n => gates[n] !== null && gates[n] !== undefined);
  const stages = Array.isArray(gates.stages)
    ? gates.stages.map(String).join(', ')
    : 'Production';
  return trans.__(
    'gates %1 guard %2',
    on.length ? on.join(', ') : trans.__('(none)'),
    stages
  );
}

/** The open model: what it is, its versions, the selected version, its servers, its
 * monitoring, its continuous training, its audit. */
function ModelDetail(props: {
  model: ModelsModel;
  actions: IModelsActions;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { model, actions, trans } = props;
  const detail = model.detail;
  const [selected, setSelected] = useState<number | null>(null);

  // A version is shown from the start: the one in Production, else the newest.
  useEffect(() => {
    if (!detail || detail.versions.length === 0) {
      return;
    }
    if (
      selected === null ||
      !detail.versions.some(v => v.version === selected)
    ) {
      const production = detail.versions.find(v => v.stage === 'Production');
      const newest = detail.versions.reduce((a, b) =>
        b.version > a.version ? b : a
      );
      setSelected((production ?? newest).version);
    }
  }, [detail, selected]);

  if (model.detailError && !detail) {
    return (
      <div
        className="jp-mlops-InlineError"
        role="alert"
        data-testid="mlops-model-error"
      >
        {model.detailError}
      </div>
    );
  }
  if (!detail) {
    return <div className="jp-mlops-Muted">{trans.__('Loading model…')}</div>;
  }
  const info = detail.model;
  const row = detail.versions.find(v => v.version === selected) ?? null;
  const tags = Object.entries(info.tags ?? {});
  const onChanged = () => void model.refresh();
  return (
    <div
      className="jp-mlops-ModelDetail"
      data-testid="mlops-model-detail"
      data-model={info.name}
    >
      <Section
        title={info.name}
        titleHint={info.name}
        extra={
          <span className="jp-mlops-PipelineSection-sub">
            {gatesLine(info.gates, trans)}
          </span>
        }
      >
        {model.detailError && (
          <div className="jp-mlops-InlineError" role="alert">
            {model.detailError}
          </div>
        )}
        {info.description && (
          <div className="jp-mlops-ModelDetail-description">
            {info.description}
          </div>
        )}
        <div className="jp-mlops-ModelDetail-facts">
          <span>
            {info.required_approvals > 0
              ? trans.__(
                  'Production needs %1 approval(s)',
                  info.required_approvals
                )
              : trans.__('No approval needed for Production')}
          </span>
          {tags.map(([k, v]) => (
            <span key={k} className="jp-mlops-Tag" title={`${k}=${v}`}>
              {`${k}=${v}`}
            </span>
          ))}
        </div>
        <ModelVersions
          versions={detail.versions}
          monitoring={model.monitoring.stateOf(info.name)}
          requiredApprovals={info.required_approvals}
          selected={selected}
          onSelect={setSelected}
          trans={trans}
        />
      </Section>
      {row && (
        <section className="jp-mlops-PipelineSection">
          <VersionDetail
            key={`${info.name}/${row.version}`}
            api={model.api}
            model={info}
            aliases={detail.aliases}
            row={row}
            generation={model.generation}
            onChanged={onChanged}
            servers={model.servers}
            onOpenRun={actions.openRun}
            goToCell={actions.goToCell}
            rendermime={actions.rendermime}
            trans={trans}
          />
        </section>
      )}
      <ModelServers
        name={info.name}
        aliases={detail.aliases}
        servers={model.servers}
        trans={trans}
      />
      <ModelMonitoring
        name={info.name}
        versions={detail.versions}
        monitoring={model.monitoring}
        trans={trans}
      />
      <ContinuousTraining
        name={info.name}
        ct={model.ct}
        api={model.api}
        onChanged={onChanged}
        onOpenRun={actions.openRun}
        trans={trans}
      />
      <Section title={trans.__('Audit history')}>
        <AuditList entries={model.audit} trans={trans} />
      </Section>
    </div>
  );
}

/**
 * The Models tab: registered models with their stages and aliases at a glance; the open
 * model's versions, actions, gate reports, lineage, card, live servers and audit.
 */
export function ModelsTab(props: {
  model: ModelsModel;
  actions: IModelsActions;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, actions, trans } = props;
  useSignal(model.changed);
  useSignal(model.monitoring.changed);
  const models = model.models;
  const countText =
    models === null
      ? trans.__('Loading…')
      : trans._n('%1 registered model', '%1 registered models', models.length);
  return (
    <div className="jp-mlops-ModelsTab" data-testid="mlops-models-tab">
      <div className="jp-mlops-ExperimentsTab-toolbar">
        <span className="jp-mlops-ExperimentsTab-count">{countText}</span>
        {model.selected !== null && (
          <button
            className="jp-mlops-Button"
            data-testid="mlops-models-back"
            title={trans.__('Back to all models')}
            onClick={() => void model.select(null)}
          >
            {trans.__('All models')}
          </button>
        )}
        <RefreshButton
          testId="mlops-models-refresh"
          onClick={() => void model.refresh()}
          trans={trans}
        />
      </div>
      {model.loadError && (
        <div
          className="jp-mlops-Error"
          role="alert"
          data-testid="mlops-models-error"
        >
          {model.loadError}
        </div>
      )}
      <div className="jp-mlops-PipelinesTab-scroll">
        {models !== null && models.length === 0 && !model.loadError && (
          <div className="jp-mlops-Muted jp-mlops-PipelinesTab-empty">
            {trans.__(
              'No registered model yet. Register one from a run (its Models section) or with client.register_model.'
            )}
          </div>
        )}
        {models !== null && models.length > 0 && (
          <ModelList
            models={models}
            monitoring={model.monitoring.states}
            selected={model.selected}
            onSelect={name => void model.select(name)}
            trans={trans}
          />
        )}
        {model.selected !== null && (
          <div className="jp-mlops-Pipeline">
            <ModelDetail
              key={model.selected}
              model={model}
              actions={actions}
              trans={trans}
            />
          </div>
        )}
      </div>
    </div>
  );
}
