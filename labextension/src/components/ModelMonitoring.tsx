import React, { useEffect, useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatCount, formatShortTime, formatTime } from '../format';
import { MonitoringModel } from '../monitoring';
import { errorMessage } from '../request';
import { Mlops } from '../tokens';
import { AlertBadge } from './AlertBadge';
import { AlertHistory } from './AlertHistory';
import { DriftedColumns } from './DriftedColumns';
import { MonitoringCharts } from './MonitoringCharts';
import { AlertRules, MonitoringGlance } from './MonitoringGlance';
import { useSignal } from './hooks';
import { RefreshButton, Section } from './parts';

/** How the traffic is cut: hourly or daily windows, or windows of so many rows. */
type Cut = '1h' | '1d' | 'rows';

/** Windows shown back from now, per cut. */
const WINDOWS: { [cut in Cut]: number } = { '1h': 24, '1d': 30, rows: 24 };
const DEFAULT_ROWS = 500;
const MAX_ROWS = 10_000_000;

/** What a report read holds: the last reply (kept while the next loads) and why the last
 * read failed. */
interface IReportState {
  reply: Mlops.IMonitoringReply | null;
  error: string | null;
  loading: boolean;
}

/** The report of `name` for a choice of windows, read again when the choice or `stamp`
 * change; a reply made stale by a newer read is dropped. */
function useReport(
  monitoring: MonitoringModel,
  name: string,
  choice: Mlops.IWindowChoice,
  stamp: string
): IReportState {
  const [state, setState] = useState<IReportState>({
    reply: null,
    error: null,
    loading: true
  });
  const key = JSON.stringify(choice);
  useEffect(() => {
    let cancelled = false;
    setState(old => ({ ...old, loading: true }));
    monitoring.api
      .report(name, choice)
      .then(reply => {
        if (!cancelled) {
          setState({ reply, error: null, loading: false });
        }
      })
      .catch(e => {
        if (!cancelled) {
          setState(old => ({
            reply: old.reply,
            error: errorMessage(e),
            loading: false
          }));
        }
      });
    return () => {
      cancelled = true;
    };
  }, [monitoring, name, key, stamp]);
  return state;
}

/** Which version's reference the windows were checked against, in one line. */
function ReferencesLine(props: {
  report: Mlops.IMonitorReport;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { report, trans } = props;
  const entries = Object.entries(report.references ?? {});
  if (entries.length === 0) {
    return null;
  }
  return (
    <div className="jp-mlops-Muted jp-mlops-Monitor-references">
      {entries
        .map(([version, ref]) =>
          trans.__(
            'v%1 against a reference of %2 rows (%3, %4)',
            version,
            formatCount(ref.rows),
            ref.source || trans.__('no source'),
            formatShortTime(ref.created_at)
          )
        )
        .join(' · ')}
    </div>
  );
}

/**
 * The dashboard of a served model: how its traffic is cut (hourly, daily or by rows; all
 * versions or one), its state at a glance, each alert rule's state, the charts over the
 * windows, the latest window's drifted columns and the rules' changes of state.
 */
function MonitoringDashboard(props: {
  name: string;
  versions: readonly number[];
  monitoring: MonitoringModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { name, monitoring, trans } = props;
  const [cut, setCut] = useState<Cut>('1h');
  const [rows, setRows] = useState(DEFAULT_ROWS);
  const [rowsText, setRowsText] = useState(String(DEFAULT_ROWS));
  const [version, setVersion] = useState<number | null>(null);
  const [reload, setReload] = useState(0);
  const [evaluating, setEvaluating] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  // The rules' states as last polled: when the scheduler moves one, the report is read again.
  const polled = monitoring.stateOf(name);
  const stamp = `${reload}|${JSON.stringify(polled?.alerts ?? [])}`;
  const choice: Mlops.IWindowChoice = {
    windows: WINDOWS[cut],
    ...(cut === 'rows' ? { rows } : { window: cut }),
    ...(version !== null ? { version } : {})
  };
  const { reply, error, loading } = useReport(monitoring, name, choice, stamp);

  const applyRows = () => {
    const n = Math.round(Number(rowsText));
    if (Number.isFinite(n) && n >= 1 && n <= MAX_ROWS) {
      setRows(n);
    } else {
      setRowsText(String(rows));
    }
  };

  const evaluate = async () => {
    setEvaluating(true);
    setActionError(null);
    try {
      await monitoring.evaluate(name);
      setReload(n => n + 1);
    } catch (e) {
      setActionError(errorMessage(e));
    } finally {
      setEvaluating(false);
    }
  };

  const report = reply?.report ?? null;
  const latest = report ? report.windows[report.windows.length - 1] : undefined;
  const notes = [...(report?.notes ?? []), ...(latest?.notes ?? [])];
  return (
    <div
      className="jp-mlops-Monitor"
      data-testid="mlops-monitoring-dashboard"
      data-loading={loading ? 'true' : 'false'}
      data-window={
        report ? (report.window ?? `rows:${report.rows_per_window}`) : ''
      }
      data-windows={report ? report.windows.length : ''}
    >
      <div className="jp-mlops-Monitor-toolbar" role="toolbar">
        <label className="jp-mlops-Monitor-field">
          <span>{trans.__('Windows')}</span>
          <select
            className="jp-mlops-Input"
            data-testid="mlops-monitoring-window"
            value={cut}
            onChange={event => setCut(event.target.value as Cut)}
          >
            <option value="1h">{trans.__('hourly (24 h)')}</option>
            <option value="1d">{trans.__('daily (30 d)')}</option>
            <option value="rows">{trans.__('by rows')}</option>
          </select>
        </label>
        {cut === 'rows' && (
          <label className="jp-mlops-Monitor-field">
            <span>{trans.__('Rows each')}</span>
            <input
              className="jp-mlops-Input jp-mlops-Monitor-rows"
              data-testid="mlops-monitoring-rows"
              type="number"
              min={1}
              max={MAX_ROWS}
              value={rowsText}
              onChange={event => setRowsText(event.target.value)}
              onBlur={applyRows}
              onKeyDown={event => {
                if (event.key === 'Enter') {
                  applyRows();
                }
              }}
            />
          </label>
        )}
        {props.versions.length > 1 && (
          <label className="jp-mlops-Monitor-field">
            <span>{trans.__('Traffic of')}</span>
            <select
              className="jp-mlops-Input"
              data-testid="mlops-monitoring-version"
              value={version === null ? '' : String(version)}
              onChange={event =>
                setVersion(
                  event.target.value === '' ? null : Number(event.target.value)
                )
              }
            >
              <option value="">{trans.__('all versions')}</option>
              {props.versions.map(v => (
                <option key={v} value={String(v)}>{`v${v}`}</option>
              ))}
            </select>
          </label>
        )}
        <span className="jp-mlops-Monitor-actions">
          {loading && (
            <span
              className="jp-mlops-Muted"
              data-testid="mlops-monitoring-loading"
            >
              {trans.__('Reading traffic…')}
            </span>
          )}
          <button
            className="jp-mlops-Button jp-mlops-SmallButton"
            data-testid="mlops-monitoring-evaluate"
            title={trans.__(
              'Judge the alert rules on the complete windows now (the scheduler does it on its own)'
            )}
            disabled={evaluating}
            onClick={() => void evaluate()}
          >
            {evaluating ? trans.__('Evaluating…') : trans.__('Evaluate alerts')}
          </button>
          <RefreshButton
            testId="mlops-monitoring-refresh"
            title={trans.__('Read the traffic again')}
            onClick={() => setReload(n => n + 1)}
            trans={trans}
          />
        </span>
      </div>
      {(error || actionError) && (
        <div
          className="jp-mlops-InlineError"
          role="alert"
          data-testid="mlops-monitoring-error"
        >
          {actionError ?? error}
        </div>
      )}
      {!report && !error && (
        <div className="jp-mlops-Muted">{trans.__('Reading traffic…')}</div>
      )}
      {report && (
        <>
          <MonitoringGlance report={report} trans={trans} />
          <ReferencesLine report={report} trans={trans} />
          <h4 className="jp-mlops-Monitor-heading">
            {trans.__('Alert rules')}
          </h4>
          <AlertRules
            rules={report.config?.alerts?.rules ?? []}
            states={reply?.alerts ?? []}
            trans={trans}
          />
          {notes.length > 0 && (
            <ul
              className="jp-mlops-Monitor-notes"
              data-testid="mlops-monitoring-notes"
            >
              {notes.map((note, i) => (
                <li key={i}>{note}</li>
              ))}
            </ul>
          )}
          <MonitoringCharts windows={report.windows} trans={trans} />
          {latest && (
            <>
              <h4 className="jp-mlops-Monitor-heading">
                {trans.__('Drifted columns in the latest window')}
              </h4>
              <DriftedColumns window={latest} trans={trans} />
            </>
          )}
          <h4 className="jp-mlops-Monitor-heading">
            {trans.__('Alert history')}
          </h4>
          <AlertHistory events={reply?.history ?? []} trans={trans} />
        </>
      )}
    </div>
  );
}

/**
 * The open model's monitoring: its rules' loudest state in the header, and the dashboard
 * of its recorded traffic when opened (reading it takes a moment, so not before).
 */
export function ModelMonitoring(props: {
  name: string;
  versions: readonly Mlops.IVersionRow[];
  monitoring: MonitoringModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { name, monitoring, trans } = props;
  useSignal(monitoring.changed);
  const [open, setOpen] = useState(false);
  const state = monitoring.stateOf(name);
  const versions = [...props.versions]
    .map(v => v.version)
    .sort((a, b) => b - a);
  const judged = state?.alerts ?? [];
  const lastJudged =
    judged.length > 0 ? Math.max(...judged.map(s => s.updated_at)) : null;
  return (
    <Section
      title={trans.__('Monitoring')}
      extra={
        <span className="jp-mlops-Monitor-head">
          {state && (
            <AlertBadge
              state={state.state}
              title={trans.__(
                'The loudest of its alert rules (%1 judged)',
                judged.length
              )}
              trans={trans}
            />
          )}
          <button
            className="jp-mlops-Button jp-mlops-SmallButton"
            data-testid="mlops-monitoring-toggle"
            aria-expanded={open}
            onClick={() => setOpen(o => !o)}
          >
            {open ? trans.__('Hide') : trans.__('Open dashboard')}
          </button>
        </span>
      }
    >
      <div data-testid="mlops-monitoring" data-state={state?.state ?? ''}>
        {monitoring.error && (
          <div className="jp-mlops-InlineError" role="alert">
            {monitoring.error}
          </div>
        )}
        {!open &&
          (judged.length > 0 ? (
            <AlertRules rules={[]} states={judged} trans={trans} />
          ) : (
            <div className="jp-mlops-Muted">
              {trans.__(
                'No alert rule judged yet. Open the dashboard for drift, quality and latency over windows.'
              )}
            </div>
          ))}
        {open && (
          <MonitoringDashboard
            name={name}
            versions={versions}
            monitoring={monitoring}
            trans={trans}
          />
        )}
        {!open && lastJudged !== null && (
          <div className="jp-mlops-Muted" title={formatTime(lastJudged)}>
            {trans.__('Judged %1', formatShortTime(lastJudged))}
          </div>
        )}
      </div>
    </Section>
  );
}
