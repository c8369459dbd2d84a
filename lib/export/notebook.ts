/**
 * The Jupyter notebook format (nbformat 4), as far as export and import need it:
 * reading and checking a notebook, the text of a cell, and writing a notebook
 * the way Jupyter itself does (keys sorted, one-space indent), so that a
 * notebook written here diffs cleanly against one saved by Jupyter.
 */
import { createHash } from 'crypto';
import { DataFileError } from '../core/errors';

export type CellType = 'code' | 'markdown' | 'raw';

/** One cell as stored: `source` is a string or a list of lines (each ending in '\n' but the last). */
export interface NotebookCell {
  cell_type: CellType;
  source: string | string[];
  metadata?: { [key: string]: unknown };
  id?: string;
  execution_count?: number | null;
  outputs?: unknown[];
  [key: string]: unknown;
}

/** A Jupyter notebook as its .ipynb JSON holds it (nbformat 4). */
export interface Notebook {
  /** The major format version, 4. */
  nbformat: number;
  /** The minor format version. */
  nbformat_minor: number;
  /** Notebook metadata: kernelspec, language_info, ... */
  metadata: { [key: string]: unknown };
  /** The cells, in order. */
  cells: NotebookCell[];
}

/** The kernelspec the tslab-dl kernel registers (kernel/ installs it under this name). */
export const TSLAB_DL_KERNELSPEC = {
  name: 'tslab-dl',
  display_name: 'TypeScript (tslab-dl)',
  language: 'typescript',
};

/**
 * The language_info the kernel reports (as tslab does). `file_extension` is what makes
 * `jupyter nbconvert --to script` write a `.ts` file.
 */
export const TSLAB_DL_LANGUAGE_INFO = {
  name: 'typescript',
  file_extension: '.ts',
  mimetype: 'text/typescript',
  codemirror_mode: { mode: 'typescript', name: 'javascript', typescript: true },
};

/** The tag that leaves a cell out of the exported script. */
export const SKIP_EXPORT_TAG = 'skip-export';

/**
 * nbclient's tag for a cell that is meant to fail (an error shown to learners): the
 * notebook goes on after it, a script cannot, so such cells are left out too.
 */
export const RAISES_EXCEPTION_TAG = 'raises-exception';

/**
 * Parses and checks notebook JSON. `source` (a path, or a description) names the
 * notebook in error messages.
 */
export function parseNotebook(text: string, source: string): Notebook {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new DataFileError(
      source,
      `is not valid JSON (${(e as Error).message}), so it is not a Jupyter notebook. ` +
        'Open it in Jupyter and save it again, or check that you passed the .ipynb file.',
    );
  }
  return checkNotebook(data, source);
}

/** Checks that `data` is an nbformat 4 notebook whose cells export; returns it typed. */
export function checkNotebook(data: unknown, source: string): Notebook {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new DataFileError(source, `is not a Jupyter notebook: expected a JSON object, found ${describeJson(data)}.`);
  }
  const nb = data as { [key: string]: unknown };
  if (nb.nbformat !== 4) {
    const found = nb.nbformat === undefined ? 'no "nbformat" field' : `"nbformat": ${JSON.stringify(nb.nbformat)}`;
    throw new DataFileError(
      source,
      `is not an nbformat 4 notebook (${found}). Open it in Jupyter (Notebook 5+ or JupyterLab) and save it, ` +
        'which converts it to version 4.',
    );
  }
  if (!Array.isArray(nb.cells)) {
    throw new DataFileError(source, `is not a valid nbformat 4 notebook: "cells" must be a list, found ${describeJson(nb.cells)}.`);
  }
  nb.cells.forEach((cell, index) => {
    const where = `cell ${index + 1}`;
    if (typeof cell !== 'object' || cell === null) {
      throw new DataFileError(source, `${where} is ${describeJson(cell)}, not a cell object.`);
    }
    const { cell_type: type, source: text } = cell as NotebookCell;
    if (type !== 'code' && type !== 'markdown' && type !== 'raw') {
      throw new DataFileError(source, `${where} has cell_type ${JSON.stringify(type)}; nbformat 4 allows "code", "markdown" or "raw".`);
    }
    if (!(typeof text === 'string' || (Array.isArray(text) && text.every((line) => typeof line === 'string')))) {
      throw new DataFileError(source, `${where} has a "source" that is neither a string nor a list of strings.`);
    }
  });
  const metadata = nb.metadata;
  if (metadata !== undefined && (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))) {
    throw new DataFileError(source, `is not a valid nbformat 4 notebook: "metadata" must be an object.`);
  }
  return {
    nbformat: 4,
    nbformat_minor: Number(nb.nbformat_minor ?? 0),
    metadata: (metadata as Notebook['metadata']) ?? {},
    cells: nb.cells,
  };
}

function describeJson(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

/** A cell's text, with Windows line ends made '\n'. */
export function cellText(cell: NotebookCell): string {
  const text = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
  return text.replace(/\r\n?/g, '\n');
}

/** The cell's tags (metadata.tags), or none. */
export function cellTags(cell: NotebookCell): string[] {
  const tags = cell.metadata?.tags;
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [];
}

/** "cell 4" or "cell 4 (id a1b2)": how messages name a cell; `index` counts from 0. */
export function cellName(cell: NotebookCell, index: number): string {
  return typeof cell.id === 'string' && cell.id ? `cell ${index + 1} (id ${cell.id})` : `cell ${index + 1}`;
}

/** A new cell's contents: type and text. */
export interface CellContent {
  type: CellType;
  text: string;
}

/**
 * A notebook for the tslab-dl kernel holding `cells`. Cell ids are derived from
 * position and text, so the same script always gives the same notebook.
 */
export function tslabDlNotebook(cells: CellContent[]): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { ...TSLAB_DL_KERNELSPEC }, language_info: structuredClone(TSLAB_DL_LANGUAGE_INFO) },
    cells: cells.map((cell, index) => {
      const id = createHash('sha1').update(`${index}\n${cell.type}\n${cell.text}`).digest('hex').slice(0, 8);
      const base: NotebookCell = { cell_type: cell.type, id, metadata: {}, source: sourceLines(cell.text) };
      return cell.type === 'code' ? { ...base, execution_count: null, outputs: [] } : base;
    }),
  };
}

/** Splits text into Jupyter's list-of-lines form: every line keeps its '\n' except the last. */
export function sourceLines(text: string): string[] {
  if (text === '') return [];
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

/** The notebook as Jupyter writes it: keys sorted, one-space indent, a final newline. */
export function serializeNotebook(nb: Notebook): string {
  return JSON.stringify(sortKeys(nb), null, 1) + '\n';
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const sorted: { [key: string]: unknown } = {};
  for (const key of Object.keys(value).sort()) sorted[key] = sortKeys((value as { [key: string]: unknown })[key]);
  return sorted;
}
