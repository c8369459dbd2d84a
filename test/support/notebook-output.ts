/**
 * Reading an executed notebook (nbformat 4) in tests: its code cells and what a learner sees in them.
 */
import * as fs from 'node:fs';

export interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: { [mime: string]: string | string[] };
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

export interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
}

/** nbformat stores text as a string or as a list of lines. */
export const joinText = (value: string | string[] | undefined): string => ([] as string[]).concat(value ?? []).join('');

/** A cell's printed text: its streams and the text/plain of its results. */
export const textOf = (cell: Cell): string =>
  (cell.outputs ?? []).map((o) => (o.output_type === 'stream' ? joinText(o.text) : joinText(o.data?.['text/plain']))).join('');

/** The code cells of the notebook file `file`. */
export function codeCells(file: string): Cell[] {
  const nb = JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: Cell[] };
  return nb.cells.filter((c) => c.cell_type === 'code');
}
