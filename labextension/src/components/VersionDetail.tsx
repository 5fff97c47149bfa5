import React, { useState } from 'react';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatTime } from '../format';
import { RegistryAPI } from '../request';
import { ServersModel } from '../serving';
import { Mlops } from '../tokens';
import { AliasChips } from './AliasChips';
import { GateReport } from './GateReport';
import { ModelCard } from './ModelCard';
import { ModelLineage } from './ModelLineage';
import { StageBadge } from './StageBadge';
import { VersionActions } from './VersionActions';
import { useFetched } from './hooks';

/** A part of the version that is read only when opened (lineage, card). */
function Disclosure(props: {
  title: string;
  testId: string;
  children: () => React.ReactNode;
}): JSX.Element {
  const [open, setOpen] = useState(false);
  return (
    <details
      className="jp-mlops-Disclosure"
      data-testid={props.testId}
      onToggle={event => setOpen((event.target as HTMLDetailsElement).open)}
    >
      <summary className="jp-mlops-Disclosure-summary">{props.title}</summary>
      {open && props.children()}
    </details>
  );
}

/**
 * One version of the open model: its stage, aliases and run, the actions on it, its gate
 * reports (newest first), approvals, and on demand its lineage and model card.
 */
export function VersionDetail(props: {
  api: RegistryAPI;
  model: Mlops.IRegisteredModel;
  aliases: readonly Mlops.IModelAlias[];
  row: Mlops.IVersionRow;
  /** Bumps when the model was read again. */
  generation: number;
  onChanged: () => void;
  /** The model's servers (Serve starts one for this version). */
  servers?: ServersModel;
  onOpenRun: (runId: string, name: string) => void;
  goToCell?: (info: Mlops.IRunInfo) => Promise<void>;
  rendermime?: IRenderMimeRegistry | null;
  trans: TranslationBundle;
}): JSX.Element {
  const { api, model, row, trans, generation } = props;
  const { value: detail, error } = useFetched(
    () => api.version(model.name, row.version),
    [api, model.name, row.version, generation]
  );
  const [reportSha, setReportSha] = useState<string | null>(null);

  const reports = Array.isArray(detail?.reports) ? detail!.reports : [];
  const report =
    reports.find(r => r.sha256 === reportSha) ?? reports[0] ?? null;
  const approvals = Array.isArray(row.approvals) ? row.approvals : [];
  return (
    <div
      className="jp-mlops-VersionDetail"
      data-testid="mlops-version-detail"
      data-version={row.version}
      data-stage={row.stage}
    >
      <div className="jp-mlops-VersionDetail-head">
        <span className="jp-mlops-VersionDetail-title">
          {trans.__('Version %1', row.version)}
        </span>
        <StageBadge stage={row.stage} />
        <AliasChips aliases={row.aliases ?? []} />
      </div>
      <div className="jp-mlops-VersionDetail-facts">
        <span title={formatTime(row.created_at)}>
          {trans.__(
            'Registered by %1 · %2',
            row.created_by,
            formatTime(row.created_at)
          )}
        </span>
        {row.run_id && (
          <button
            className="jp-mlops-Link"
            data-testid="mlops-version-run"
            title={trans.__('Open run %1', row.run_id)}
            onClick={() =>
              props.onOpenRun(row.run_id, `${model.name} v${row.version}`)
            }
          >
            {trans.__('run %1', row.run_id.slice(0, 8))}
          </button>
        )}
        <span className="jp-mlops-Muted" title={row.sha256}>
          {`sha256 ${row.sha256.slice(0, 12)}`}
        </span>
      </div>
      {row.description && (
        <div className="jp-mlops-VersionDetail-description">
          {row.description}
        </div>
      )}
      <VersionActions
        key={`${model.name}/${row.version}`}
        api={api}
        model={model}
        version={row}
        aliases={props.aliases}
        onChanged={props.onChanged}
        servers={props.servers}
        trans={trans}
      />
      <div className="jp-mlops-VersionDetail-part">
        <div className="jp-mlops-Lineage-title">
          {trans.__('Gate report')}
          {reports.length > 1 && (
            <select
              className="jp-mlops-Select jp-mlops-VersionDetail-reports"
              data-testid="mlops-report-select"
              value={report?.sha256 ?? ''}
              onChange={event => setReportSha(event.target.value)}
            >
              {reports.map((r, i) => (
                <option key={r.sha256} value={r.sha256}>
                  {`${i === 0 ? trans.__('newest') : formatTime(r.created_at)} · ${
                    r.passed ? trans.__('passed') : trans.__('failed')
                  }`}
                </option>
              ))}
            </select>
          )}
        </div>
        {error && (
          <div className="jp-mlops-InlineError" role="alert">
            {error}
          </div>
        )}
        {report ? (
          <GateReport report={report} openFailed trans={trans} />
        ) : (
          detail && (
            <div className="jp-mlops-Muted" data-testid="mlops-no-report">
              {model.gates
                ? trans.__('No gate report yet: Validate runs the gates.')
                : trans.__('This model has no gates configured.')}
            </div>
          )
        )}
      </div>
      <div className="jp-mlops-VersionDetail-part">
        <div className="jp-mlops-Lineage-title">
          {trans.__('Approvals')}
          <span className="jp-mlops-KeyValueTable-count">
            {model.required_approvals > 0
              ? `${approvals.length}/${model.required_approvals}`
              : `${approvals.length}`}
          </span>
        </div>
        {approvals.length === 0 ? (
          <div className="jp-mlops-Muted">{trans.__('None.')}</div>
        ) : (
          <ul className="jp-mlops-Approvals" data-testid="mlops-approvals">
            {approvals.map(a => (
              <li key={`${a.actor}-${a.at}`}>
                <span className="jp-mlops-Approvals-who">{a.actor}</span>
                <span className="jp-mlops-Muted">{formatTime(a.at)}</span>
                {a.reason && (
                  <span className="jp-mlops-Approvals-reason">{a.reason}</span>
                )}
              </li>
            ))}
          </ul>
        )}
      </div>
      <Disclosure title={trans.__('Lineage')} testId="mlops-lineage-section">
        {() => (
          <ModelLineage
            api={api}
            name={model.name}
            version={row.version}
            generation={generation}
            onOpenRun={props.onOpenRun}
            goToCell={props.goToCell}
            trans={trans}
          />
        )}
      </Disclosure>
      <Disclosure title={trans.__('Model card')} testId="mlops-card-section">
        {() => (
          <ModelCard
            api={api}
            name={model.name}
            version={row.version}
            generation={generation}
            rendermime={props.rendermime}
            trans={trans}
          />
        )}
      </Disclosure>
    </div>
  );
}
