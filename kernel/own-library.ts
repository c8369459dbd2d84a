/**
 * `import ... from 'tslab-dl'` in any folder: a notebook outside this checkout (a learner's home
 * on a JupyterHub, where the instructor installed tslab-dl once in /opt/tslab-dl) finds no
 * node_modules/tslab-dl above it. Where the usual Node resolution finds none, the kernel gives
 * the cell its own library: at run time (Node's resolution) and when the cell is type-checked
 * (TypeScript's `paths`). A project with its own tslab-dl still gets that one.
 */
import * as fs from 'fs';
import * as path from 'path';
import Module from 'module';
import type * as TS from 'typescript';

export const LIBRARY_NAME = 'tslab-dl';

/** The checkout this kernel runs from (dist/kernel/ is two folders down). */
const CHECKOUT = path.resolve(__dirname, '..', '..');

/** Whether `request` names the library or a file in it ('tslab-dl', 'tslab-dl/dist/lib/train'). */
function namesLibrary(request: string): boolean {
  return request === LIBRARY_NAME || request.startsWith(`${LIBRARY_NAME}/`);
}

/** `request` inside this checkout: the package's main for 'tslab-dl', the path below it otherwise. */
function inCheckout(request: string): string {
  return request === LIBRARY_NAME ? CHECKOUT : path.join(CHECKOUT, request.slice(LIBRARY_NAME.length + 1));
}

type ResolveFilename = (request: string, parent: unknown, ...rest: unknown[]) => string;

let installed = false;

/** Node's resolution, then this checkout's library for 'tslab-dl' requests nothing else answers. */
export function resolveOwnLibraryAtRunTime(): void {
  if (installed) return;
  installed = true;
  const modules = Module as unknown as { _resolveFilename: ResolveFilename };
  const resolveFilename = modules._resolveFilename;
  modules._resolveFilename = function (this: unknown, request, parent, ...rest) {
    try {
      return resolveFilename.call(this, request, parent, ...rest);
    } catch (e) {
      if (!namesLibrary(request) || (e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
      return resolveFilename.call(this, inCheckout(request), parent, ...rest);
    }
  };
}

/**
 * `options` with `paths` pointing 'tslab-dl' at this checkout's declarations when TypeScript
 * would not find the library from `rootDir` (the notebook's project) by itself; unchanged otherwise.
 */
export function withOwnLibraryTypes(ts: typeof TS, options: TS.CompilerOptions): TS.CompilerOptions {
  const root = options.rootDir ?? process.cwd();
  const found = ts.resolveModuleName(LIBRARY_NAME, path.join(root, '__tslab__.ts'), options, ts.sys).resolvedModule;
  const declarations = path.join(CHECKOUT, 'dist', 'lib', 'index.d.ts');
  if (found || !fs.existsSync(declarations)) return options;
  return {
    ...options,
    paths: { ...options.paths, [LIBRARY_NAME]: [declarations], [`${LIBRARY_NAME}/*`]: [path.join(CHECKOUT, '*')] },
  };
}
