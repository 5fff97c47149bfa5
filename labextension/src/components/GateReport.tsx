import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatMetric, formatTime } from '../format';
import { Mlops } from '../tokens';

/** A fingerprint (`xxh3-128:48bc025b…`) short enough for a line: its first hex digits. */
function shortFingerprint(fingerprint: string | undefined): string {
  if (!fingerprint) {
    return '';
  }
  const digits = fingerprint.slice(fingerprint.indexOf(':') + 1);
  return digits.slice(0, 10);
}

/** A version's newest gate verdict in brief: passed, failed (naming the gates), or none. */
export function GateVerdict(props: {
  report: Mlops.IGateReportBrief | null | undefined;
  trans: TranslationBundle;
}): JSX.Element {
  const { report, trans } = props;
  if (!report) {
    return (
      <span
        className="jp-mlops-Verdict jp-mod-none"
        data-testid="mlops-gate-verdict"
        data-verdict="none"
        title={trans.__('No gate report for this version')}
      >
        {trans.__('none')}
      </span>
    );
  }
  const failed = Array.isArray(report.failed) ? report.failed : [];
  const text = report.passed
    ? trans.__('passed')
    : failed.length
      ? trans.__('failed: %1', failed.join(', '))
      : trans.__('failed');
  return (
    <span
      className={`jp-mlops-Verdict ${report.passed ? 'jp-mod-passed' : 'jp-mod-failed'}`}
      data-testid="mlops-gate-verdict"
      data-verdict={report.passed ? 'passed' : 'failed'}
      title={`${text}\n${formatTime(report.created_at)}`}
    >
      {text}
    </span>
  );
}

/** A check's verdict word, coloured. */
function CheckVerdict(props: {
  passed: boolean;
  trans: TranslationBundle;
}): JSX.Element {
  return (
    <span
      className={`jp-mlops-Verdict ${props.passed ? 'jp-mod-passed' : 'jp-mod-failed'}`}
    >
      {props.passed ? props.trans.__('pass') : props.trans.__('fail')}
    </span>
  );
}

/** A gate's checks with their numbers: name, value, threshold, verdict (and a note). */
export function GateChecks(props: {
  checks: readonly Mlops.IGateCheck[];
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  const checks = Array.isArray(props.checks) ? props.checks : [];
  if (checks.length === 0) {
    return (
      <div className="jp-mlops-Muted">{trans.__('No checks recorded.')}</div>
    );
  }
  return (
    <table className="jp-mlops-Grid jp-mlops-GateChecks">
      <thead>
        <tr>
          <th>{trans.__('Check')}</th>
          <th>{trans.__('Value')}</th>
          <th>{trans.__('Threshold')}</th>
          <th>{trans.__('Verdict')}</th>
        </tr>
      </thead>
      <tbody>
        {checks.map((check, i) => {
          const value =
            typeof check.value === 'number'
              ? formatMetric(check.value)
              : check.value === null || check.value === undefined
                ? '—'
                : String(check.value);
          return (
            <tr
              key={`${check.name}-${i}`}
              className={check.passed ? undefined : 'jp-mod-failed'}
              data-testid="mlops-gate-check"
              data-check={String(check.name)}
              data-passed={check.passed ? 'true' : 'false'}
            >
              <td title={check.note ? String(check.note) : String(check.name)}>
                {String(check.name)}
                {check.note && (
                  <div className="jp-mlops-GateChecks-note">
                    {String(check.note)}
                  </div>
                )}
              </td>
              <td className="jp-mlops-Number" title={String(check.value)}>
                {value}
              </td>
              <td>{String(check.threshold ?? '')}</td>
              <td>
                <CheckVerdict passed={!!check.passed} trans={trans} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/**
 * A gate report: for each gate a row with its verdict and one-line summary, which opens to
 * the checks and their numbers. Failed gates start open when `openFailed` is set.
 */
export function GateReport(props: {
  report: Mlops.IGateReport;
  trans: TranslationBundle;
  /** Only the gates that failed (what blocked a promotion). */
  onlyFailed?: boolean;
  openFailed?: boolean;
}): JSX.Element {
  const { report, trans } = props;
  const doc = report.report ?? { gates: [] };
  const all = Array.isArray(doc.gates) ? doc.gates : [];
  const gates = props.onlyFailed ? all.filter(g => !g.passed) : all;
  const holdout = doc.holdout;
  const facts = [
    trans.__('v%1', report.version),
    `${formatTime(report.created_at)} · ${report.created_by}`,
    holdout
      ? trans.__(
          'holdout %1%2',
          holdout.ref ?? shortFingerprint(holdout.fingerprint),
          typeof holdout.rows === 'number'
            ? trans.__(' (%1 rows)', holdout.rows)
            : ''
        )
      : '',
    typeof doc.duration_s === 'number'
      ? trans.__('%1 s', doc.duration_s.toFixed(2))
      : ''
  ].filter(Boolean);
  return (
    <div
      className="jp-mlops-GateReport"
      data-testid="mlops-gate-report"
      data-sha256={report.sha256}
      data-passed={report.passed ? 'true' : 'false'}
    >
      <div className="jp-mlops-GateReport-head">
        <span
          className={`jp-mlops-Verdict ${report.passed ? 'jp-mod-passed' : 'jp-mod-failed'}`}
        >
          {report.passed ? trans.__('passed') : trans.__('failed')}
        </span>
        <span
          className="jp-mlops-GateReport-facts"
          title={`${facts.join(' · ')}\nreport ${report.sha256}${
            holdout?.fingerprint ? `\nholdout ${holdout.fingerprint}` : ''
          }`}
        >
          {facts.join(' · ')}
        </span>
      </div>
      {gates.length === 0 && (
        <div className="jp-mlops-Muted">{trans.__('No gate ran.')}</div>
      )}
      {gates.map((gate, i) => (
        <details
          key={`${gate.gate}-${i}`}
          className="jp-mlops-Gate"
          open={!!props.openFailed && !gate.passed}
          data-testid="mlops-gate"
          data-gate={String(gate.gate)}
          data-passed={gate.passed ? 'true' : 'false'}
        >
          <summary className="jp-mlops-Gate-summary">
            <CheckVerdict passed={!!gate.passed} trans={trans} />
            <span className="jp-mlops-Gate-name">{String(gate.gate)}</span>
            <span
              className="jp-mlops-Gate-line"
              title={String(gate.summary ?? '')}
            >
              {String(gate.summary ?? '')}
            </span>
          </summary>
          <GateChecks checks={gate.checks} trans={trans} />
        </details>
      ))}
    </div>
  );
}
