/**
 * `keras.Input` (also `keras.layers.Input`): the symbolic input of a functional model, from
 * Keras 3's keras/src/layers/core/input_layer.py,
 * `Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None)`.
 *
 * The lesson writes `keras.Input(train_images.shape[1:])`; here `keras.Input(trainImages.shape.slice(1))`
 * does the same, as does `keras.Input({ shape: [64, 64, 3] })`. Returns tfjs' `tf.input(...)`.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../core/errors';
import { positional, show } from './arguments';

/** A shape without (or, for batchShape, with) the batch axis; null for "any size". */
export type ShapeArg = readonly (number | null)[];

export interface InputOptions {
  /** A fixed batch size. Defaults to none (any batch size). */
  batchSize?: number;
  /** The input's data type. Defaults to 'float32' (Keras' floatx). */
  dtype?: tf.DataType;
  /** The input layer's name. Defaults to a unique 'input_N'. */
  name?: string;
}
export interface InputArgs extends InputOptions {
  /** The shape of one sample, without the batch axis, e.g. [64, 64, 3]. Required unless batchShape is given. */
  shape?: ShapeArg;
  /** The full shape including the batch axis, e.g. [null, 64, 64, 3]. Defaults to [batchSize, ...shape]. */
  batchShape?: ShapeArg;
}

function checkShape(arg: string, shape: unknown): void {
  const ok = Array.isArray(shape) && shape.every((d) => d === null || (Number.isInteger(d) && d > 0));
  if (!ok) {
    throw new ValueError(
      `Input: received an invalid value for \`${arg}\`, expected an array of positive integers (null for any size), e.g. [64, 64, 3]. Received: ${arg}=${show(shape)}.` +
        (shape instanceof tf.Tensor ? ' Pass the shape of the data (tensor.shape.slice(1)), not the tensor.' : ''),
    );
  }
}

/** Keras' `Input(shape)`: `keras.Input([64, 64, 3])` or `keras.Input({ shape: [64, 64, 3], name: 'image' })`. */
export function Input(shape: ShapeArg, options?: InputOptions): tf.SymbolicTensor;
export function Input(args: InputArgs): tf.SymbolicTensor;
export function Input(shapeOrArgs: ShapeArg | InputArgs, options?: InputOptions): tf.SymbolicTensor {
  if (shapeOrArgs instanceof tf.Tensor) checkShape('shape', shapeOrArgs);
  const args = positional<InputArgs>('Input', 'shape', shapeOrArgs, options);
  const { shape, batchShape, batchSize, dtype, name } = args;
  if (batchShape !== undefined) {
    if (shape !== undefined)
      throw new ValueError('Input: give `shape` or `batchShape`, not both (batchShape already includes the batch axis).');
    checkShape('batchShape', batchShape);
  } else {
    checkShape('shape', shape);
    if (batchSize !== undefined && batchSize !== null && !(Number.isInteger(batchSize) && batchSize > 0)) {
      throw new ValueError(
        `Input: received an invalid value for \`batchSize\`, expected a positive integer. Received: batchSize=${show(batchSize)}.`,
      );
    }
  }
  const fullShape = batchShape ? [...batchShape] : [batchSize ?? null, ...(shape as ShapeArg)];
  return tf.input({ batchShape: fullShape, dtype: dtype ?? 'float32', ...(name !== undefined ? { name } : {}) });
}
