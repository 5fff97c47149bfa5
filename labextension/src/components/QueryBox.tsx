import React, { useEffect, useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

/**
 * The filter input: Enter applies it, Escape restores the applied one. A filter the server
 * refused shows its message underneath, as text.
 */
export function QueryBox(props: {
  applied: string;
  error: string | null;
  onApply: (text: string) => void;
  trans: TranslationBundle;
}): JSX.Element {
  const { applied, error, onApply, trans } = props;
  const [text, setText] = useState(applied);
  useEffect(() => {
    setText(applied);
  }, [applied]);
  return (
    <div className="jp-mlops-QueryBox">
      <div className="jp-mlops-QueryBox-row">
        <input
          className={'jp-mlops-QueryBox-input' + (error ? ' jp-mod-error' : '')}
          type="text"
          spellCheck={false}
          placeholder={trans.__(
            "Filter: metrics.acc > 0.9 and params.model = 'rf'"
          )}
          aria-label={trans.__('Filter runs')}
          aria-invalid={error ? true : false}
          data-testid="mlops-query"
          value={text}
          onChange={event => setText(event.target.value)}
          onKeyDown={event => {
            if (event.key === 'Enter') {
              onApply(text);
            } else if (event.key === 'Escape') {
              setText(applied);
            }
          }}
        />
        {text !== '' && (
          <button
            className="jp-mlops-QueryBox-clear"
            title={trans.__('Clear the filter')}
            aria-label={trans.__('Clear the filter')}
            data-testid="mlops-query-clear"
            onClick={() => {
              setText('');
              onApply('');
            }}
          >
            ×
          </button>
        )}
      </div>
      {error && (
        <div
          className="jp-mlops-QueryBox-error"
          role="alert"
          data-testid="mlops-query-error"
        >
          {error}
        </div>
      )}
    </div>
  );
}
