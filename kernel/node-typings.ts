/**
 * Node's typings when a notebook needs them.
 *
 * tslab type-checks cells with every package under node_modules/@types, so @types/node is half of
 * what the compiler holds for a lesson's cells: 2.2 MB of the 4.7 MB of declarations it reads,
 * about 37 MB of a kernel's 85 MB of compiler memory. A lesson uses none of it but the console and
 * timers. Cells therefore start with kernel/typings/node-globals (those globals, declared as
 * @types/node declares them) and switch for good to tslab's usual typings, @types/node included,
 * as soon as one needs more of Node:
 * - before it is compiled, when it uses `process`, `require`, `Buffer` or `__dirname` (say), or
 *   imports one of Node's modules;
 * - after, when it fails with an error that fuller typings could remove (a name, module or
 *   member not found, or one that involves a type @types/node declares or extends): it is
 *   compiled again with them, and only those errors are shown.
 * TSLAB_DL_NODE_TYPES=full starts with @types/node.
 */
import * as fs from 'fs';
import * as path from 'path';
import { isBuiltin } from 'module';
import type * as TS from 'typescript';

/** 'globals': the console and timers only; 'full': tslab's typings, @types/node included. */
export type NodeTypings = 'globals' | 'full';

/** The folder above this file holding package.json: the checkout (from dist/kernel or kernel/). */
function checkoutRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '..');
  }
}

/** Where the node-globals typings live (a type root holding one folder, node-globals). */
export const NODE_GLOBALS_TYPE_ROOT = path.join(checkoutRoot(), 'kernel', 'typings');

/** The typings a new kernel starts with: TSLAB_DL_NODE_TYPES=full, else the globals only. */
export function initialNodeTypings(): NodeTypings {
  return process.env.TSLAB_DL_NODE_TYPES === 'full' ? 'full' : 'globals';
}

let creating: NodeTypings = 'full';

/** Runs `create` (which makes a converter) with `typings` for the compiler options it asks for. */
export function withNodeTypings<T>(typings: NodeTypings, create: () => T): T {
  const before = creating;
  creating = typings;
  try {
    return create();
  } finally {
    creating = before;
  }
}

/** The converter's compiler options with the typings asked for in {@link withNodeTypings}. */
export function nodeTypingsOptions(options: TS.CompilerOptions): TS.CompilerOptions {
  if (creating === 'full') return options;
  return { ...options, typeRoots: [NODE_GLOBALS_TYPE_ROOT], types: ['node-globals'] };
}

/** Node's globals that cells use most, as code (not as words in a comment): others are found by their errors. */
const NODE_GLOBAL_USES = /\b(process\.|require\s*\(|Buffer\b|__dirname\b|__filename\b|NodeJS\.)/;

/** Whether `code` needs more of Node than the globals: it names one, or imports a Node module. */
export function codeNeedsNodeTypings(code: string, specifiers: readonly string[]): boolean {
  return NODE_GLOBAL_USES.test(code) || specifiers.some((s) => isBuiltin(s));
}

/**
 * Codes of errors that say something is not declared: cannot find name (2304, 2552, and the
 * "install type definitions for node" forms 2580-2593), module (2307, 2792), namespace (2503),
 * exported member (2305, 2694).
 */
const UNDECLARED = new Set([2304, 2305, 2307, 2503, 2552, 2580, 2581, 2582, 2583, 2584, 2591, 2592, 2593, 2694, 2792]);

/** Types that @types/node declares or extends beyond the globals file, as error messages name them. */
const NODE_TYPE_NAMES =
  /\b(Console|NodeJS|typeof globalThis|ErrorConstructor|SymbolConstructor|Disposable|AsyncDisposable|ImportMeta|Symbol\.dispose|Symbol\.asyncDispose)\b/;

/** Whether any of `diagnostics` could go away with @types/node. */
export function errorsNeedNodeTypings(diagnostics: readonly { code: number; messageText: string }[]): boolean {
  return diagnostics.some((d) => UNDECLARED.has(d.code) || NODE_TYPE_NAMES.test(d.messageText));
}
