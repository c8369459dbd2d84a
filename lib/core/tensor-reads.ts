/**
 * Reading a tensor's values on every backend, the webgpu one included.
 *
 * A synchronous read (dataSync, arraySync, print, toString) goes through the backend's readSync.
 * The webgpu backend answers it only for values it still holds on the CPU (a tensor made from an
 * array, or one already read with `data()`); a result computed on the GPU it copies out through an
 * OffscreenCanvas, which Node lacks, so the read throws. TensorFlow.js' advice is to read
 * asynchronously (https://js.tensorflow.org/api/latest/#tf.Tensor.dataSync: "prefer the async
 * data() method"): async code in tslab-dl does, and the few places that must stay synchronous
 * (tfjs calls them synchronously) use {@link valuesSync} or {@link valuesSyncIfReadable}.
 */
import * as tf from '@tensorflow/tfjs';
import { BackendError } from './errors';

/** Whether every tensor on the active backend can be read synchronously (all but webgpu). */
export function canReadSync(): boolean {
  return tf.getBackend() !== 'webgpu';
}

/** The values of `tensor` when they can be read now, else undefined (webgpu, computed on the GPU). */
export function valuesSyncIfReadable(tensor: Pick<tf.Tensor, 'dataSync'>): tf.TypedArray | string[] | undefined {
  if (canReadSync()) return tensor.dataSync() as tf.TypedArray | string[];
  // The webgpu backend warns once, on its first synchronous read, that it is slow: this attempt
  // either finds the values on the CPU (not slow) or fails before reading anything.
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    return tensor.dataSync() as tf.TypedArray | string[];
  } catch (e) {
    if (isSyncReadFailure(e)) return undefined;
    throw e;
  } finally {
    console.warn = warn;
  }
}

/** Whether `e` is the webgpu backend failing a synchronous read (a disposed tensor, say, is another error). */
export function isSyncReadFailure(e: unknown): boolean {
  return e instanceof Error && /OffscreenCanvas is not defined/.test(e.message);
}

/** Why `where` cannot read a tensor on webgpu, and what to do instead. */
export function syncReadError(where: string, cause?: unknown): BackendError {
  return new BackendError(
    `${where} needs a tensor's values now (synchronously), and the webgpu backend cannot read a tensor computed on the GPU ` +
      'synchronously in Node (it would need an OffscreenCanvas). Read it first and pass the values, e.g. ' +
      "`const onHost = tf.tensor(await t.data(), t.shape, t.dtype)`, or use the wasm backend: `await setBackend('wasm')` " +
      '(or start Jupyter with TSLAB_DL_BACKEND=wasm and restart the kernel).',
    'webgpu',
    { cause },
  );
}

/**
 * The values of `tensor`, read synchronously as `dataSync()` does; on webgpu a tensor computed on
 * the GPU throws a {@link BackendError} from {@link syncReadError} naming `where`.
 */
export function valuesSync(tensor: tf.Tensor, where: string): tf.TypedArray | string[] {
  const values = valuesSyncIfReadable(tensor);
  if (values === undefined) throw syncReadError(where);
  return values;
}

/** What the wasm backend exposes of itself (tfjs-backend-wasm 4.22's BackendWasm; the version is pinned, lib/compat/install.ts). */
interface WasmBackendHeap {
  typedArrayFromHeap(tensor: { shape: number[]; dtype: tf.DataType; dataId: object }): tf.TypedArray;
}

/**
 * A tensor's values without copying them where the backend allows it: on wasm a view into the
 * backend's heap (a 43 MB training set read with `dataSync()` would be copied into a new 43 MB
 * array, which stays in the kernel's peak memory); elsewhere a synchronous read as
 * {@link valuesSync}. The view is valid only until the backend next allocates: use it at once,
 * synchronously (e.g. hash it), never keep it.
 */
export function valuesForReading(tensor: tf.Tensor, where: string): tf.TypedArray {
  if (tf.getBackend() === 'wasm' && tensor.dtype !== 'string') {
    const backend = tf.backend() as unknown as Partial<WasmBackendHeap>;
    if (typeof backend.typedArrayFromHeap === 'function') return backend.typedArrayFromHeap(tensor);
  }
  return valuesSync(tensor, where) as tf.TypedArray;
}
