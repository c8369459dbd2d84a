/**
 * `tf.gather(x, indices)` along the first axis on TensorFlow.js' wasm backend (4.22), as row copies.
 *
 * tfjs' `model.fit` and `model.evaluate` take every batch with such a gather (the shuffled sample
 * indices of the batch, rows of the whole training set). wasm's GatherV2 computes the source of
 * each element separately: 0.8 ms for 32 rows of 1024 features, a fifth of a training step of the
 * lesson's head. A gather along the first axis copies whole rows, which TypedArray.set does straight
 * on wasm's heap in microseconds. The values are the same: a gather only copies.
 */
import * as tf from '@tensorflow/tfjs';

type TensorInfo = tf.TensorInfo;
type KernelArgs = Parameters<tf.KernelFunc>[0];

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): tf.TypedArray;
}

/** Rows shorter than this are copied value by value (gathering single values or pixels). */
const SHORT_ROW = 16;

/** The dtypes whose values lie in wasm's heap one element per slot of a typed array. */
const COPYABLE = new Set<tf.DataType>(['float32', 'int32', 'bool']);

/**
 * The wasm GatherV2 kernel: rows copied when the gather is along the first axis without batch
 * dimensions; any other gather goes to `original`, wasm's own kernel.
 */
export function gatherRows(args: KernelArgs, original: tf.KernelConfig): TensorInfo {
  const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
  const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims: number };
  const along = tf.util.parseAxisParam(axis, x.shape)[0];
  const rows = x.shape[0];
  const rowSize = tf.util.sizeFromShape(x.shape.slice(1));
  const count = tf.util.sizeFromShape(indices.shape);
  if (along !== 0 || batchDims !== 0 || !COPYABLE.has(x.dtype) || indices.dtype !== 'int32' || rowSize === 0 || count === 0) {
    return original.kernelFunc(args) as TensorInfo;
  }
  const backend = args.backend as unknown as WasmHeapBackend;
  const asked = backend.typedArrayFromHeap(indices) as Int32Array;
  for (let i = 0; i < count; i++) {
    const index = asked[i];
    // wasm's own kernel's check, word for word.
    if (!(index <= rows - 1 && index >= 0)) throw new Error(`GatherV2: the index value ${index} is not in [0, ${rows - 1}]`);
  }
  const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
  // Views made after the output: making it may grow (and move) the heap.
  const picked = backend.typedArrayFromHeap(indices) as Int32Array;
  const from = backend.typedArrayFromHeap(x);
  const to = backend.typedArrayFromHeap(out);
  if (rowSize >= SHORT_ROW) {
    for (let i = 0; i < count; i++) {
      const start = picked[i] * rowSize;
      to.set(from.subarray(start, start + rowSize), i * rowSize);
    }
  } else {
    // A view per row costs more than copying a few values one by one.
    for (let i = 0, at = 0; i < count; i++) {
      const start = picked[i] * rowSize;
      for (let j = 0; j < rowSize; j++) to[at++] = from[start + j];
    }
  }
  return out;
}
