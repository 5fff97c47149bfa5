import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatShortTime, formatTime } from '../format';
import { Mlops } from '../tokens';
import { AlertBadge } from './AlertBadge';
import { AliasChips } from './AliasChips';
import { GateVerdict } from './GateReport';
import { StageBadge } from './StageBadge';
import { usePages } from './hooks';
import { ShowOlder, pickable } from './parts';

/** Versions shown before "Show older": a model retrained every night has many. */
const PAGE = 30;

/**
 * A version's monitoring: whether it has a reference to check its traffic against, and its
 * alert rules' loudest state when it served the windows they last judged.
 */
function VersionMonitoring(props: {
  monitoring: Mlops.IVersionMonitoring | undefined;
  trans: TranslationBundle;
}): JSX.Element {
  const { monitoring, trans } = props;
  const reference = monitoring?.reference ?? null;
  return (
    <span
      className="jp-mlops-VersionMonitoring"
      data-testid="mlops-version-monitoring"
      data-reference={monitoring ? (reference ? 'yes' : 'no') : ''}
      data-state={monitoring?.state ?? ''}
    >
      {monitoring && (
        <span
          className={`jp-mlops-Reference${reference ? '' : ' jp-mod-none'}`}
          title={
            reference
              ? trans.__(
                  'Reference: %1 rows (%2), %3',
                  reference.rows,
                  reference.source,
                  formatTime(reference.created_at)
                )
              : trans.__(
                  'No monitoring reference: %%track builds one when a cell fits the model, or mlops.build_reference'
                )
          }
        >
          {reference ? trans.__('ref') : trans.__('no ref')}
        </span>
      )}
      {monitoring?.state && (
        <AlertBadge state={monitoring.state} trans={trans} />
      )}
    </span>
  );
}

/**
 * A model's versions, newest first: version, stage, aliases, gate verdict, approvals
 * (n/required), monitoring (reference, alert state) and who registered it when. A click
 * selects a version.
 */
export function ModelVersions(props: {
  versions: readonly Mlops.IVersionRow[];
  /** The model's monitoring state (null while it loads). */
  monitoring?: Mlops.IModelMonitoring | null;
  requiredApprovals: number;
  selected: number | null;
  onSelect: (version: number) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { trans, selected, onSelect } = props;
  const [count, more] = usePages(PAGE);
  const versions = [...props.versions].sort((a, b) => b.version - a.version);
  // The selected version stays listed even when it is older than the page.
  const shown = versions.filter((v, i) => i < count || v.version === selected);
  const watched = new Map(
    (props.monitoring?.versions ?? []).map(m => [m.version, m])
  );
  if (versions.length === 0) {
    return (
      <div className="jp-mlops-Muted">{trans.__('No version registered.')}</div>
    );
  }
  return (
    <div className="jp-mlops-TableScroll jp-mlops-ModelVersions-scroll">
      <table
        className="jp-mlops-Grid jp-mlops-ModelVersions"
        data-testid="mlops-model-versions"
      >
        <thead>
          <tr>
            <th>{trans.__('Version')}</th>
            <th>{trans.__('Stage')}</th>
            <th className="jp-mlops-ModelVersions-wide">
              {trans.__('Aliases')}
            </th>
            <th>{trans.__('Gates')}</th>
            <th title={trans.__('Approvals / required for Production')}>
              {trans.__('Appr.')}
            </th>
            <th title={trans.__('Monitoring: reference and alert state')}>
              {trans.__('Monitor')}
            </th>
            <th className="jp-mlops-ModelVersions-wide">
              {trans.__('Created')}
            </th>
          </tr>
        </thead>
        <tbody>
          {shown.map(v => {
            const approvals = Array.isArray(v.approvals) ? v.approvals : [];
            return (
              <tr
                key={v.version}
                {...pickable(
                  'jp-mlops-ModelVersions-row',
                  v.version === selected,
                  () => onSelect(v.version)
                )}
                data-testid="mlops-version-row"
                data-version={v.version}
                data-stage={v.stage}
              >
                <td className="jp-mlops-Number">{`v${v.version}`}</td>
                <td>
                  <StageBadge stage={v.stage} />
                </td>
                <td className="jp-mlops-ModelVersions-wide">
                  <AliasChips aliases={v.aliases ?? []} />
                </td>
                <td>
                  <GateVerdict report={v.report} trans={trans} />
                </td>
                <td
                  className="jp-mlops-Number"
                  data-testid="mlops-version-approvals"
                  title={approvals
                    .map(a => `${a.actor}${a.reason ? `: ${a.reason}` : ''}`)
                    .join('\n')}
                >
                  {props.requiredApprovals > 0
                    ? `${approvals.length}/${props.requiredApprovals}`
                    : `${approvals.length}`}
                </td>
                <td>
                  <VersionMonitoring
                    monitoring={watched.get(v.version)}
                    trans={trans}
                  />
                </td>
                <td
                  className="jp-mlops-ModelVersions-wide"
                  title={`${formatTime(v.created_at)} · ${v.created_by}`}
                >
                  {`${v.created_by} · ${formatShortTime(v.created_at)}`}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <ShowOlder
        hidden={versions.length - shown.length}
        onClick={more}
        testId="mlops-versions-older"
        trans={trans}
      />
    </div>
  );
}
