/**
 * Start-up: load tslab-dl and let it choose the TensorFlow.js backend before
 * the first cell runs, so cells start on a ready backend with no "you are
 * running TensorFlow.js in Node.js" banner. The first cell then shows one
 * line saying which backend is in use and why the faster ones were skipped.
 * If the library cannot be loaded the kernel still starts, and the first cell
 * shows why.
 *
 * Training with tfjs's own `model.fit()` becomes interruptible
 * (lib/compat/interruptible-fit.ts): while a fit runs, an interrupt sets
 * `model.stopTraining` (checked after each batch), and the fit then throws
 * InterruptedError so the rest of the cell stops too. Large tensors a notebook
 * no longer reaches are freed (lib/compat/unreachable-tensors.ts).
 */
import * as path from 'path';
import { createRequire } from 'module';
import type * as TslabDl from '../lib/index';
import type { BackendInfo } from '../lib/backends/selection';
import type { TslabDlKernelHook } from './hook';
import { applyInterruptibleFit } from '../lib/compat/interruptible-fit';
import { freeUnreachableTensors } from '../lib/compat/unreachable-tensors';

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
  const skipped = info.candidates.filter((c) => c.usable === false).map((c) => `${c.name}: ${c.reason}`);
  const why = info.requestedBy === 'default' ? '' : ` (chosen by ${info.requestedBy})`;
  return `tslab-dl: TensorFlow.js ${info.tfjsVersion} on ${info.backend}${why}${skipped.length ? ` (${skipped.join('; ')})` : ''}`;
}

export async function loadLibrary(notebookDir: string, hook: TslabDlKernelHook): Promise<StartupReport> {
  let library: typeof TslabDl;
  try {
    library = requireLibrary(notebookDir);
    const info = await library.ready();
    applyInterruptibleFit(
      library.tf,
      (stop) => hook.onInterrupt(stop),
      (what) => new library.InterruptedError(what),
    );
    // `x = x.div(255)` frees the old x once nothing refers to it, as in Python (the kernel collects after cells).
    freeUnreachableTensors(library.tf);
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
