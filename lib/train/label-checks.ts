/**
 * Checks of integer class labels, as Keras makes them: a label outside [0, classes) is an error
 * naming it (tfjs would one-hot it to zeros and train on it silently). Used by the compile patch
 * (lib/compat/keras-compile.ts) inside tfjs' synchronous input check, and by fit / evaluate.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../core/errors';
import { takesSparseLabels } from './losses';
import { canReadSync, valuesSyncIfReadable } from '../core/tensor-reads';

/**
 * Throws a ValueError naming the first label that is not an integer in [0, classes). Reads the
 * labels synchronously (tfjs' fit and evaluate check their inputs synchronously): on webgpu, labels
 * computed on the GPU cannot be read so, and are not checked here (lib/core/tensor-reads.ts); async
 * callers use {@link checkClassLabelsAsync}, which checks them on every backend.
 */
export function checkClassLabels(labels: tf.Tensor, classes: number, where: string): void {
  const values = valuesSyncIfReadable(labels);
  if (values !== undefined) checkLabelValues(values as tf.TypedArray, classes, where);
}

/** {@link checkClassLabels}, reading the labels asynchronously: checks them on every backend. */
export async function checkClassLabelsAsync(labels: tf.Tensor, classes: number, where: string): Promise<void> {
  checkLabelValues((await labels.data()) as tf.TypedArray, classes, where);
}

/**
 * On a backend that cannot read every tensor synchronously (webgpu), checks the labels of a model
 * compiled with a loss for integer labels before training, as the compile patch's `standardizeUserDataXY` does
 * on the others, so that out-of-range labels are an error there too rather than silent zeros.
 */
export async function checkSparseLabelsBeforeFit(model: tf.LayersModel, labels: tf.Tensor[], where: string): Promise<void> {
  if (canReadSync()) return;
  const compiled = model as unknown as CompilableModel;
  const shape = compiled.feedOutputShapes?.[0];
  if (!shape || !takesSparseLabels(compiled.feedLossFns?.[0])) return;
  for (const y of labels) await checkClassLabelsAsync(y, shape[shape.length - 1], where);
}

function checkLabelValues(values: ArrayLike<number>, classes: number, where: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(Number.isInteger(v) && v >= 0 && v < classes)) {
      throw new ValueError(
        `${where}: labels must be integer class indices in [0, ${classes}) for a model with ${classes} outputs. ` +
          `Label ${i} is ${v}. Check that the labels match the images and that the last Dense layer has one unit per class.`,
      );
    }
  }
}

/** The parts of a compiled tf.LayersModel these checks and the compile patch use (tfjs-layers' training.ts). */
export interface CompilableModel {
  feedLossFns?: unknown[];
  feedOutputShapes?: number[][];
  compile(args: tf.ModelCompileArgs): void;
  standardizeUserDataXY(x: unknown, y: unknown, checkBatchAxis?: boolean, batchSize?: number): [tf.Tensor[], tf.Tensor[]];
}
