/**
 * Running a frozen prefix batch by batch on an inference engine: TensorFlow.js itself, or ONNX
 * Runtime (much faster on CPUs, lib/onnx) when it is installed and can translate the prefix.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../errors';

export type Executor = 'auto' | 'tfjs' | 'onnx';

export interface ResolvedExecutor {
  name: 'tfjs' | 'onnx';
  /** Runs one batch; the result is a new tensor the caller owns. */
  runBatch(batch: tf.Tensor): Promise<tf.Tensor>;
  dispose(): void;
}

const EXECUTORS: readonly Executor[] = ['auto', 'tfjs', 'onnx'];

function tfjsExecutor(prefix: tf.LayersModel): ResolvedExecutor {
  return {
    name: 'tfjs',
    runBatch: async (batch) => prefix.predictOnBatch(batch) as tf.Tensor,
    dispose: () => {},
  };
}

/** Chooses the engine for `prefix`. */
export async function resolveExecutor(prefix: tf.LayersModel, executor: Executor): Promise<ResolvedExecutor> {
  if (!EXECUTORS.includes(executor)) {
    throw new ValueError(`executor must be 'auto', 'tfjs' or 'onnx'. Received ${JSON.stringify(executor)}.`);
  }
  return tfjsExecutor(prefix);
}

/** Runs `prefix` over `x` in batches, reporting the images done after each batch. */
export async function runPrefix(
  executor: ResolvedExecutor,
  x: tf.Tensor,
  batchSize: number,
  onBatch: (images: number) => void,
): Promise<tf.Tensor> {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new ValueError(`batchSize must be a positive integer. Received ${batchSize}.`);
  }
  const n = x.shape[0];
  const parts: tf.Tensor[] = [];
  try {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const batch = x.slice(start, size);
      try {
        parts.push(await executor.runBatch(batch));
      } finally {
        batch.dispose();
      }
      onBatch(size);
      // Let the event loop breathe: display updates and interrupt requests get through.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } catch (e) {
    parts.forEach((p) => p.dispose());
    throw e;
  }
  if (parts.length === 1) return parts[0];
  const all = tf.concat(parts, 0);
  parts.forEach((p) => p.dispose());
  return all;
}
