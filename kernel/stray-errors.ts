/**
 * Errors nobody caught (a throwing timer, a rejected promise nobody awaited),
 * shown as Jupyter error outputs: `ename`, `evalue`, and a traceback whose
 * first line says where the error came from and what to do.
 *
 * Where one goes is the kernel's choice (kernel/kernel.ts): it fails the cell
 * that caused it while that cell runs; otherwise it is shown in the next
 * execution, as ipykernel shows errors that arrive after their cell ended
 * (https://ipykernel.readthedocs.io/). This file formats them, holds the ones
 * waiting for that next execution, and keeps a looping timer that throws every
 * few milliseconds from flooding the notebook or the log.
 */
import { ErrorContent, runtimeError } from './traceback';

export type StrayKind = 'uncaughtException' | 'unhandledRejection';

/** At most this many stray errors are shown per cell (the rest are counted). */
const SHOWN_PER_CELL = 10;
/** At most this many wait for the next execution. */
const MAX_PENDING = 10;

/** Where the error came from, as far as the kernel knows. */
export interface StrayOrigin {
  /** The cell's label (`In[3]`) when the error came from work a cell started. */
  label?: string;
  /** Whether that cell was still running when the error arrived. */
  running: boolean;
}

function headline(kind: StrayKind, origin: StrayOrigin): string {
  const from = origin.label
    ? origin.running
      ? 'in this cell'
      : `from ${origin.label}, which had already finished`
    : 'from code outside any cell';
  return kind === 'unhandledRejection'
    ? `Unhandled promise rejection ${from}: a promise failed and nothing awaited it or called .catch() on it.`
    : `Uncaught exception ${from}, thrown in a callback (a timer, an event handler) where no try/catch could see it.`;
}

function hint(kind: StrayKind): string {
  return kind === 'unhandledRejection'
    ? 'Put `await` in front of calls that return a promise (e.g. `await loadDollarStreet(...)`), or add `.catch(...)`. The kernel is still running and keeps its variables.'
    : 'Catch errors inside the callback (try/catch around its body). The kernel is still running and keeps its variables.';
}

/** The error output for a stray error; `explain` turns backend failures into advice (the library's explainBackendError). */
export function strayErrorContent(
  error: unknown,
  kind: StrayKind,
  origin: StrayOrigin,
  explain: (e: unknown) => unknown = (e) => e,
): ErrorContent {
  let base: ErrorContent;
  try {
    base = runtimeError(explain(error));
  } catch {
    base = runtimeError(error);
  }
  return { ...base, traceback: [headline(kind, origin), ...base.traceback, hint(kind)] };
}

/** One line for the kernel's log. */
export function strayLogLine(error: unknown, kind: StrayKind, origin: StrayOrigin): string {
  const where = origin.label ? ` from ${origin.label}${origin.running ? '' : ' (finished)'}` : '';
  const text = (error as Error)?.stack ?? String(error);
  return `${kind}${where}: ${text}`;
}

/** Counts what each cell showed, and holds errors for the next execution. */
export class StrayErrorQueue {
  private readonly pending: ErrorContent[] = [];
  private notPending = 0;
  private shownFor = new WeakMap<object, number>();
  private hiddenFor = new WeakMap<object, number>();

  /** Whether another stray error may be shown in the cell of `request`; counts the ones that may not. */
  mayShow(request: object): boolean {
    const shown = this.shownFor.get(request) ?? 0;
    if (shown < SHOWN_PER_CELL) {
      this.shownFor.set(request, shown + 1);
      return true;
    }
    this.hiddenFor.set(request, (this.hiddenFor.get(request) ?? 0) + 1);
    return false;
  }

  /** How many stray errors of the cell of `request` were not shown (for one summary line). */
  hidden(request: object): number {
    return this.hiddenFor.get(request) ?? 0;
  }

  /** Keeps an error for the next execution. */
  hold(content: ErrorContent): void {
    if (this.pending.length < MAX_PENDING) this.pending.push(content);
    else this.notPending++;
  }

  /** The held errors (and a summary of any that did not fit), emptied. */
  take(): ErrorContent[] {
    const taken = this.pending.splice(0);
    if (this.notPending > 0) {
      const evalue = `${this.notPending} more uncaught errors arrived while no cell was running; the kernel's log has them all.`;
      taken.push({ ename: 'UncaughtErrors', evalue, traceback: [`UncaughtErrors: ${evalue}`] });
      this.notPending = 0;
    }
    return taken;
  }
}

/** The summary shown once a cell's stray errors stop being shown. */
export function hiddenSummary(count: number): ErrorContent {
  const evalue =
    `${count} more uncaught errors from this cell's callbacks were not shown (the kernel's log has them). ` +
    'A timer or an interval that keeps throwing can be stopped with clearTimeout/clearInterval, or by restarting the kernel.';
  return { ename: 'UncaughtErrors', evalue, traceback: [`UncaughtErrors: ${evalue}`] };
}
