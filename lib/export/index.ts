// Barrel for lib/export: notebooks to runnable TypeScript scripts and back (`tslab-dl export` / `import`).
// The converters need the TypeScript compiler (about 9 MB of JavaScript): they are loaded on first
// use, so that `import ... from 'tslab-dl'` in a notebook or a script does not pay for it.
import type * as ExportModule from './export-notebook';
import type * as ImportModule from './import-script';
import type { Notebook } from './notebook';

export type { ExportOptions } from './export-notebook';
export type { ImportOptions } from './import-script';
export { parseNotebook, serializeNotebook, TSLAB_DL_KERNELSPEC, TSLAB_DL_LANGUAGE_INFO, SKIP_EXPORT_TAG } from './notebook';
export type { Notebook, NotebookCell } from './notebook';

/**
 * The text of a TypeScript script that runs the notebook's code cells in order with
 * `npx tsx`: markdown as comments, `skip-export` cells left out, imports gathered at the
 * top, top-level await kept working, cells marked with `// %%` for {@link importScript}.
 * `notebook` is a parsed notebook or its JSON text. Throws DataFileError, naming the
 * notebook (`options.source`) and the cell, for a notebook that cannot become a script.
 */
export function exportNotebook(notebook: Notebook | string, options?: ExportModule.ExportOptions): string {
  return (require('./export-notebook') as typeof ExportModule).exportNotebook(notebook, options);
}

/** A tslab-dl notebook from a script with `// %%` cell markers (the inverse of {@link exportNotebook}). */
export function importScript(text: string, options?: ImportModule.ImportOptions): Notebook {
  return (require('./import-script') as typeof ImportModule).importScript(text, options);
}
