/**
 * The kernel's side of lib/notebook/display.ts: the object published on
 * `globalThis[Symbol.for('tslab-dl.kernel')]`. Library code finds the kernel
 * through it to show MIME bundles (in place, with display ids), clear output,
 * and notice interrupts between batches of long work.
 */
import { AsyncLocalStorage } from 'async_hooks';
import { DisplayOptions, MimeBundle } from '../lib/notebook/display';
import { KERNEL_HOOK, KernelHook } from '../lib/notebook/kernel-hook';

/** Something whose training can be stopped: a tf.LayersModel (`stopTraining` is checked after each batch). */
export interface Stoppable {
  stopTraining: boolean;
}

/** Where the hook's output goes: the kernel, as messages about the current cell. */
export interface OutputSink {
  display(data: MimeBundle, options: DisplayOptions): void;
  clearOutput(wait: boolean): void;
  page(data: MimeBundle, start: number): void;
}

/** The hook the tslab-dl kernel installs, with its interrupt registry. */
export interface TslabDlKernelHook extends KernelHook {
  /** Clears the current cell's output (`wait`: when the next output arrives). */
  clearOutput(wait?: boolean): void;
  /** Shows text in the front end's pager (IPython's `?`), e.g. long help; `start` is the first line shown. */
  page(data: string | MimeBundle, start?: number): void;
  /** Calls `listener` on every interrupt until the returned function is called. */
  onInterrupt(listener: () => void): () => void;
  /** Sets `model.stopTraining = true` on an interrupt until the returned function is called. */
  trackTraining(model: Stoppable): () => void;
  /**
   * Node's typings cells are type-checked with: 'globals' (the console and timers) until a cell
   * needed more, 'full' (@types/node) since (kernel/node-typings.ts); undefined before the compiler loaded.
   */
  compilerNodeTypings(): 'globals' | 'full' | undefined;
}

/** One cell's run: everything it starts, however asynchronous, sees this token. */
export interface CellToken {
  interrupted: boolean;
  /** The cell's label (`In[3]`), for messages about errors its work throws later. */
  label?: string;
}

/**
 * `interruptRequested` is answered per cell. Work a cell started keeps its
 * token through promises and timers (AsyncLocalStorage), so an interrupted
 * cell's loop still sees its interrupt after the next cell has started, and
 * the next cell does not. Code outside any cell sees the latest interrupt
 * until a new cell starts.
 */
export class KernelHookImpl implements TslabDlKernelHook {
  private requested = false;
  private readonly listeners = new Set<() => void>();
  private readonly cells = new AsyncLocalStorage<CellToken>();
  private current?: CellToken;
  /** Set by the kernel once its compiler is loaded. */
  nodeTypingsSource?: () => 'globals' | 'full';

  constructor(
    private readonly sink: OutputSink,
    private readonly log: (text: string) => void,
  ) {}

  get interruptRequested(): boolean {
    return this.cells.getStore()?.interrupted ?? this.requested;
  }

  /** Runs `work` (a cell) with a fresh token; earlier interrupts no longer apply to new work. */
  runCell<T>(work: () => Promise<T>, label?: string): Promise<T> {
    this.requested = false;
    this.current = { interrupted: false, label };
    return this.cells.run(this.current, work);
  }

  /**
   * The cell whose work `resource` (a promise) was created by, else the cell whose work is
   * running now, else undefined. Node 20's AsyncLocalStorage keeps its store on each async
   * resource, promises included, under its `kResourceStore` symbol
   * (https://github.com/nodejs/node/blob/v20.x/lib/async_hooks.js); where that is absent, the
   * store of the running code is the rejecting code's, as Node reports a rejection from there.
   */
  cellOf(resource?: object): CellToken | undefined {
    const key = (this.cells as unknown as { kResourceStore?: symbol }).kResourceStore;
    const fromResource = resource && typeof key === 'symbol' ? (resource as { [key: symbol]: unknown })[key] : undefined;
    return (fromResource as CellToken | undefined) ?? this.cells.getStore();
  }

  display(data: MimeBundle, options: DisplayOptions = {}): void {
    this.sink.display(data, options);
  }

  clearOutput(wait = false): void {
    this.sink.clearOutput(wait);
  }

  page(data: string | MimeBundle, start = 0): void {
    this.sink.page(typeof data === 'string' ? { 'text/plain': data } : data, start);
  }

  onInterrupt(listener: () => void): () => void {
    const entry = () => listener();
    this.listeners.add(entry);
    return () => void this.listeners.delete(entry);
  }

  trackTraining(model: Stoppable): () => void {
    return this.onInterrupt(() => {
      model.stopTraining = true;
    });
  }

  compilerNodeTypings(): 'globals' | 'full' | undefined {
    return this.nodeTypingsSource?.();
  }

  /** The user interrupted: flag the running cell (and, until the next cell starts, everything else) and tell every listener. */
  interrupt(): void {
    this.requested = true;
    if (this.current) this.current.interrupted = true;
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch (e) {
        this.log(`an interrupt listener failed: ${(e as Error).message}`);
      }
    }
  }

  /** Publishes this hook where lib/notebook/display.ts looks for it. */
  install(): void {
    (globalThis as { [KERNEL_HOOK]?: KernelHook })[KERNEL_HOOK] = this;
  }
}
