/**
 * Large tensors a notebook can no longer reach are freed, as Python frees an array.
 *
 * The lesson's `train_images = train_images / 255.0` leaves the original 43 MB to Python's
 * reference counting. TensorFlow.js frees a tensor only on `dispose()` or at the end of a
 * `tf.tidy()` (https://www.tensorflow.org/js/guide/tensors_operations#memory), so the same line in
 * TypeScript keeps both, in a wasm heap that never shrinks, and every re-run of a cell adds more.
 * Once {@link freeUnreachableTensors} is on (the kernel turns it on), each tensor of at least
 * {@link RELEASE_MIN_BYTES} is watched with a FinalizationRegistry: when the garbage collector finds
 * nothing refers to it any more, its memory goes back to the backend. Small tensors are left as
 * tfjs leaves them; they cost little, and watching every tensor of a training step would not.
 *
 * Only backends that read synchronously qualify (wasm, cpu, and tfjs-node's 'tensorflow'): on
 * webgpu and webgl a `data()` still in flight may need a tensor its caller has already dropped.
 * Tensors still referenced, disposed, kept in a `tf.tidy()`, or variables, are never touched.
 */
import type * as tf from '@tensorflow/tfjs';
import { collectGarbage } from '../core/full-gc';

/** Tensors this large or larger are freed when unreachable (1 MiB: a batch of 32 lesson images is 1.5 MiB). */
export const RELEASE_MIN_BYTES = 1 << 20;

/** Backends whose reads finish before `data()` returns, so dropping a tensor cannot cut a read short. */
const RELEASABLE_BACKENDS = ['wasm', 'cpu', 'tensorflow'];

/** What tfjs-core 4.22's Engine has (tfjs-core/src/engine.ts); the version is pinned (lib/compat/install.ts). */
interface EngineInternals {
  trackTensor(a: tf.Tensor, backend: unknown): void;
  disposeTensor(a: tf.Tensor): void;
  registry: Record<string, unknown>;
  state: { tensorInfo: WeakMap<object, { backend: unknown }> };
}

/** What is kept of a watched tensor: enough for the engine to dispose of its data once it is gone. */
interface Watched {
  dataId: object;
  dtype: tf.DataType;
  size: number;
  bytes: number;
}

/** Counts of the watch: what is watched now, and what was freed. */
export interface UnreachableTensorStats {
  /** Large tensors watched now: alive and not disposed. */
  watched: number;
  watchedBytes: number;
  /** Tensors disposed after the notebook dropped them, and their bytes (data another tensor shares stays). */
  released: number;
  releasedBytes: number;
  /** Bytes of large tensors made since the last {@link collectUnreachableTensors}. */
  madeSinceCollection: number;
  /** Collections run by {@link collectUnreachableTensors}. */
  collections: number;
}

/** The live counts (read them; they change as tensors come and go). */
export const unreachableTensorStats: UnreachableTensorStats = {
  watched: 0,
  watchedBytes: 0,
  released: 0,
  releasedBytes: 0,
  madeSinceCollection: 0,
  collections: 0,
};

const INSTALLED = Symbol.for('tslab-dl.freeUnreachableTensors');

/**
 * Turns on freeing of unreachable large tensors for `tfLib`'s engine (idempotent). Memory comes
 * back when the garbage collector runs: {@link collectUnreachableTensors} runs it. Returns whether
 * it is on: an engine without tfjs-core 4.22's internals (another version) is left as it is.
 */
export function freeUnreachableTensors(tfLib: typeof tf): boolean {
  const engine = tfLib.engine() as unknown as Partial<EngineInternals> & { [INSTALLED]?: true };
  if (engine[INSTALLED]) return true;
  if (
    typeof engine.trackTensor !== 'function' ||
    typeof engine.disposeTensor !== 'function' ||
    !(engine.state?.tensorInfo instanceof WeakMap)
  ) {
    return false;
  }
  engine[INSTALLED] = true;
  const trackTensor = engine.trackTensor;
  const disposeTensor = engine.disposeTensor;
  const state = () => (engine as EngineInternals).state;
  const stats = unreachableTensorStats;
  const releasable = (backend: unknown) => RELEASABLE_BACKENDS.some((name) => engine.registry?.[name] === backend);
  // Counted as the engine counts them (tfjs-core/src/engine.ts, trackTensor): complex64 and strings not at all.
  const bytesOf = (t: tf.Tensor) => (t.dtype === 'string' || t.dtype === 'complex64' ? 0 : t.size * tfLib.util.bytesPerElement(t.dtype));

  const registry = new FinalizationRegistry<Watched>((watched) => {
    stats.watched--;
    stats.watchedBytes -= watched.bytes;
    const info = state().tensorInfo.get(watched.dataId);
    // Gone already (a backend reset), or moved to a GPU since: left as tfjs leaves it.
    if (!info || !releasable(info.backend)) return;
    disposeTensor.call(engine, watched as unknown as tf.Tensor);
    stats.released++;
    stats.releasedBytes += watched.bytes;
  });

  engine.trackTensor = function (this: EngineInternals, a: tf.Tensor, backend: unknown) {
    trackTensor.call(this, a, backend);
    const bytes = bytesOf(a);
    if (bytes < RELEASE_MIN_BYTES || a instanceof tfLib.Variable) return;
    if (!releasable(this.state.tensorInfo.get(a.dataId)?.backend)) return;
    // The tensor itself is the unregister token: an explicit dispose takes it off the watch.
    registry.register(a, { dataId: a.dataId, dtype: a.dtype, size: a.size, bytes }, a);
    stats.watched++;
    stats.watchedBytes += bytes;
    stats.madeSinceCollection += bytes;
  };

  engine.disposeTensor = function (this: EngineInternals, a: tf.Tensor) {
    const bytes = bytesOf(a);
    if (bytes >= RELEASE_MIN_BYTES && registry.unregister(a)) {
      stats.watched--;
      stats.watchedBytes -= bytes;
    }
    disposeTensor.call(this, a);
  };
  return true;
}

/** Whether large tensors were made since the last collection: some may be unreachable already. */
export function unreachableTensorsLikely(): boolean {
  return unreachableTensorStats.madeSinceCollection > 0;
}

/**
 * Runs a full garbage collection and lets the finalizers free what the notebook dropped; resolves
 * to the bytes freed. A full collection of a kernel's heap takes some 50 to 100 ms.
 */
export async function collectUnreachableTensors(): Promise<number> {
  const before = unreachableTensorStats.releasedBytes;
  collectGarbage();
  // FinalizationRegistry callbacks run as tasks of their own after the collection.
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 0));
  unreachableTensorStats.madeSinceCollection = 0;
  unreachableTensorStats.collections++;
  return unreachableTensorStats.releasedBytes - before;
}
