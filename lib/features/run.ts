/**
 * Running a frozen prefix batch by batch on an inference engine: ONNX Runtime (much faster on
 * CPUs, lib/onnx) when it is installed, or TensorFlow.js itself.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../errors';
import { createOnnxExecutor, onnxAvailable, onnxRuntimeInfo } from '../onnx';

export type Executor = 'auto' | 'tfjs' | 'onnx';
export type ExecutorName = 'tfjs' | 'onnx';

export interface PrefixRunner {
  name: ExecutorName;
  /** One line on how the prefix runs (e.g. which layers fell back to tfjs), or undefined. */
  note?: string;
  /** Runs one batch; the result is one new tensor per output of the prefix, owned by the caller. */
  runBatch(batch: tf.Tensor): Promise<tf.Tensor[]>;
  /**
   * Runs all of `x` in batches itself, calling `onBatch(images)` after each; the result is one new
   * tensor per output, owned by the caller. ONNX does this: slicing wasm tensors per batch costs
   * ~20% of its time.
   */
  runAll?(x: tf.Tensor, batchSize: number, onBatch: (images: number) => void): Promise<tf.Tensor[]>;
  dispose(): Promise<void>;
}

const EXECUTORS: readonly Executor[] = ['auto', 'tfjs', 'onnx'];

/** The engine `executor` stands for here: 'auto' is ONNX Runtime when it loads, else tfjs. */
export function chooseExecutor(executor: Executor): { name: ExecutorName; note?: string } {
  if (!EXECUTORS.includes(executor)) {
    throw new ValueError(`executor must be 'auto', 'tfjs' or 'onnx'. Received ${JSON.stringify(executor)}.`);
  }
  if (executor === 'tfjs') return { name: 'tfjs' };
  if (onnxAvailable()) return { name: 'onnx' };
  const reason = onnxRuntimeInfo().reason;
  if (executor === 'onnx') throw new ValueError(`executor 'onnx' cannot be used: ${reason}. Use executor: 'tfjs' or 'auto'.`);
  return { name: 'tfjs', note: `Running the frozen layers on tfjs: ${reason}.` };
}

/** Prepares `prefix` to run on the engine `name` (for ONNX: translates it and opens a session). */
export async function createPrefixRunner(prefix: tf.LayersModel, name: ExecutorName): Promise<PrefixRunner> {
  if (name === 'tfjs') {
    return {
      name,
      runBatch: async (batch) => {
        const out = prefix.predictOnBatch(batch);
        return Array.isArray(out) ? out : [out];
      },
      dispose: async () => {},
    };
  }
  const onnx = await createOnnxExecutor(prefix);
  return {
    name,
    note: onnx.untranslated.length > 0 ? onnx.note : undefined,
    runBatch: (batch) => onnx.runAll(batch, { batchSize: batch.shape[0] }),
    runAll: (x, batchSize, onBatch) => {
      let done = 0;
      return onnx.runAll(x, {
        batchSize,
        onBatchEnd: async (now) => {
          onBatch(now - done);
          done = now;
          // Let the event loop breathe: display updates and interrupt requests get through.
          await new Promise((resolve) => setImmediate(resolve));
        },
      });
    },
    dispose: () => onnx.dispose(),
  };
}

/** Runs the prefix over `x` in batches, reporting the images done after each batch; one tensor per output. */
export async function runPrefix(
  runner: PrefixRunner,
  x: tf.Tensor,
  batchSize: number,
  onBatch: (images: number) => void,
): Promise<tf.Tensor[]> {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new ValueError(`batchSize must be a positive integer. Received ${batchSize}.`);
  }
  if (runner.runAll) return runner.runAll(x, batchSize, onBatch);
  const n = x.shape[0];
  const parts: tf.Tensor[][] = [];
  try {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const batch = x.slice(start, size);
      try {
        parts.push(await runner.runBatch(batch));
      } finally {
        batch.dispose();
      }
      onBatch(size);
      // Let the event loop breathe: display updates and interrupt requests get through.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } catch (e) {
    parts.flat().forEach((p) => p.dispose());
    throw e;
  }
  if (parts.length === 1) return parts[0];
  const all = parts[0].map((_, output) => tf.concat(parts.map((batch) => batch[output]), 0));
  parts.flat().forEach((p) => p.dispose());
  return all;
}
