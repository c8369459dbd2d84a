/**
 * The lesson's classification head, built on top of a (frozen) base model's output:
 *
 *     Flatten -> BatchNormalization -> Dense(hidden, relu) -> Dropout(dropout) -> Dense(classes)
 *
 * The last layer has no activation: it outputs logits, to be trained with
 * `sparseCategoricalCrossentropy({ fromLogits: true })`. On DenseNet121's pooled 1024 features
 * with the defaults, the head has 4*1024 + (1024*50 + 50) + (50*10 + 10) = 55,856 parameters,
 * 53,808 trainable (BatchNormalization's moving mean and variance are not).
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../core/errors';
import { dense } from '../layers/dense';
import { flatten } from '../layers/flatten';

/** The sizes of the head {@link buildHead} adds: hidden units, dropout rate and classes. */
export interface HeadArgs {
  /** Units of the hidden Dense layer. Defaults to 50. */
  hidden?: number;
  /** Dropout rate after the hidden layer, in [0, 1). Defaults to 0.5. */
  dropout?: number;
  /** Number of classes: units of the output layer. Defaults to 10. */
  classes?: number;
}

function checkPositiveInteger(name: string, value: unknown): void {
  if (!Number.isInteger(value) || (value as number) < 1) {
    throw new ValueError(`buildHead(input, { ${name} }): expected a positive integer. Received ${JSON.stringify(value)}.`);
  }
}

/**
 * Adds the lesson's head to `input` (e.g. `baseModel.output`) and returns the logits;
 * `tf.model({ inputs, outputs: buildHead(base.output, { hidden: 50, dropout: 0.5, classes: 10 }) })`.
 * The layers: Flatten, BatchNormalization, Dense(hidden, relu), Dropout(dropout), Dense(classes)
 * with no activation.
 *
 * @param input - The symbolic tensor to build on, e.g. `baseModel.output` or `tf.input({ shape: [1024] })`.
 * @param args - `hidden` units (default 50), `dropout` rate in [0, 1) (default 0.5) and `classes`
 *   (default 10).
 * @returns The head's output: logits [batch, classes], to be trained with
 *   `sparseCategoricalCrossentropy({ fromLogits: true })`.
 * @throws A {@link ValueError} when `input` is not a symbolic tensor, `hidden` or `classes` is not a
 *   positive integer, or `dropout` is not in [0, 1).
 *
 * @example
 * ```ts
 * import { buildHead } from 'tslab-dl';
 *
 * baseModel.trainable = false;
 * const out = buildHead(baseModel.output as tf.SymbolicTensor, { hidden: 50, dropout: 0.5, classes: 10 });
 * const model = tf.model({ inputs, outputs: out });
 * ```
 */
export function buildHead(input: tf.SymbolicTensor, { hidden = 50, dropout = 0.5, classes = 10 }: HeadArgs = {}): tf.SymbolicTensor {
  if (!(input instanceof tf.SymbolicTensor)) {
    const given: unknown = input;
    const what = given instanceof tf.Tensor ? 'a tf.Tensor (data)' : Array.isArray(given) ? 'an array' : typeof given;
    throw new ValueError(
      `buildHead(input): input must be a symbolic tensor such as baseModel.output or tf.input({ shape: [1024] }). Received ${what}.` +
        (Array.isArray(given) ? ' For a model with several outputs, pass one of them.' : ''),
    );
  }
  checkPositiveInteger('hidden', hidden);
  checkPositiveInteger('classes', classes);
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) {
    throw new ValueError(`buildHead(input, { dropout }): expected a rate in [0, 1). Received ${JSON.stringify(dropout)}.`);
  }
  let x = flatten().apply(input) as tf.SymbolicTensor;
  // Keras' BatchNormalization defaults, spelled out (the base model uses other epsilons).
  x = tf.layers.batchNormalization({ momentum: 0.99, epsilon: 1e-3 }).apply(x) as tf.SymbolicTensor;
  x = dense({ units: hidden, activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: dropout }).apply(x) as tf.SymbolicTensor;
  return dense({ units: classes }).apply(x) as tf.SymbolicTensor;
}
