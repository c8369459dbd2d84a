/**
 * One TypeScript in the kernel process: tslab's `require('@tslab/typescript-for-tslab')` (its
 * converter, inspect and public API) gets kernel/tslab-typescript.ts, the project's `typescript`
 * (5.9, the one `tslab-dl export` parses cells with) with the few additions tslab's converter
 * expects from its TypeScript 5.0 fork. Cells may then use what TypeScript 5.9 knows (`using`,
 * import attributes, ...), and a cell that exports also runs.
 *
 * Installed before anything loads tslab's converter (kernel.ts does it first thing;
 * kernel/typescript.ts too, for code that reaches the compiler without the kernel). Loads
 * nothing itself: the compiler still loads when the first cell needs it.
 */
import * as path from 'path';
import Module from 'module';

export const TSLAB_TYPESCRIPT = '@tslab/typescript-for-tslab';

type ResolveFilename = (request: string, parent: unknown, ...rest: unknown[]) => string;

let installed = false;

export function useProjectTypeScriptInTslab(): void {
  if (installed) return;
  const loadedFork = Object.keys(require.cache).find((file) => file.split(path.sep).join('/').includes(`/${TSLAB_TYPESCRIPT}/`));
  if (loadedFork) {
    throw new Error(`tslab-dl: tslab's own TypeScript (${loadedFork}) loaded before the kernel could give tslab the project's TypeScript`);
  }
  installed = true;
  const adapter = require.resolve('./tslab-typescript');
  const modules = Module as unknown as { _resolveFilename: ResolveFilename };
  const resolveFilename = modules._resolveFilename;
  modules._resolveFilename = function (this: unknown, request, parent, ...rest) {
    if (request === TSLAB_TYPESCRIPT) return adapter;
    return resolveFilename.call(this, request, parent, ...rest);
  };
}
