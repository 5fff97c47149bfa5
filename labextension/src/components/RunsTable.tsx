import React, { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import {
  formatMetric,
  formatShortTime,
  formatTime,
  formatValue,
  runDuration
} from '../format';
import { RunsModel } from '../model';
import { Mlops } from '../tokens';
import { useSignal } from './hooks';
import { StatusBadge } from './StatusBadge';

/** Every row has this height, so the row under any scroll offset is known by arithmetic. */
export const ROW_HEIGHT = 26;
const OVERSCAN = 10;
const WIDTHS: { [id: string]: number } = {
  status: 30,
  name: 190,
  start: 104,
  duration: 84,
  user: 90
};
const EXTRA_WIDTH = 96;
/** The selection check box's column. */
const SELECT_WIDTH = 26;

function widthOf(column: RunsModel.IColumn): number {
  return WIDTHS[column.id] ?? EXTRA_WIDTH;
}

/**
 * The runs table, virtualized: a spacer as tall as all the rows keeps the scroll bar honest,
 * and only the rows in view (plus a few) are in the DOM, absolutely placed. The model
 * fetches their pages as they come into view.
 */
export function RunsTable(props: {
  model: RunsModel;
  onOpen: (run: Mlops.IRunSummary) => void;
  /** Ids of the runs ticked for comparison. */
  selected?: ReadonlySet<string>;
  onToggleSelect?: (run: Mlops.IRunSummary) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, onOpen, trans, selected, onToggleSelect } = props;
  useSignal(model.changed);
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(400);

  useLayoutEffect(() => {
    const node = scroller.current;
    if (!node) {
      return;
    }
    const measure = () => setViewport(node.clientHeight || 400);
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(node);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    const toTop = () => {
      if (scroller.current) {
        scroller.current.scrollTop = 0;
      }
      setScrollTop(0);
    };
    model.reset.connect(toTop);
    return () => {
      model.reset.disconnect(toTop);
    };
  }, [model]);

  const total = model.total ?? 0;
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(
    total,
    Math.ceil((scrollTop + viewport) / ROW_HEIGHT) + OVERSCAN
  );

  useEffect(() => {
    if (total > 0) {
      model.ensureRows(first, last);
    }
  }, [model, first, last, total, model.generation]);

  const columns = [...RunsModel.FIXED_COLUMNS, ...model.columns];
  const width =
    columns.reduce((w, c) => w + widthOf(c), 0) +
    (onToggleSelect ? SELECT_WIDTH : 0);
  const sort = model.sort;

  const rows: JSX.Element[] = [];
  for (let index = first; index < last; index++) {
    const run = model.getRow(index);
    const top = index * ROW_HEIGHT;
    if (!run) {
      rows.push(
        <div
          key={`loading-${index}`}
          className="jp-mlops-RunsTable-row jp-mod-loading"
          style={{ top, width }}
          data-testid="mlops-run-row-loading"
        >
          <span className="jp-mlops-RunsTable-placeholder" />
        </div>
      );
      continue;
    }
    rows.push(
      <div
        key={`${index}-${run.id}`}
        className="jp-mlops-RunsTable-row"
        role="row"
        aria-rowindex={index + 2}
        tabIndex={0}
        style={{ top, width }}
        data-testid="mlops-run-row"
        data-run-id={run.id}
        data-run-name={run.name}
        data-status={run.status}
        data-index={index}
        onClick={() => onOpen(run)}
        onKeyDown={event => {
          if (event.key === 'Enter') {
            onOpen(run);
          }
        }}
      >
        {onToggleSelect && (
          <div
            className="jp-mlops-RunsTable-cell jp-mlops-RunsTable-select"
            role="cell"
            style={{ width: SELECT_WIDTH }}
            onClick={event => event.stopPropagation()}
            onKeyDown={event => event.stopPropagation()}
          >
            <input
              type="checkbox"
              data-testid="mlops-run-select"
              aria-label={trans.__('Select %1 for comparison', run.name)}
              checked={selected?.has(run.id) ?? false}
              onChange={() => onToggleSelect(run)}
            />
          </div>
        )}
        {columns.map(column => {
          const text = cellText(run, column);
          return (
            <div
              key={column.id}
              className={`jp-mlops-RunsTable-cell jp-mlops-col-${column.kind}`}
              role="cell"
              style={{ width: widthOf(column) }}
              title={
                column.id === 'status'
                  ? undefined
                  : column.id === 'start'
                    ? formatTime(run.start_time)
                    : text
              }
            >
              {column.id === 'status' ? (
                <StatusBadge status={run.status} compact />
              ) : (
                text
              )}
            </div>
          );
        })}
      </div>
    );
  }

  return (
    <div
      className="jp-mlops-RunsTable"
      ref={scroller}
      role="table"
      aria-rowcount={total + 1}
      data-testid="mlops-runs-table"
      onScroll={event => setScrollTop(event.currentTarget.scrollTop)}
    >
      <div className="jp-mlops-RunsTable-header" role="row" style={{ width }}>
        {onToggleSelect && (
          <div
            className="jp-mlops-RunsTable-headerCell jp-mlops-RunsTable-select"
            role="columnheader"
            aria-label={trans.__('Selected')}
            style={{ width: SELECT_WIDTH }}
          />
        )}
        {columns.map(column => {
          const sorted = sort?.columnId === column.id ? sort : null;
          return (
            <div
              key={column.id}
              className={
                `jp-mlops-RunsTable-headerCell jp-mlops-col-${column.kind}` +
                (sorted ? ' jp-mod-sorted' : '')
              }
              role="columnheader"
              style={{ width: widthOf(column) }}
              title={trans.__(
                '%1 — click to sort',
                column.kind === 'attribute'
                  ? columnLabel(column, trans)
                  : column.id
              )}
              aria-label={columnLabel(column, trans)}
              aria-sort={
                sorted
                  ? sorted.descending
                    ? 'descending'
                    : 'ascending'
                  : 'none'
              }
              tabIndex={0}
              data-testid={`mlops-col-${column.id}`}
              onClick={() => void model.toggleSort(column)}
              onKeyDown={event => {
                if (event.key === 'Enter') {
                  void model.toggleSort(column);
                }
              }}
            >
              <span className="jp-mlops-RunsTable-headerLabel">
                {column.kind !== 'attribute' && (
                  <span className="jp-mlops-RunsTable-kind">
                    {column.kind === 'param'
                      ? trans._p('param column mark', 'p')
                      : trans._p('metric column mark', 'm')}{' '}
                  </span>
                )}
                {column.id === 'status' ? '' : columnLabel(column, trans)}
              </span>
              <span className="jp-mlops-RunsTable-sortMark" aria-hidden="true">
                {sorted ? (sorted.descending ? '▼' : '▲') : ''}
              </span>
            </div>
          );
        })}
      </div>
      <div
        className="jp-mlops-RunsTable-body"
        role="rowgroup"
        style={{ height: total * ROW_HEIGHT, width }}
      >
        {rows}
      </div>
      {model.total === 0 && !model.loading && (
        <div
          className="jp-mlops-RunsTable-empty"
          data-testid="mlops-runs-empty"
        >
          {model.filter || model.experiment
            ? trans.__('No run matches.')
            : trans.__('No runs yet. Put %%track on a cell to record one.')}
        </div>
      )}
    </div>
  );
}

/** A fixed column's title, or a param's or metric's key. */
function columnLabel(
  column: RunsModel.IColumn,
  trans: TranslationBundle
): string {
  switch (column.id) {
    case 'status':
      return trans.__('Status');
    case 'name':
      return trans.__('Name');
    case 'start':
      return trans.__('Start');
    case 'duration':
      return trans.__('Duration');
    case 'user':
      return trans.__('User');
    default:
      return column.key;
  }
}

function cellText(run: Mlops.IRunSummary, column: RunsModel.IColumn): string {
  switch (column.kind) {
    case 'param':
      return formatValue(run.params[column.key]);
    case 'metric':
      return formatMetric(run.metrics[column.key]);
    default:
      break;
  }
  switch (column.id) {
    case 'name':
      return run.name;
    case 'start':
      return formatShortTime(run.start_time);
    case 'duration':
      return runDuration(run);
    case 'user':
      return run.user;
    default:
      return run.status;
  }
}
