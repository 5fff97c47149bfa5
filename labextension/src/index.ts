import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  WidgetTracker
} from '@jupyterlab/apputils';
import { IEditorLanguageRegistry } from '@jupyterlab/codemirror';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';

import { mlopsIcon } from './icons';
// eslint-disable-next-line jupyter/prefer-lazy-imports -- the side panel exists from the start
import { RunsModel } from './model';
import { Mlops } from './tokens';
// eslint-disable-next-line jupyter/prefer-lazy-imports -- the side panel exists from the start
import { MlopsPanel } from './widgets/MlopsPanel';
// eslint-disable-next-line jupyter/prefer-lazy-imports -- renderers are created synchronously
import { createRunCardFactory } from './widgets/RunCardRenderer';
import type { CompareView } from './widgets/CompareView';
import type { RunView } from './widgets/RunView';

const { CommandIDs } = Mlops;

/** The translation domain of this package's strings. */
const DOMAIN = 'jupyter_mlops';

/** Run ids are hex (the server's route accepts 1 to 32 digits, a unique prefix). */
const RUN_ID = /^[0-9a-fA-F]{1,32}$/;

const NO_ARGS = { args: { type: 'object', properties: {} } };

/**
 * The Run view: `jupyter-mlops:open-run {runId}` opens a run in the main area (or shows it
 * again if it is open), and the open ones come back when the lab reloads.
 */
const runViewPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlops:run-view',
  description: 'Opens a run in the main area.',
  autoStart: true,
  optional: [
    ILayoutRestorer,
    ITranslator,
    IDocumentManager,
    IEditorLanguageRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    translator: ITranslator | null,
    docManager: IDocumentManager | null,
    languages: IEditorLanguageRegistry | null
  ) => {
    const trans = (translator ?? nullTranslator).load(DOMAIN);
    const highlight = languages
      ? async (code: string, el: HTMLElement) => {
          const language =
            languages.findByName('python') ?? languages.findBest('python');
          await languages.highlight(code, language, el);
        }
      : undefined;
    const tracker = new WidgetTracker<MainAreaWidget<RunView>>({
      namespace: 'jupyter-mlops-run'
    });
    app.commands.addCommand(CommandIDs.openRun, {
      label: args =>
        args.runId
          ? trans.__('Open Run %1', String(args.runId).slice(0, 8))
          : trans.__('Open Run'),
      caption: trans.__('Open a run in the main area'),
      describedBy: {
        args: {
          type: 'object',
          properties: { runId: { type: 'string', pattern: RUN_ID.source } },
          required: ['runId']
        }
      },
      execute: async args => {
        const runId = String(args.runId ?? '');
        if (!RUN_ID.test(runId)) {
          throw new Error(trans.__('Not a run id: %1', JSON.stringify(runId)));
        }
        const open = tracker.find(w => w.content.runId === runId);
        if (open) {
          app.shell.activateById(open.id);
          return open;
        }
        // The view's code loads with the first run opened, not with the lab.
        const { RunView } = await import('./widgets/RunView');
        const content = new RunView({
          runId,
          settings: app.serviceManager.serverSettings,
          trans,
          highlight,
          goToCell: async info => {
            const { goToCell } = await import('./goToCell');
            await goToCell(app, docManager, info, trans);
          }
        });
        const widget = new MainAreaWidget({ content });
        widget.id = `jupyter-mlops-run-${runId}`;
        widget.title.icon = mlopsIcon;
        widget.title.closable = true;
        void tracker.add(widget);
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
        return widget;
      }
    });
    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.openRun,
        args: widget => ({ runId: widget.content.runId }),
        name: widget => widget.content.runId
      });
    }

    const compareTracker = new WidgetTracker<MainAreaWidget<CompareView>>({
      namespace: 'jupyter-mlops-compare'
    });
    app.commands.addCommand(CommandIDs.compare, {
      label: trans.__('Compare Runs'),
      caption: trans.__('Compare two runs or more side by side'),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            runIds: {
              type: 'array',
              items: { type: 'string', pattern: RUN_ID.source },
              minItems: 2
            }
          },
          required: ['runIds']
        }
      },
      execute: async args => {
        const runIds = Array.isArray(args.runIds)
          ? args.runIds.map(String)
          : [];
        if (runIds.length < 2 || !runIds.every(id => RUN_ID.test(id))) {
          throw new Error(trans.__('Compare needs two run ids or more.'));
        }
        const key = runIds.join(',');
        const open = compareTracker.find(
          w => w.content.runIds.join(',') === key
        );
        if (open) {
          app.shell.activateById(open.id);
          return open;
        }
        const { CompareView } = await import('./widgets/CompareView');
        const content = new CompareView({
          runIds,
          settings: app.serviceManager.serverSettings,
          trans
        });
        const widget = new MainAreaWidget({ content });
        widget.id = `jupyter-mlops-compare-${Date.now().toString(36)}`;
        widget.title.icon = mlopsIcon;
        widget.title.closable = true;
        void compareTracker.add(widget);
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
        return widget;
      }
    });
    if (restorer) {
      void restorer.restore(compareTracker, {
        command: CommandIDs.compare,
        args: widget => ({ runIds: widget.content.runIds }),
        name: widget => widget.content.runIds.join(',')
      });
    }
  }
};

/** The "MLOps" side panel (left), with its Experiments, Pipelines and Models tabs. */
const panelPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlops:panel',
  description:
    'The MLOps side panel: experiments and their runs, pipelines and their schedules, registered models.',
  autoStart: true,
  optional: [
    ILayoutRestorer,
    ICommandPalette,
    ITranslator,
    IDocumentManager,
    IRenderMimeRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null,
    docManager: IDocumentManager | null,
    rendermime: IRenderMimeRegistry | null
  ) => {
    const trans = (translator ?? nullTranslator).load(DOMAIN);
    const model = new RunsModel({
      settings: app.serviceManager.serverSettings
    });
    const panel = new MlopsPanel({
      model,
      trans,
      onOpenRun: run => {
        void app.commands.execute(CommandIDs.openRun, { runId: run.id });
      },
      onCompare: runIds => {
        void app.commands.execute(CommandIDs.compare, { runIds });
      },
      // A step's executed notebook: reverted from disk if open, so a running step's partial
      // notebook is the one on disk now.
      onOpenNotebook: docManager
        ? async path => {
            const open = docManager.findWidget(path);
            if (open) {
              const context = docManager.contextForWidget(open);
              if (context) {
                await context.revert();
              }
            }
            if (!docManager.openOrReveal(path)) {
              throw new Error(trans.__('The lab could not open %1.', path));
            }
          }
        : undefined,
      // A model's lineage opens the notebook at the cell that trained it.
      goToCell: async info => {
        const { goToCell } = await import('./goToCell');
        await goToCell(app, docManager, info, trans);
      },
      rendermime,
      settings: app.serviceManager.serverSettings
    });
    app.shell.add(panel, 'left', { rank: 650 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }
    app.commands.addCommand(CommandIDs.openPanel, {
      label: trans.__('Show MLOps Panel'),
      icon: mlopsIcon,
      describedBy: NO_ARGS,
      execute: () => app.shell.activateById(panel.id)
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: trans.__('Refresh MLOps Runs'),
      describedBy: NO_ARGS,
      execute: () => model.refresh()
    });
    if (palette) {
      const category = trans.__('MLOps');
      palette.addItem({ command: CommandIDs.openPanel, category });
      palette.addItem({ command: CommandIDs.refresh, category });
    }
  }
};

/** The card shown for a `%%track` cell's output, ranked above its HTML fallback. */
const runRendererPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlops:run-renderer',
  description: `Renders ${Mlops.RUN_MIME} outputs as a run card.`,
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [ITranslator],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    translator: ITranslator | null
  ) => {
    const trans = (translator ?? nullTranslator).load(DOMAIN);
    rendermime.addFactory(
      createRunCardFactory(trans, runId => {
        void app.commands.execute(CommandIDs.openRun, { runId });
      })
    );
  }
};

const plugins: JupyterFrontEndPlugin<any>[] = [
  runViewPlugin,
  panelPlugin,
  runRendererPlugin
];

export default plugins;
