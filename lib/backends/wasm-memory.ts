/**
 * The wasm backend's allocator, made to say when its memory is full.
 *
 * tfjs-backend-wasm 4.22 allocates every tensor with the emscripten module's `_malloc` and does
 * not look at the result (BackendWasm.move). When the WebAssembly memory cannot grow any more
 * (4 GiB at most, https://v8.dev/blog/4gb-wasm-memory) `_malloc` returns 0, and tfjs then writes
 * the tensor at address 0: over the module's own data and every other tensor. Nothing is reported;
 * the next operation traps ("memory access out of bounds", "Aborted()"), and the backend stays
 * broken. Wrapping `_malloc` turns that into a {@link WasmOutOfMemoryError} thrown before anything
 * is written: the backend, its tensors and the models on it stay intact, and the learner can retry
 * with a smaller batch.
 */
import * as tf from '@tensorflow/tfjs';

/** The most a WebAssembly memory can hold with 32-bit addresses (the wasm backend's build sets this maximum). */
export const WASM_MEMORY_LIMIT = 2 ** 32;

/** The part of the emscripten module tfjs-backend-wasm calls to allocate (`backend.wasm`). */
interface WasmModule {
  _malloc(bytes: number): number;
  /** The instance's exports: `malloc` is what `_malloc` forwards to. */
  asm?: { malloc?: (bytes: number) => number };
}

const GUARDED = Symbol('tslab-dl.guardedMalloc');
type GuardedMalloc = ((bytes: number) => number) & { [GUARDED]?: (bytes: number) => number };

/** A tensor did not fit in the wasm backend's memory; nothing was allocated or overwritten. */
export class WasmOutOfMemoryError extends RangeError {
  constructor(
    /** What did not fit, without the "out of memory" prefix (for messages that say it already). */
    readonly detail: string,
    readonly requestedBytes: number,
  ) {
    super(`wasm out of memory: ${detail}`);
    this.name = 'WasmOutOfMemoryError';
  }
}

function gib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function moduleOf(backend: unknown): WasmModule | undefined {
  const wasm = (backend as { wasm?: WasmModule } | undefined)?.wasm;
  return wasm && typeof wasm._malloc === 'function' ? wasm : undefined;
}

/**
 * Makes a wasm backend instance (`tf.findBackend('wasm')`) throw {@link WasmOutOfMemoryError}
 * instead of corrupting its memory when a tensor does not fit. Idempotent; other backends are left alone.
 */
export function guardWasmMemory(backend: unknown): void {
  const wasm = moduleOf(backend);
  if (!wasm || (wasm._malloc as GuardedMalloc)[GUARDED]) return;
  // The export itself: emscripten's `_malloc` is a lazy wrapper that replaces itself (and so
  // would replace this guard) with the export on its first call.
  const raw = wasm.asm?.malloc ?? wasm._malloc.bind(wasm);
  const guarded: GuardedMalloc = (bytes: number) => {
    // Numbers past 2^32 would wrap to a small allocation when passed to wasm as an i32.
    if (bytes >= WASM_MEMORY_LIMIT) {
      throw new WasmOutOfMemoryError(
        `a tensor of ${gib(bytes)} is larger than the wasm backend's whole memory (${gib(WASM_MEMORY_LIMIT)} at most)`,
        bytes,
      );
    }
    const address = raw(bytes);
    if (address === 0 && bytes > 0) {
      const held = tf.memory().numBytes;
      throw new WasmOutOfMemoryError(
        `a tensor of ${gib(bytes)} did not fit in the wasm backend's memory (${gib(WASM_MEMORY_LIMIT)} at most; the tensors already on it take ${gib(held)})`,
        bytes,
      );
    }
    return address;
  };
  guarded[GUARDED] = raw;
  wasm._malloc = guarded;
}

/**
 * tfjs' own, unchecked allocator of a guarded backend (tests only: it reproduces what tfjs does
 * without the guard). Undefined when the backend is not a guarded wasm backend.
 */
export function uncheckedMalloc(backend: unknown): ((bytes: number) => number) | undefined {
  return (moduleOf(backend)?._malloc as GuardedMalloc | undefined)?.[GUARDED];
}
