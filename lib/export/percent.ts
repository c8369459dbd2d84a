/**
 * The script layout: the "percent" cell format (`// %%` starts a code cell,
 * `// %% [markdown]` a block of commented markdown), as Jupytext, VS Code and
 * Spyder read it, inside a wrapper that lets cells keep notebook semantics:
 *
 *     <header comment>
 *     <imports of all cells>
 *
 *     async function main(): Promise<void> {
 *     // %% [markdown]
 *     // # Title
 *
 *     // %%
 *     const x = await load();       <- top-level await works inside main()
 *     }
 *
 *     main().catch(...);
 *
 * Cells stay at column 0 inside main(): indenting them would change multi-line
 * strings. Export writes these lines and import recognises them, so both sides
 * of the round trip take their text from here.
 */
import type { CellType } from './notebook';

/** `// %%`, optionally followed by a title and `[markdown]`/`[md]`/`[raw]` (Jupytext's form). */
const MARKER = /^\/\/\s?%%(?!%)(.*)$/;

export const CODE_MARKER = '// %%';
export const MARKDOWN_MARKER = '// %% [markdown]';
export const RAW_MARKER = '// %% [raw]';

/** The cell type a line starts, or undefined when it is not a cell marker. */
export function markerType(line: string): CellType | undefined {
  const match = MARKER.exec(line.trimEnd());
  if (!match) return undefined;
  const rest = match[1];
  if (/\[(markdown|md)\]/.test(rest)) return 'markdown';
  if (/\[raw\]/.test(rest)) return 'raw';
  return 'code';
}

export const HEADER = [
  '// A TypeScript script exported from a Jupyter notebook by `tslab-dl export`. Run it with',
  '// `npx tsx <this file>`; `npx tslab-dl import <this file>` turns it back into a notebook.',
  '// Cells start at the `// %%` lines. The imports of all cells are gathered here, and the cells',
  '// run in order inside main(), so that `await` works at the top of a cell and declarations',
  '// stay visible to the cells below, as in the notebook.',
];

/** Makes a script with no import a module, so that its names stay its own. */
export const MODULE_MARKER = 'export {};';

export const MAIN_NAME = 'main';
export const MAIN_START = 'async function main(): Promise<void> {';
export const MAIN_END = '}';

export const RUN_MAIN = ['main().catch((error: unknown) => {', '  console.error(error);', '  process.exitCode = 1;', '});'];

/** Before the first cell of a notebook that uses tslab-dl, as the kernel does at start-up. */
export const READY_COMMENT = '// As the tslab-dl kernel does before the first cell: choose the TensorFlow.js backend.';

export function readyCall(name: string): string {
  return `await ${name}();`;
}

/** Shows a cell's last value in the script, as the notebook shows it below the cell. */
export const CELL_VALUE_HELPER = 'showCellValue';

/** Marks a value the library has displayed already (plotHistory, evaluate...): the kernel does not show it again. */
export const SHOWN_MARK = "Symbol.for('tslab-dl.shown')";

export function cellValueHelper(displayName: string): string[] {
  return [
    '/**',
    ' * Shows what the notebook shows below a cell: the value of its last expression, unless',
    ' * undefined or null, or already displayed by the library (a plot, an evaluation).',
    ' */',
    `function ${CELL_VALUE_HELPER}(value: unknown): void {`,
    '  if (value === undefined || value === null) return;',
    `  if ((Object(value) as { [key: symbol]: unknown })[${SHOWN_MARK}]) return;`,
    `  ${displayName}(value);`,
    '}',
  ];
}

/**
 * A cell that declares a name an earlier cell declared (a notebook allows it: the
 * new value replaces the old) opens a block, so the new declaration shadows the old.
 */
export const NEW_BLOCK_PREFIX = '{ // a new block: ';

export function newBlockLine(names: string[]): string {
  const list = names.map((n) => `\`${n}\``).join(', ');
  return `${NEW_BLOCK_PREFIX}this cell declares ${list} again, as a notebook may`;
}

export const BLOCK_END = '} // end of a block opened where a cell declares names again';

/** Markdown or raw text as `//` comment lines (an empty line becomes `//`). */
export function commentLines(text: string): string[] {
  return text.split('\n').map((line) => (line === '' ? '//' : `// ${line}`));
}

/** The inverse of {@link commentLines}; lines that are not comments are kept as they are. */
export function uncommentLines(lines: string[]): string {
  return lines
    .map((line) => {
      if (line.startsWith('// ')) return line.slice(3);
      if (line.startsWith('//')) return line.slice(2);
      return line.trim() === '' ? '' : line;
    })
    .join('\n');
}
