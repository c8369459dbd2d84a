/**
 * Replacing a broken wasm backend with a fresh one, in the same process.
 *
 * After a trap inside the wasm backend (an emscripten "Aborted()", "memory access out of bounds")
 * its module stays broken: every later operation, even `tf.scalar(1).add(1)`, traps again, and
 * the tensors on it may already be overwritten. tfjs 4.22 lets a backend be replaced at run time
 * (https://js.tensorflow.org/api/latest/#removeBackend, #registerBackend, #setBackend), so:
 *
 * - a spare wasm backend (its own emscripten module, 16 MiB) is made in the background once wasm is
 *   chosen, from the factory tfjs-backend-wasm registered; a reset swaps it in synchronously (a
 *   factory that returns an instance makes `tf.setBackend` finish without awaiting), so it works
 *   from the kernel's synchronous error hook and the very next cell;
 * - the broken instance becomes a tombstone: every tensor that was on it is lost, and reading one
 *   (directly, or as the input of an operation, which tfjs then moves between backends) throws a
 *   BackendError that says so, while disposing one still works;
 * - the process listeners emscripten's Node glue adds per module (uncaughtException,
 *   unhandledRejection) are removed with it, whether attached or set aside by the kernel, so
 *   its memory (up to 4 GiB) can be collected.
 */
import * as tf from '@tensorflow/tfjs';
import { BackendError } from '../core/errors';
import { guardWasmMemory } from './wasm-memory';

/** The priority tfjs-backend-wasm registers its factory with (https://js.tensorflow.org/api/latest/#registerBackend). */
const WASM_PRIORITY = 2;
const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;

type Listener = (...args: any[]) => void;
type ModuleListeners = { event: (typeof PROCESS_EVENTS)[number]; listener: Listener }[];

/** The listeners emscripten added for each wasm backend instance's module. */
const listenersOf = new WeakMap<object, ModuleListeners>();
/** tfjs-backend-wasm's own factory (a reset registers a wrapper around it). */
let wasmFactory: (() => tf.KernelBackend | Promise<tf.KernelBackend>) | undefined;
let spare: tf.KernelBackend | undefined;
let spareMaking: Promise<void> | undefined;
let pending: Promise<void> | undefined;
const resetListeners: (() => void)[] = [];

/** Every emscripten listener of a live module we made or activated (detached while another module is made). */
const liveListeners: ModuleListeners = [];
/** The module being made now: one at a time. */
let creating: Promise<void> = Promise.resolve();

/**
 * Runs `work` (which may create an emscripten module) and returns the process listeners it added.
 * Additions are caught as they are made (`process.on` / `addListener`), not only by comparing
 * `process.listeners()` before and after: a host that sets such listeners aside (the tslab-dl
 * kernel does) keeps them out of that list, but still holds them until they are removed.
 * The listeners of the modules already alive are detached meanwhile: tfjs-backend-wasm's glue keeps
 * a copy of the listeners present when a module is made (`beforeListeners` in its Node glue), which
 * would chain every older module, memory included, to the newest one. Those listeners only
 * rethrow (what Node does without them), so detaching them for a moment changes nothing else.
 */
export function collectModuleListeners<T>(work: () => Promise<T>): Promise<{ result: T; listeners: ModuleListeners }> {
  // One at a time: two modules made together could not tell their listeners apart.
  const run = creating.then(() => collectNow(work));
  creating = run.then(
    () => undefined,
    () => undefined,
  );
  return run;
}

async function collectNow<T>(work: () => Promise<T>): Promise<{ result: T; listeners: ModuleListeners }> {
  const detached = liveListeners.splice(0);
  for (const { event, listener } of detached) process.removeListener(event, listener);
  const before = new Map(PROCESS_EVENTS.map((event) => [event, new Set(process.listeners(event as any))]));
  const listeners: ModuleListeners = [];
  const proc = process as unknown as { on: Function; addListener: Function };
  const adders = { on: proc.on, addListener: proc.addListener };
  const own = {
    on: Object.prototype.hasOwnProperty.call(process, 'on'),
    addListener: Object.prototype.hasOwnProperty.call(process, 'addListener'),
  };
  const recording = (add: Function) =>
    function (this: unknown, event: string, listener: Listener, ...rest: unknown[]) {
      if ((PROCESS_EVENTS as readonly string[]).includes(event))
        listeners.push({ event: event as ModuleListeners[number]['event'], listener });
      return add.call(this, event, listener, ...rest);
    };
  proc.on = recording(adders.on);
  proc.addListener = recording(adders.addListener);
  let result: T;
  try {
    result = await work();
  } finally {
    // Back as they were: EventEmitter's own methods (inherited), or a host's wrappers.
    for (const name of ['on', 'addListener'] as const) {
      if (own[name]) proc[name] = adders[name];
      else delete (proc as Partial<typeof proc>)[name];
    }
    for (const { event, listener } of detached) process.on(event as any, listener);
    liveListeners.push(...detached);
  }
  for (const event of PROCESS_EVENTS) {
    for (const listener of process.listeners(event as any)) {
      const known = listeners.some((l) => l.listener === listener) || detached.some((d) => d.listener === listener);
      if (!before.get(event)!.has(listener) && !known) listeners.push({ event, listener: listener as Listener });
    }
  }
  return { result, listeners };
}

/** Remembers the listeners that belong to a wasm backend instance's module (see {@link collectModuleListeners}). */
export function rememberModuleListeners(backend: object | undefined, listeners: ModuleListeners): void {
  if (!backend || listeners.length === 0) return;
  listenersOf.set(backend, listeners);
  liveListeners.push(...listeners);
}

/** Removes a module's process listeners, whose closures hold the module and its memory. */
function forgetModuleListeners(backend: object): void {
  for (const { event, listener } of listenersOf.get(backend) ?? []) {
    process.removeListener(event, listener);
    const at = liveListeners.findIndex((l) => l.listener === listener);
    if (at >= 0) liveListeners.splice(at, 1);
  }
  listenersOf.delete(backend); // the tombstone outlives the module
}

/** Calls `listener` after every reset: caches that hold tensors drop them (they are lost). */
export function onBackendReset(listener: () => void): void {
  resetListeners.push(listener);
}

/** Whether the active backend computes 1 + 1 = 2 right now (synchronously; never throws). */
export function backendWorks(): boolean {
  const made: tf.Tensor[] = [];
  try {
    const one = tf.scalar(1);
    made.push(one);
    const two = tf.add(one, one);
    made.push(two);
    return two.dataSync()[0] === 2;
  } catch {
    return false;
  } finally {
    for (const t of made) {
      try {
        t.dispose();
      } catch {
        // A broken backend may fail to free it too; a reset makes that moot.
      }
    }
  }
}

/** How many tensor buffers the wasm backend holds (what a reset loses). */
export function wasmTensorCount(): number {
  try {
    return (tf.findBackend('wasm') as { numDataIds?: () => number } | null)?.numDataIds?.() ?? 0;
  } catch {
    return 0;
  }
}

/**
 * Makes a spare wasm backend in the background, unless one exists or is being made. Called once
 * wasm is chosen; failures are ignored (a reset then waits for a fresh backend instead).
 */
export function prepareSpareWasmBackend(): void {
  if (spare || spareMaking) return;
  wasmFactory ??= tf.findBackendFactory('wasm') ?? undefined;
  const factory = wasmFactory;
  if (!factory) return;
  spareMaking = collectModuleListeners(async () => factory())
    .then(({ result, listeners }) => {
      rememberModuleListeners(result, listeners);
      spare = result;
    })
    .catch(() => undefined) // no spare: a reset then makes a fresh backend asynchronously
    .finally(() => {
      spareMaking = undefined;
    });
}

/** A reset in progress (when no spare was ready), for ready() to wait on. */
export function pendingReset(): Promise<void> | undefined {
  return pending;
}

function lostMessage(dataId: object, when: string): string {
  const shape = (tf.engine() as any).state?.tensorInfo?.get(dataId)?.shape as number[] | undefined;
  const what = shape ? `This tensor (shape [${shape.join(', ')}])` : 'This tensor';
  return (
    `${what} is lost: it was on the wasm backend, which broke and was reset at ${when} (see the error shown then). ` +
    `Make it again: re-run the cells from the one that loads the data, and build the model again.`
  );
}

/** Turns the broken instance into one that says "lost" for every tensor it held, and frees its module. */
function tombstone(broken: any, when: string): void {
  const lost = (dataId: object) => {
    throw new BackendError(lostMessage(dataId, when), 'wasm');
  };
  forgetModuleListeners(broken);
  Object.assign(broken, {
    readSync: lost,
    read: async (dataId: object) => lost(dataId),
    readToGPU: lost,
    disposeData: () => true,
    refCount: () => 0,
    incRef: () => undefined,
    numDataIds: () => 0,
    memory: () => ({ unreliable: false }),
    dispose: () => undefined,
  });
  broken.wasm = null;
}

export interface ResetOutcome {
  /** reset: a fresh wasm backend runs now; pending: one is being made (await ready()); failed: none could be made. */
  state: 'reset' | 'pending' | 'failed';
  /** Why it failed. */
  reason?: string;
}

function afterReset(): void {
  guardWasmMemory(tf.findBackend('wasm'));
  for (const listener of resetListeners) {
    try {
      listener();
    } catch {
      // A cache that cannot drop its entries must not hide the reset.
    }
  }
  prepareSpareWasmBackend();
}

/**
 * Replaces the active, broken wasm backend with a fresh one: synchronously when the spare is
 * ready, else in the background (see {@link pendingReset}). Every tensor on the old one is lost.
 */
export function resetWasmBackend(): ResetOutcome {
  if (tf.getBackend() !== 'wasm') return { state: 'failed', reason: 'the wasm backend is not the one in use' };
  wasmFactory ??= tf.findBackendFactory('wasm') ?? undefined;
  const factory = wasmFactory;
  if (!factory) return { state: 'failed', reason: 'tfjs has no wasm backend factory registered' };
  const when = new Date().toTimeString().slice(0, 8);
  tombstone(tf.findBackend('wasm'), when);
  tf.removeBackend('wasm'); // disposes the tombstone's kernels and forgets it
  let fresh = spare;
  spare = undefined;
  // Hands out the spare once; a later initialisation (after another removeBackend) makes a new one.
  tf.registerBackend(
    'wasm',
    () => {
      const instance = fresh;
      fresh = undefined;
      return (
        instance ??
        (collectModuleListeners(async () => factory()).then(({ result, listeners }) => {
          rememberModuleListeners(result, listeners);
          return result;
        }) as Promise<tf.KernelBackend>)
      );
    },
    WASM_PRIORITY,
  );
  if (fresh) {
    const instance = fresh;
    void tf.setBackend('wasm'); // completes synchronously: the factory returns an instance
    if (tf.findBackend('wasm') === instance && tf.getBackend() === 'wasm') {
      afterReset();
      return { state: 'reset' };
    }
  }
  pending = tf
    .setBackend('wasm')
    .then((ok) => {
      if (!ok) throw new Error("tf.setBackend('wasm') returned false");
      afterReset();
    })
    .finally(() => {
      pending = undefined;
    });
  pending.catch(() => undefined);
  return { state: 'pending' };
}

/**
 * Waits for a fresh wasm backend after a reset, or resets now when the backend in use is a broken
 * wasm backend. Resolves to false when no reset was needed.
 */
export async function recoverWasmBackend(): Promise<boolean> {
  if (pending) {
    await pending;
    return true;
  }
  if (tf.getBackend() !== 'wasm' || backendWorks()) return false;
  const outcome = resetWasmBackend();
  if (outcome.state === 'failed')
    throw new BackendError(`The wasm backend is broken and could not be reset: ${outcome.reason}. Restart the kernel.`, 'wasm');
  await pending;
  return true;
}
