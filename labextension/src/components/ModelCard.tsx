import React, { useEffect, useRef } from 'react';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { RegistryAPI, errorMessage } from '../request';
import { useFetched } from './hooks';

const MARKDOWN = 'text/markdown';

/**
 * A version's model card. The server writes it as Markdown from the lineage and the model's
 * own fields; the lab's Markdown renderer draws it as untrusted content, so its sanitizer
 * strips scripts and handlers. Without a renderer the Markdown is shown as text.
 */
export function ModelCard(props: {
  api: RegistryAPI;
  name: string;
  version: number;
  /** Bumps when the model changed, to read the card again. */
  generation?: number;
  rendermime?: IRenderMimeRegistry | null;
  trans: TranslationBundle;
}): JSX.Element {
  const { api, name, version, rendermime, trans } = props;
  const { value: markdown, error } = useFetched(
    () =>
      api
        .card(name, version)
        .then(text => (typeof text === 'string' ? text : '')),
    [api, name, version, props.generation]
  );
  const host = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const node = host.current;
    if (!node || markdown === null || !rendermime) {
      return;
    }
    let renderer: ReturnType<IRenderMimeRegistry['createRenderer']>;
    try {
      renderer = rendermime.createRenderer(MARKDOWN);
    } catch {
      node.replaceChildren(document.createTextNode(markdown));
      return;
    }
    const model = rendermime.createModel({
      data: { [MARKDOWN]: markdown },
      trusted: false
    });
    if (node.isConnected) {
      Widget.attach(renderer, node);
    } else {
      node.appendChild(renderer.node);
    }
    renderer.renderModel(model).catch(e => {
      node.replaceChildren(document.createTextNode(errorMessage(e)));
    });
    return () => {
      if (renderer.isAttached) {
        Widget.detach(renderer);
      }
      renderer.dispose();
      node.replaceChildren();
    };
  }, [markdown, rendermime]);

  if (error) {
    return (
      <div
        className="jp-mlops-InlineError"
        role="alert"
        data-testid="mlops-card-error"
      >
        {error}
      </div>
    );
  }
  if (markdown === null) {
    return (
      <div className="jp-mlops-Muted">{trans.__('Loading model card…')}</div>
    );
  }
  return rendermime ? (
    <div
      className="jp-mlops-ModelCard"
      data-testid="mlops-model-card"
      ref={host}
    />
  ) : (
    <pre
      className="jp-mlops-ModelCard jp-mod-text"
      data-testid="mlops-model-card"
    >
      {markdown}
    </pre>
  );
}
