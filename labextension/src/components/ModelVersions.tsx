import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatShortTime, formatTime } from '../format';
import { Mlops } from '../tokens';
import { AliasChips } from './AliasChips';
import { GateVerdict } from './GateReport';
import { StageBadge } from './StageBadge';
import { usePages } from './hooks';
import { ShowOlder, pickable } from './parts';

/** Versions shown before "Show older": a model retrained every night has many. */
const PAGE = 30;

/**
 * A model's versions, newest first: version, stage, aliases, gate verdict, approvals
 * (n/required) and who registered it when. A click selects a version.
 */
export function ModelVersions(props: {
  versions: readonly Mlops.IVersionRow[];
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
