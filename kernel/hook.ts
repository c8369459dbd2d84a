/**
 * The kernel's side of lib/display.ts: the object published on
 * `globalThis[Symbol.for('tslab-dl.kernel')]`. Library code finds the kernel
 * through it to show MIME bundles (in place, with display ids), clear output,
 * and notice interrupts between batches of long work.
 */
import { DisplayOptions, KERNEL_HOOK, KernelHook, MimeBundle } from '../lib/display';

/** Something whose training can be stopped: a tf.LayersModel (`stopTraining` is checked after each batch). */
export interface Stoppable {
  stopTraining: boolean;
}

/** Where the hook's output goes: the kernel, as messages about the current cell. */
export interface OutputSink {
  display(data: MimeBundle, options: DisplayOptions): void;
  clearOutput(wait: boolean): void;
}

/** The hook the tslab-dl kernel installs, with its interrupt registry. */
export interface TslabDlKernelHook extends KernelHook {
  /** Clears the current cell's output (`wait`: when the next output arrives). */
  clearOutput(wait?: boolean): void;
  /** Calls `listener` on every interrupt until the returned function is called. */
  onInterrupt(listener: () => void): () => void;
  /** Sets `model.stopTraining = true` on an interrupt until the returned function is called. */
  trackTraining(model: Stoppable): () => void;
}

export class KernelHookImpl implements TslabDlKernelHook {
  private requested = false;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly sink: OutputSink, private readonly log: (text: string) => void) {}

  get interruptRequested(): boolean {
    return this.requested;
  }

  display(data: MimeBundle, options: DisplayOptions = {}): void {
    this.sink.display(data, options);
  }

  clearOutput(wait = false): void {
    this.sink.clearOutput(wait);
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

  /** The user interrupted: flag it until the next cell starts and tell every listener. */
  interrupt(): void {
    this.requested = true;
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch (e) {
        this.log(`an interrupt listener failed: ${(e as Error).message}`);
      }
    }
  }

  /** A new cell starts: earlier interrupts no longer apply. */
  cellStarted(): void {
    this.requested = false;
  }

  /** Publishes this hook where lib/display.ts looks for it. */
  install(): void {
    (globalThis as { [KERNEL_HOOK]?: KernelHook })[KERNEL_HOOK] = this;
  }
}
