/**
 * `predict(model, x, { batchSize })`: the model's outputs in inference mode, batch by batch,
 * with a progress display for long runs and the kernel's interrupt honoured between batches.
 */
import * as tf from '@tensorflow/tfjs';
import { ready } from '../backends/selection';
import { interruptRequested } from '../notebook/interrupt';
import { InterruptedError } from '../core/errors';
import { Progress } from '../notebook/progress';
import { checkBatchSize, checkModel, checkTensor, yieldToEventLoop } from './arguments';
import { ForwardOptions, planForward } from './forward';
import { Verbosity } from './training-display';

/** Options of {@link predict}. */
export interface PredictOptions extends ForwardOptions {
  /** Samples per batch. Defaults to 32. */
  batchSize?: number;
  /** 0: no progress display; 'auto'/1/2: a progress display when there is more than one batch. Defaults to 'auto'. */
  verbose?: Verbosity;
}

/**
 * Runs `model` on `x` in batches (inference mode: dropout off, BatchNormalization with its moving
 * statistics) and returns one tensor with a row per sample. `onBatch` sees each batch's output
 * before it is concatenated (evaluate uses it); the returned tensor belongs to the caller.
 */
export async function predictBatches(
  model: tf.LayersModel,
  x: tf.Tensor | tf.Tensor[],
  batchSize: number,
  label: string,
  verbose: Verbosity,
  onBatch?: (output: tf.Tensor, start: number) => void | Promise<void>,
): Promise<tf.Tensor> {
  const inputs = Array.isArray(x) ? x : [x];
  const n = inputs[0].shape[0];
  const progress = verbose !== 0 && n > batchSize ? new Progress(label, n, { unit: 'samples' }) : undefined;
  const parts: tf.Tensor[] = [];
  let result: tf.Tensor | undefined;
  try {
    for (let start = 0; start < n; start += batchSize) {
      if (interruptRequested()) throw new InterruptedError(label);
      const size = Math.min(batchSize, n - start);
      const output = tf.tidy(() => {
        const batch = inputs.map((t) => t.slice(start, size));
        return model.predict(batch.length === 1 ? batch[0] : batch, { batchSize }) as tf.Tensor;
      });
      parts.push(output);
      await onBatch?.(output, start);
      progress?.tick(size);
      await yieldToEventLoop();
    }
    result = parts.length === 1 ? parts[0] : tf.concat(parts);
    progress?.finish();
    return result;
  } catch (e) {
    progress?.finish('(stopped)');
    throw e;
  } finally {
    for (const part of parts) if (part !== result) part.dispose();
  }
}

/**
 * The outputs of `model` for inputs `x` (logits, for the lesson's head), like Keras'
 * `model.predict(x, batch_size=32)`, in inference mode (dropout off, BatchNormalization with its
 * moving statistics). Dispose the result when done.
 *
 * @param model - The tf.LayersModel to run (it need not be compiled).
 * @param x - Inputs, e.g. images [n, height, width, 3].
 * @param options - `batchSize` (default 32) and `verbose` (0: no progress display; default 'auto').
 * @returns A promise of one tensor with a row per sample, e.g. logits [n, classes]; it belongs to
 *   the caller.
 * @throws A {@link ValueError} when `model` is not a tf.LayersModel, `x` is not a live tensor, or
 *   `batchSize` is not a positive integer.
 * @throws An {@link InterruptedError} when the user interrupts the kernel.
 *
 * @example
 * ```ts
 * import { predict, DOLLAR_STREET_CLASSES } from 'tslab-dl';
 *
 * const logits = await predict(model, valImages, { batchSize: 32 });
 * const predicted = (await logits.argMax(-1).array()) as number[];
 * console.log(predicted.slice(0, 5).map((k) => DOLLAR_STREET_CLASSES[k]));
 * logits.dispose();
 * ```
 */
export async function predict(model: tf.LayersModel, x: tf.Tensor, options: PredictOptions = {}): Promise<tf.Tensor> {
  await ready();
  const where = 'predict(model, x, options)';
  checkModel(model, where);
  checkTensor(x, where, 'x');
  const { batchSize = 32, verbose = 'auto' } = options;
  checkBatchSize(batchSize, where);
  const plan = await planForward({ purpose: 'predict', model, x, options });
  try {
    return await predictBatches(plan.model, plan.x, batchSize, 'Predict', verbose);
  } finally {
    plan.dispose();
  }
}
