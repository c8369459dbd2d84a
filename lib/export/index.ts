// Barrel for lib/export: notebooks to runnable TypeScript scripts and back (`tslab-dl export` / `import`).
export { exportNotebook } from './export-notebook';
export type { ExportOptions } from './export-notebook';
export { importScript } from './import-script';
export type { ImportOptions } from './import-script';
export { parseNotebook, serializeNotebook, TSLAB_DL_KERNELSPEC, TSLAB_DL_LANGUAGE_INFO, SKIP_EXPORT_TAG } from './notebook';
export type { Notebook, NotebookCell } from './notebook';
