import React from 'react';
import { TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon } from '@jupyterlab/ui-components';

/**
 * Props that make an element an item picked from a list (an experiment, a pipeline, a run, a
 * model, a version): a click, Enter or Space picks it; it takes the focus, says whether it
 * is the picked one, and wears `jp-mlops-Pickable` (hover and focus marks, base.css) and
 * `jp-mod-selected` after its own class.
 */
export function pickable(
  className: string,
  picked: boolean,
  pick: () => void
): React.HTMLAttributes<HTMLElement> {
  return {
    className: `${className} jp-mlops-Pickable${picked ? ' jp-mod-selected' : ''}`,
    tabIndex: 0,
    'aria-selected': picked,
    onClick: () => pick(),
    onKeyDown: event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        pick();
      }
    }
  };
}

/** A titled part of a tab's detail (a pipeline, its runs, a model, its audit). */
export function Section(props: {
  title: string;
  /** The title's tooltip. */
  titleHint?: string;
  /** Shown after the title in the header (a path, a status, a button). */
  extra?: React.ReactNode;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <section className="jp-mlops-PipelineSection">
      <header className="jp-mlops-PipelineSection-header">
        <h3 className="jp-mlops-PipelineSection-title" title={props.titleHint}>
          {props.title}
        </h3>
        {props.extra}
      </header>
      {props.children}
    </section>
  );
}

/** The icon button that reads a tab (or a part of it) again. */
export function RefreshButton(props: {
  testId: string;
  onClick: () => void;
  /** The tooltip; "Refresh" by default. */
  title?: string;
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  return (
    <button
      className="jp-mlops-Button jp-mlops-IconButton"
      title={props.title ?? trans.__('Refresh')}
      aria-label={trans.__('Refresh')}
      data-testid={props.testId}
      onClick={props.onClick}
    >
      <refreshIcon.react tag="span" />
    </button>
  );
}

/** Under a list shown a page at a time: shows the next page; nothing when all is shown. */
export function ShowOlder(props: {
  /** How many are not shown yet. */
  hidden: number;
  onClick: () => void;
  testId: string;
  trans: TranslationBundle;
}): JSX.Element | null {
  if (props.hidden <= 0) {
    return null;
  }
  return (
    <button
      className="jp-mlops-Button jp-mlops-SmallButton"
      data-testid={props.testId}
      onClick={props.onClick}
    >
      {props.trans.__('Show older (%1 more)', props.hidden)}
    </button>
  );
}
