import React, { useEffect, useRef, useState } from 'react';
import { TranslationBundle } from '@jupyterlab/translation';

import { RegistryAPI } from '../request';
import { Mlops } from '../tokens';
import { RegisterModelForm } from './RegisterModelForm';

/** Paints `code` into `el` (as DOM text nodes only), e.g. with CodeMirror's highlighter. */
export type Highlighter = (code: string, el: HTMLElement) => Promise<void>;

/** The cell's source, highlighted when a highlighter is given, otherwise plain text. */
export function SourceSection(props: {
  source: string | null | undefined;
  highlight?: Highlighter | null;
  trans: TranslationBundle;
}): JSX.Element {
  const { source, highlight, trans } = props;
  const ref = useRef<HTMLPreElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el || !source) {
      return;
    }
    el.replaceChildren(document.createTextNode(source));
    if (!highlight) {
      return;
    }
    let cancelled = false;
    const target = document.createElement('code');
    highlight(source, target)
      .then(() => {
        if (!cancelled) {
          el.replaceChildren(target);
        }
      })
      .catch(() => {
        /* the plain text stays */
      });
    return () => {
      cancelled = true;
    };
  }, [source, highlight]);
  return (
    <section className="jp-mlops-Section" data-testid="mlops-run-source">
      <h3 className="jp-mlops-Section-title">{trans.__('Cell source')}</h3>
      {source ? (
        <pre className="jp-mlops-Source cm-s-jupyter" ref={ref} />
      ) : (
        <div className="jp-mlops-Section-empty">
          {trans.__('No source recorded.')}
        </div>
      )}
    </section>
  );
}

/** Dataset versions a run read or wrote. */
export function DatasetsSection(props: {
  title: string;
  datasets: Mlops.IDatasetVersion[];
  testId: string;
  trans: TranslationBundle;
}): JSX.Element {
  const { datasets, trans } = props;
  return (
    <section className="jp-mlops-Section" data-testid={props.testId}>
      <h3 className="jp-mlops-Section-title">
        {props.title}
        <span className="jp-mlops-KeyValueTable-count">{datasets.length}</span>
      </h3>
      {datasets.length === 0 ? (
        <div className="jp-mlops-Section-empty">{trans.__('None.')}</div>
      ) : (
        <table className="jp-mlops-Grid">
          <thead>
            <tr>
              <th>{trans.__('Name')}</th>
              <th>{trans.__('Version')}</th>
              <th>{trans.__('Kind')}</th>
              <th>{trans.__('Shape')}</th>
              <th>{trans.__('Fingerprint')}</th>
            </tr>
          </thead>
          <tbody>
            {datasets.map(d => (
              <tr key={d.id} data-dataset={d.name}>
                <td title={d.source || d.name}>{d.name}</td>
                <td>{`v${d.version}`}</td>
                <td>{d.kind}</td>
                <td>{d.shape ? `(${d.shape.join(', ')})` : ''}</td>
                <td title={d.fingerprint}>
                  <code>{d.fingerprint.slice(0, 12)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Models the run logged, each with a Register button when the registry is at hand. */
export function ModelsSection(props: {
  models: Mlops.ILoggedModel[];
  /** Registers a logged model; no Register button without it. */
  registry?: RegistryAPI | null;
  trans: TranslationBundle;
}): JSX.Element {
  const { models, registry, trans } = props;
  const [registering, setRegistering] = useState<string | null>(null);
  return (
    <section className="jp-mlops-Section" data-testid="mlops-run-models">
      <h3 className="jp-mlops-Section-title">
        {trans.__('Models')}
        <span className="jp-mlops-KeyValueTable-count">{models.length}</span>
      </h3>
      {models.length === 0 ? (
        <div className="jp-mlops-Section-empty">
          {trans.__('No models logged.')}
        </div>
      ) : (
        <table className="jp-mlops-Grid">
          <thead>
            <tr>
              <th>{trans.__('Name')}</th>
              <th>{trans.__('Class')}</th>
              <th>{trans.__('Id')}</th>
              {registry && <th aria-label={trans.__('Registry')} />}
            </tr>
          </thead>
          <tbody>
            {models.map(m => (
              <React.Fragment key={m.id}>
                <tr data-model={m.name}>
                  <td>{m.name}</td>
                  <td title={`${m.flavor} · ${m.model_class}`}>
                    {m.model_class}
                  </td>
                  <td title={m.id}>
                    <code>{m.id.slice(0, 12)}</code>
                  </td>
                  {registry && (
                    <td>
                      <button
                        className="jp-mlops-Button jp-mlops-SmallButton"
                        data-testid="mlops-register-model"
                        data-model={m.name}
                        aria-expanded={registering === m.id}
                        title={trans.__(
                          'Register %1 as a new version of a registered model',
                          m.name
                        )}
                        onClick={() =>
                          setRegistering(old => (old === m.id ? null : m.id))
                        }
                      >
                        {trans.__('Register')}
                      </button>
                    </td>
                  )}
                </tr>
                {registry && registering === m.id && (
                  <tr className="jp-mlops-RegisterRow">
                    <td colSpan={4}>
                      <RegisterModelForm
                        api={registry}
                        runId={m.run_id}
                        modelName={m.name}
                        modelId={
                          models.filter(o => o.name === m.name).length > 1
                            ? m.id
                            : null
                        }
                        onClose={() => setRegistering(null)}
                        trans={trans}
                      />
                    </td>
                  </tr>
                )}
              </React.Fragment>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Python, platform, git and the imported packages (in a disclosure). */
export function EnvironmentSection(props: {
  run: Mlops.IRun;
  trans: TranslationBundle;
}): JSX.Element {
  const { run, trans } = props;
  const env = run.environment ?? {};
  const info = run.info;
  const rawPackages = env['packages'];
  const packages: [string, string][] =
    rawPackages && typeof rawPackages === 'object'
      ? Object.entries(rawPackages as { [key: string]: unknown }).map(
          ([name, version]) => [name, String(version)]
        )
      : [];
  const python =
    typeof env['python'] === 'string'
      ? (env['python'] as string)
      : (info.python_version ?? '');
  const platform =
    typeof env['platform'] === 'string' ? (env['platform'] as string) : '';
  const commit = info.git_commit
    ? info.git_commit.slice(0, 12) +
      (info.git_dirty ? ` ${trans.__('(dirty)')}` : '')
    : '';
  const rows: [string, string][] = [
    [trans.__('Python'), python],
    [trans.__('Platform'), platform],
    [trans.__('Git commit'), commit]
  ];
  return (
    <section className="jp-mlops-Section" data-testid="mlops-run-env">
      <h3 className="jp-mlops-Section-title">{trans.__('Environment')}</h3>
      <table className="jp-mlops-Grid">
        <tbody>
          {rows
            .filter(([, v]) => v !== '')
            .map(([label, value]) => (
              <tr key={label}>
                <th scope="row">{label}</th>
                <td
                  title={
                    label === trans.__('Git commit')
                      ? (info.git_commit ?? '')
                      : value
                  }
                >
                  {value}
                </td>
              </tr>
            ))}
        </tbody>
      </table>
      <details className="jp-mlops-Packages">
        <summary>
          {trans._n('%1 package', '%1 packages', packages.length)}
        </summary>
        <table className="jp-mlops-Grid">
          <tbody>
            {packages.map(([name, version]) => (
              <tr key={name}>
                <th scope="row">{name}</th>
                <td>{version}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </section>
  );
}
