import React, { useCallback, useEffect, useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatTime } from '../format';
import { PipelinesAPI } from '../pipelines';
import { errorMessage } from '../request';
import { Mlops } from '../tokens';

/** The browser's time zone (e.g. `Europe/Paris`), the default of a new cron schedule. */
export function browserTimezone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

function describe(s: Mlops.ISchedule, trans: TranslationBundle): string {
  if (s.kind === 'event' && s.event) {
    return s.event.type === 'dataset.version'
      ? trans.__('on new version of dataset %1', s.event.key)
      : trans.__('on %1 %2', s.event.type, s.event.key);
  }
  return s.timezone ? `${s.cron ?? ''} (${s.timezone})` : (s.cron ?? '');
}

/** The executor of a schedule's runs when it is not the local one: "on dask". */
function ScheduleExecutor(props: {
  schedule: Mlops.ISchedule;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { schedule, trans } = props;
  const executor = schedule.options?.executor;
  if (!executor || executor === 'local') {
    return null;
  }
  const address = schedule.options.scheduler_address;
  return (
    <span
      data-testid="mlops-schedule-executor"
      title={
        address
          ? trans.__('Its runs go to %1 at %2', executor, address)
          : trans.__('Its runs go to %1', executor)
      }
    >
      {trans.__('on %1', executor)}
    </span>
  );
}

/** The schedules and triggers of one pipeline, and a form to add one. */
export function ScheduleList(props: {
  api: PipelinesAPI;
  path: string;
  trans: TranslationBundle;
}): JSX.Element {
  const { api, path, trans } = props;
  const [schedules, setSchedules] = useState<Mlops.ISchedule[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [cron, setCron] = useState('');
  const [timezone, setTimezone] = useState(browserTimezone);
  const [dataset, setDataset] = useState('');
  const [missed, setMissed] = useState<Mlops.MissedPolicy>('skip');

  const load = useCallback(async () => {
    try {
      setSchedules(await api.schedules(path));
    } catch (e) {
      setSchedules(old => old ?? []);
      setError(errorMessage(e));
    }
  }, [api, path]);

  useEffect(() => {
    void load();
  }, [load]);

  const act = async (action: () => Promise<unknown>) => {
    setBusy(true);
    try {
      await action();
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
    await load();
  };

  const add = (event: React.FormEvent) => {
    event.preventDefault();
    const cronText = cron.trim();
    const datasetName = dataset.trim();
    if (!cronText === !datasetName) {
      setError(
        trans.__('Give either a cron line or a dataset name, not both.')
      );
      return;
    }
    const body: Mlops.IScheduleCreate = cronText
      ? { path, cron: cronText, timezone: timezone.trim() || 'UTC', missed }
      : { path, dataset: datasetName };
    void act(async () => {
      await api.addSchedule(body);
      setCron('');
      setDataset('');
    });
  };

  return (
    <div className="jp-mlops-Schedules">
      {schedules === null ? (
        <div className="jp-mlops-Muted">{trans.__('Loading…')}</div>
      ) : schedules.length === 0 ? (
        <div className="jp-mlops-Muted">
          {trans.__('No schedules or triggers.')}
        </div>
      ) : (
        <ul className="jp-mlops-Schedules-list">
          {schedules.map(s => (
            <li
              key={s.id}
              className={
                'jp-mlops-Schedule' + (s.enabled ? '' : ' jp-mod-disabled')
              }
              data-testid="mlops-schedule"
              data-id={s.id}
              data-enabled={String(s.enabled)}
            >
              <div className="jp-mlops-Schedule-line">
                <input
                  type="checkbox"
                  data-testid="mlops-schedule-toggle"
                  checked={s.enabled}
                  disabled={busy}
                  title={s.enabled ? trans.__('Disable') : trans.__('Enable')}
                  aria-label={
                    s.enabled ? trans.__('Disable') : trans.__('Enable')
                  }
                  onChange={e => {
                    const enabled = e.target.checked;
                    void act(() => api.setScheduleEnabled(s.id, enabled));
                  }}
                />
                <span
                  className="jp-mlops-Schedule-what"
                  title={describe(s, trans)}
                >
                  {describe(s, trans)}
                </span>
                <button
                  className="jp-mlops-Button jp-mlops-Schedule-delete"
                  data-testid="mlops-schedule-delete"
                  disabled={busy}
                  title={trans.__('Delete this schedule')}
                  aria-label={trans.__('Delete this schedule')}
                  onClick={() => void act(() => api.deleteSchedule(s.id))}
                >
                  ×
                </button>
              </div>
              <div className="jp-mlops-Schedule-facts">
                <ScheduleExecutor schedule={s} trans={trans} />
                {s.kind === 'cron' && (
                  <span>{trans.__('missed: %1', s.missed)}</span>
                )}
                <span>
                  {s.enabled && s.next_run_time
                    ? trans.__('next: %1', formatTime(s.next_run_time))
                    : s.kind === 'cron'
                      ? trans.__('next: —')
                      : ''}
                </span>
                {s.last_run_time && (
                  <span>
                    {trans.__('last: %1', formatTime(s.last_run_time))}
                  </span>
                )}
              </div>
            </li>
          ))}
        </ul>
      )}
      <form
        className="jp-mlops-ScheduleForm"
        data-testid="mlops-schedule-form"
        onSubmit={add}
      >
        <input
          className="jp-mlops-Input jp-mlops-ScheduleForm-cron"
          data-testid="mlops-schedule-cron"
          placeholder={trans.__('cron line, e.g. 0 3 * * *')}
          aria-label={trans.__('Cron line')}
          value={cron}
          onChange={e => setCron(e.target.value)}
        />
        <div className="jp-mlops-ScheduleForm-row">
          <input
            className="jp-mlops-Input jp-mlops-ScheduleForm-timezone"
            data-testid="mlops-schedule-timezone"
            placeholder={trans.__('time zone')}
            aria-label={trans.__('Time zone')}
            title={trans.__('Time zone of the cron line')}
            value={timezone}
            onChange={e => setTimezone(e.target.value)}
          />
          <select
            className="jp-mlops-Select"
            data-testid="mlops-schedule-missed"
            aria-label={trans.__('Missed runs')}
            title={trans.__(
              'Runs missed while the server was down: skip them, run once, or run them all'
            )}
            value={missed}
            onChange={e => setMissed(e.target.value as Mlops.MissedPolicy)}
          >
            <option value="skip">{trans.__('skip missed')}</option>
            <option value="once">{trans.__('run once')}</option>
            <option value="all">{trans.__('run all')}</option>
          </select>
        </div>
        <div className="jp-mlops-ScheduleForm-or">{trans.__('or')}</div>
        <input
          className="jp-mlops-Input"
          data-testid="mlops-schedule-dataset"
          placeholder={trans.__('on new version of dataset…')}
          aria-label={trans.__('Dataset name')}
          value={dataset}
          onChange={e => setDataset(e.target.value)}
        />
        <div className="jp-mlops-ScheduleForm-actions">
          <button
            type="submit"
            className="jp-mlops-Button"
            data-testid="mlops-schedule-add"
            disabled={busy}
          >
            {cron.trim() && !dataset.trim()
              ? trans.__('Add schedule')
              : dataset.trim() && !cron.trim()
                ? trans.__('Add trigger')
                : trans.__('Add')}
          </button>
        </div>
        {error && (
          <div
            className="jp-mlops-InlineError"
            role="alert"
            data-testid="mlops-schedule-error"
          >
            {error}
          </div>
        )}
      </form>
    </div>
  );
}
