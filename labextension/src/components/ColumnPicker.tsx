import React, { useEffect, useRef, useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { RunsModel } from '../model';

/** A "Columns" button whose menu shows or hides the param and metric columns. */
export function ColumnPicker(props: {
  paramKeys: string[];
  metricKeys: string[];
  shown: readonly RunsModel.IColumn[];
  onToggle: (column: RunsModel.IColumn) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) {
      return;
    }
    const close = (event: MouseEvent) => {
      if (root.current && !root.current.contains(event.target as Node)) {
        setOpen(false);
      }
    };
    document.addEventListener('mousedown', close, true);
    return () => document.removeEventListener('mousedown', close, true);
  }, [open]);
  const shownIds = new Set(props.shown.map(c => c.id));
  const group = (title: string, columns: RunsModel.IColumn[]) => (
    <div className="jp-mlops-ColumnPicker-group">
      <div className="jp-mlops-ColumnPicker-groupTitle">{title}</div>
      {columns.length === 0 && (
        <div className="jp-mlops-ColumnPicker-none">
          {trans.__('none in these runs')}
        </div>
      )}
      {columns.map(column => (
        <label
          key={column.id}
          className="jp-mlops-ColumnPicker-option"
          data-testid="mlops-column-option"
          data-column={column.id}
          title={column.key}
        >
          <input
            type="checkbox"
            checked={shownIds.has(column.id)}
            onChange={() => props.onToggle(column)}
          />
          <span>{column.key}</span>
        </label>
      ))}
    </div>
  );
  return (
    <div className="jp-mlops-ColumnPicker" ref={root}>
      <button
        className="jp-mlops-Button"
        aria-haspopup="true"
        aria-expanded={open}
        data-testid="mlops-columns-button"
        title={trans.__('Choose param and metric columns')}
        onClick={() => setOpen(!open)}
      >
        {trans.__('Columns')} ▾
      </button>
      {open && (
        <div
          className="jp-mlops-ColumnPicker-menu"
          data-testid="mlops-columns-menu"
        >
          {group(
            trans.__('Metrics'),
            props.metricKeys.map(RunsModel.metricColumn)
          )}
          {group(
            trans.__('Params'),
            props.paramKeys.map(RunsModel.paramColumn)
          )}
        </div>
      )}
    </div>
  );
}
