import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { formatCount } from '../format';
import { Mlops } from '../tokens';
import { pickable } from './parts';

/** The experiments to pick from, with "All" first; `selected` null means All. */
export function ExperimentList(props: {
  experiments: readonly Mlops.IExperiment[];
  selected: string | null;
  onSelect: (name: string | null) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { experiments, selected, onSelect, trans } = props;
  const total = experiments.reduce((n, e) => n + e.run_count, 0);
  const items: { name: string | null; label: string; count: number }[] = [
    { name: null, label: trans.__('All'), count: total },
    ...experiments.map(e => ({
      name: e.name,
      label: e.name,
      count: e.run_count
    }))
  ];
  return (
    <ul
      className="jp-mlops-ExperimentList"
      role="listbox"
      aria-label={trans.__('Experiments')}
    >
      {items.map(item => {
        const isSelected = item.name === selected;
        return (
          <li
            key={item.name ?? '\u0000all'}
            role="option"
            {...pickable('jp-mlops-ExperimentList-item', isSelected, () =>
              onSelect(item.name)
            )}
            data-testid="mlops-experiment"
            data-experiment={item.name ?? ''}
            title={item.label}
          >
            <span
              className={
                'jp-mlops-ExperimentList-name' +
                (item.name === null ? ' jp-mod-all' : '')
              }
            >
              {item.label}
            </span>
            <span className="jp-mlops-ExperimentList-count">
              {formatCount(item.count)}
            </span>
          </li>
        );
      })}
    </ul>
  );
}
