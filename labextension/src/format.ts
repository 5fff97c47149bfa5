/** Text for values shown in tables and cards; everything here returns plain strings. */

import { Mlops } from './tokens';

/** Epoch milliseconds as local `YYYY-MM-DD HH:MM:SS`. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) {
    return '';
  }
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/**
 * Epoch milliseconds, short for a table cell: the time today, month and day this year,
 * else the date.
 */
export function formatShortTime(
  ms: number | null | undefined,
  now = Date.now()
): string {
  if (ms === null || ms === undefined) {
    return '';
  }
  const d = new Date(ms);
  const today = new Date(now);
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.toDateString() === today.toDateString()) {
    return `${time}:${pad(d.getSeconds())}`;
  }
  if (d.getFullYear() === today.getFullYear()) {
    return `${d.toLocaleString('en-US', { month: 'short' })} ${d.getDate()} ${time}`;
  }
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** A duration in milliseconds as `850 ms`, `12.3 s`, `4m 05s` or `2h 03m`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !isFinite(ms)) {
    return '';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  const s = ms / 1000;
  if (s < 60) {
    return `${s < 10 ? s.toFixed(2) : s.toFixed(1)} s`;
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  const m = Math.floor(s / 60);
  if (m < 60) {
    return `${m}m ${pad(Math.floor(s % 60))}s`;
  }
  return `${Math.floor(m / 60)}h ${pad(m % 60)}m`;
}

/** A run's duration; a running run's so far, marked with an ellipsis. */
export function runDuration(run: {
  start_time: number;
  end_time: number | null;
  status: string;
}): string {
  if (run.end_time !== null) {
    return formatDuration(run.end_time - run.start_time);
  }
  return run.status === 'RUNNING'
    ? `${formatDuration(Date.now() - run.start_time)}…`
    : '';
}

/** A metric: up to 4 significant digits, integers as they are, NaN/inf as words. */
export function formatMetric(
  value: Mlops.MetricValue | null | undefined
): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (typeof value === 'string') {
    return value === 'NaN' ? 'NaN' : value === 'Infinity' ? '∞' : '-∞';
  }
  if (Number.isInteger(value)) {
    return String(value);
  }
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e6)) {
    return value.toExponential(3);
  }
  return String(Number(value.toPrecision(4)));
}

/** Any recorded value (params are text; other fields may be numbers or JSON). */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (typeof value === 'string') {
    return value;
  }
  if (typeof value === 'number') {
    return formatMetric(value);
  }
  return JSON.stringify(value);
}

/** A byte count as `12.3 MB`. */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) {
    return '';
  }
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** `12,345` */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
