/**
 * Interrupting tfjs' own `model.fit()` in the kernel (Kernel > Interrupt): the kernel applies
 * this to the tfjs of the library a notebook loads, which may be another copy than this package's,
 * so it takes `tf` as an argument and imports tfjs' types only.
 */
import type * as TF from '@tensorflow/tfjs';
import { markOnce } from './markers';

const PATCHED = Symbol.for('tslab-dl.kernel.fit-interruptible');

/** Milliseconds of training between two returns to the event loop (where interrupts arrive). */
const YIELD_EVERY_MS = 100;

type CallbackLike = { setModel?: unknown; onBatchEnd?: unknown };

/**
 * Wraps `fit` and `fitDataset` of `tf`'s LayersModel so an interrupt stops them: `onInterrupt`
 * registers what to do on an interrupt and returns its removal; `interrupted(what)` makes the
 * error thrown once the loop has stopped.
 *
 * An interrupt (a SIGINT handler or an interrupt_request) only runs when the
 * training loop returns to the event loop. tfjs does so every 125 ms through
 * the CustomCallback it builds from `{ onBatchEnd: ... }`-style callbacks or
 * from none; a list of Callback objects (e.g. `[tf.callbacks.earlyStopping()]`)
 * gets no such callback, so one is added.
 */
export function applyInterruptibleFit(
  tf: typeof TF,
  onInterrupt: (stop: () => void) => () => void,
  interrupted: (what: string) => Error,
): void {
  const prototype = tf?.LayersModel?.prototype as unknown as { [key: string | symbol]: unknown } | undefined;
  if (!prototype || !markOnce(prototype, PATCHED)) return;

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
  for (const [method, argsIndex] of [
    ['fit', 2],
    ['fitDataset', 1],
  ] as const) {
    const original = prototype[method] as (...args: unknown[]) => Promise<unknown>;
    if (typeof original !== 'function') continue;
    prototype[method] = async function (this: { stopTraining: boolean }, ...args: unknown[]) {
      let stopped = false;
      const untrack = onInterrupt(() => {
        stopped = true;
        this.stopTraining = true;
      });
      try {
        if (args.length > argsIndex) args[argsIndex] = withYielding(args[argsIndex]);
        const result = await original.apply(this, args);
        // The loop stopped early and returned normally: end the rest of the cell too.
        if (stopped) throw interrupted('Training');
        return result;
      } finally {
        untrack();
      }
    };
  }
}
