import { JupyterFrontEnd } from '@jupyterlab/application';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { TranslationBundle } from '@jupyterlab/translation';

import { Mlops } from './tokens';

/** A notebook as far as 'Go to cell' needs one (the content of a NotebookPanel). */
interface INotebookLike {
  widgets: ReadonlyArray<{ model: { id: string } }>;
  activeCellIndex: number;
  scrollToItem?(index: number, align?: string): Promise<void>;
  scrollToCell?(cell: unknown, align?: string): Promise<void>;
}

/** Thrown with a sentence to show the user as text. */
export class GoToCellError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GoToCellError';
  }
}

/**
 * Open the notebook a run was made in, make the run's cell the active one and scroll to it.
 *
 * @throws GoToCellError when the notebook is unknown, outside the server's root, gone, or no
 *   longer has the cell
 */
export async function goToCell(
  app: JupyterFrontEnd,
  docManager: IDocumentManager | null,
  info: Mlops.IRunInfo,
  trans: TranslationBundle
): Promise<void> {
  const path = info.notebook_api_path ?? null;
  if (!path) {
    throw new GoToCellError(
      info.notebook_path
        ? trans.__(
            'The notebook %1 is outside the folder this server serves, so the lab cannot open it.',
            info.notebook_path
          )
        : trans.__(
            'This run was not made in a notebook (no notebook path recorded).'
          )
    );
  }
  try {
    await app.serviceManager.contents.get(path, { content: false });
  } catch {
    throw new GoToCellError(
      trans.__('The notebook %1 no longer exists.', path)
    );
  }
  const widget: any = docManager
    ? docManager.openOrReveal(path)
    : await app.commands.execute('docmanager:open', { path });
  if (!widget) {
    throw new GoToCellError(trans.__('The lab could not open %1.', path));
  }
  await widget.context?.ready;
  await widget.revealed;
  const notebook = widget.content as INotebookLike | undefined;
  if (!notebook || !Array.isArray(notebook.widgets)) {
    throw new GoToCellError(trans.__('%1 did not open as a notebook.', path));
  }
  if (!info.cell_id) {
    throw new GoToCellError(
      trans.__('The run recorded no cell id; %1 is open.', path)
    );
  }
  const index = notebook.widgets.findIndex(
    cell => cell.model.id === info.cell_id
  );
  if (index < 0) {
    throw new GoToCellError(
      trans.__(
        'No cell with id %1 in %2 any more (it was deleted or the notebook changed).',
        info.cell_id,
        path
      )
    );
  }
  app.shell.activateById(widget.id);
  notebook.activeCellIndex = index;
  if (notebook.scrollToItem) {
    await notebook.scrollToItem(index, 'center');
  } else if (notebook.scrollToCell) {
    await notebook.scrollToCell(notebook.widgets[index], 'center');
  }
}
