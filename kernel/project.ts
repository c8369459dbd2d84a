/**
 * Where cells are compiled from: tslab's converter, rooted at the project.
 *
 * The converter takes its folder from the process's current directory and
 * uses it as `rootDir`; rooted at the notebook's folder, it refuses any .ts
 * file above it. The kernel roots it at the project (the nearest folder above
 * the notebook with a package.json) while the process keeps the notebook's
 * folder as its current directory (see cell-modules.ts for relative imports).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Converter } from 'tslab/dist/converter';
import { ts } from './typescript';
import { NodeTypings, withNodeTypings } from './node-typings';

export type { Converter };

/** The nearest folder at or above `dir` holding a package.json; `dir` itself when there is none. */
export function findProjectRoot(dir: string): string {
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    if (fs.existsSync(path.join(at, 'package.json'))) return at;
    if (path.dirname(at) === at) return path.resolve(dir);
  }
}

/** The path (with '/' separators, as the compiler writes them) of the file a cell is compiled as. */
export function cellFileIn(root: string): string {
  return `${root.split(path.sep).join('/')}/__tslab__.ts`;
}

/** tslab's converter with `root` as its folder and rootDir, and Node's `typings` (kernel/node-typings.ts). */
export function createProjectConverter(root: string, typings: NodeTypings = 'full'): Converter {
  const { createConverter } = require('tslab/dist/converter') as typeof import('tslab/dist/converter');
  const getCurrentDirectory = ts.sys.getCurrentDirectory;
  ts.sys.getCurrentDirectory = () => root.split(path.sep).join('/');
  try {
    return withNodeTypings(typings, () => createConverter({ isJS: false, isBrowser: false }));
  } finally {
    ts.sys.getCurrentDirectory = getCurrentDirectory;
  }
}
