/**
 * Start-up: load tslab-dl and let it choose the TensorFlow.js backend before
 * the first cell runs, so cells start on a ready backend with no "you are
 * running TensorFlow.js in Node.js" banner. The first cell then shows one
 * line saying which backend is in use and why the faster ones were skipped.
 * If the library cannot be loaded the kernel still starts, and the first cell
 * shows why.
 *
 * Training with tfjs's own `model.fit()` becomes interruptible: while a fit
 * runs, an interrupt sets `model.stopTraining` (checked after each batch),
 * and the fit then throws InterruptedError so the rest of the cell stops too.
 */
import * as path from 'path';
import { createRequire } from 'module';
import type * as TslabDl from '../lib/index';
import type { BackendInfo } from '../lib/backend';
import type { TslabDlKernelHook } from './hook';

export interface StartupReport {
  /** The line shown at the top of the first cell's output. */
  line: string;
  stream: 'stdout' | 'stderr';
  library?: typeof TslabDl;
}

/** The library as a notebook in `notebookDir` imports it: its own install first, this kernel's package otherwise. */
function requireLibrary(notebookDir: string): typeof TslabDl {
  try {
    return createRequire(path.join(notebookDir, '__tslab_dl_cell__.js'))('tslab-dl');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND' || !String((e as Error).message).includes("'tslab-dl'")) throw e;
    return require('../lib/index');
  }
}

export function backendLine(info: BackendInfo): string {
  const skipped = info.candidates
    .filter((c) => c.usable === false)
    .map((c) => `${c.name}: ${c.reason}`);
  const why = info.requestedBy === 'default' ? '' : ` (chosen by ${info.requestedBy})`;
  return `tslab-dl: TensorFlow.js ${info.tfjsVersion} on ${info.backend}${why}${skipped.length ? ` (${skipped.join('; ')})` : ''}`;
}

export async function loadLibrary(notebookDir: string, hook: TslabDlKernelHook): Promise<StartupReport> {
  let library: typeof TslabDl;
  try {
    library = requireLibrary(notebookDir);
    const info = await library.ready();
    makeFitInterruptible(library, hook);
    // One short line (the details: backendInfo(), doctor()); an older library has only the long one.
    const line =
      typeof library.decideWhereItRuns === 'function'
        ? `tslab-dl: ${await library.decideWhereItRuns()}`
        : typeof library.whereItRuns === 'function'
          ? `tslab-dl: ${library.whereItRuns()}`
          : backendLine(info);
    return { line, stream: 'stdout', library };
  } catch (e) {
    const message = (e as Error)?.message?.split('\n')[0] ?? String(e);
    const root = path.resolve(__dirname, '..', '..');
    return {
      line:
        `tslab-dl: the library could not be loaded (${message}). Cells still run, but imports from 'tslab-dl' ` +
        `will fail: run \`npm install\` (or \`npm run build\`) in ${root}, then restart the kernel.`,
      stream: 'stderr',
    };
  }
}

const PATCHED = Symbol.for('tslab-dl.kernel.fit-interruptible');

/** Milliseconds of training between two returns to the event loop (where interrupts arrive). */
const YIELD_EVERY_MS = 100;

type CallbackLike = { setModel?: unknown; onBatchEnd?: unknown };

/**
 * Wraps `fit` and `fitDataset` of the library's tf.LayersModel so an interrupt stops them.
 *
 * An interrupt (a SIGINT handler or an interrupt_request) only runs when the
 * training loop returns to the event loop. tfjs does so every 125 ms through
 * the CustomCallback it builds from `{ onBatchEnd: ... }`-style callbacks or
 * from none; a list of Callback objects (e.g. `[tf.callbacks.earlyStopping()]`)
 * gets no such callback, so one is added.
 */
function makeFitInterruptible(library: typeof TslabDl, hook: TslabDlKernelHook): void {
  const tf = library.tf;
  const prototype = tf?.LayersModel?.prototype as unknown as { [key: string | symbol]: unknown } | undefined;
  if (!prototype || prototype[PATCHED]) return;
  prototype[PATCHED] = true;

  class EventLoopYielder extends tf.Callback {
    private last = Date.now();
    override async onBatchEnd(): Promise<void> {
      if (Date.now() - this.last < YIELD_EVERY_MS) return;
      await new Promise((resolve) => setImmediate(resolve));
      this.last = Date.now();
    }
  }
  const isCallbackObject = (c: unknown) =>
    c != null && typeof (c as CallbackLike).setModel === 'function' && typeof (c as CallbackLike).onBatchEnd === 'function';
  const withYielding = (args: unknown): unknown => {
    const callbacks = (args as { callbacks?: unknown } | undefined)?.callbacks;
    const list = callbacks == null ? [] : Array.isArray(callbacks) ? callbacks : [callbacks];
    if (list.length === 0 || !isCallbackObject(list[0])) return args;
    return { ...(args as object), callbacks: [...list, new EventLoopYielder()] };
  };

  // Index of the config argument: fit(x, y, args), fitDataset(dataset, args).
  for (const [method, argsIndex] of [['fit', 2], ['fitDataset', 1]] as const) {
    const original = prototype[method] as (...args: unknown[]) => Promise<unknown>;
    if (typeof original !== 'function') continue;
    prototype[method] = async function (this: { stopTraining: boolean }, ...args: unknown[]) {
      let interrupted = false;
      const untrack = hook.onInterrupt(() => {
        interrupted = true;
        this.stopTraining = true;
      });
      try {
        if (args.length > argsIndex) args[argsIndex] = withYielding(args[argsIndex]);
        const result = await original.apply(this, args);
        // The loop stopped early and returned normally: end the rest of the cell too.
        if (interrupted) throw new library.InterruptedError('Training');
        return result;
      } finally {
        untrack();
      }
    };
  }
}
