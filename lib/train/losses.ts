/**
 * Keras' `SparseCategoricalCrossentropy`, numerically right in TensorFlow.js.
 *
 * tfjs' own `sparseCategoricalCrossentropy(..., fromLogits)` clips its input to [1e-7, 1 - 1e-7]
 * *before* the softmax, so logits outside that range (nearly all of them) are corrupted
 * (tfjs-layers src/losses.ts). Here logits go through a log-softmax, as
 * `tf.nn.sparse_softmax_cross_entropy_with_logits` does in Keras.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../core/errors';

/** Keras' backend.epsilon(): the clip applied to probabilities. */
export const EPSILON = 1e-7;

/** Marks loss functions that take integer class labels, so compile() and fit() can find them. */
export const SPARSE_LABELS = Symbol.for('tslab-dl.sparseLabels');

export interface SparseCategoricalCrossentropyArgs {
  /**
   * Whether `yPred` holds logits (true) or probabilities, e.g. a softmax output (false).
   * Defaults to false, as in Keras.
   */
  fromLogits?: boolean;
}

/** A loss function for `model.compile({loss})`, marked as taking integer labels. */
export interface SparseLossFunction {
  /** The mean loss over the batch, as calling a Keras loss object returns it. */
  (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar;
  readonly [SPARSE_LABELS]: true;
  readonly fromLogits: boolean;
  /**
   * One loss per sample, shape [n]: what compile() hands tfjs, which weights each sample (class
   * weights) and then takes the mean, as Keras' SUM_OVER_BATCH_SIZE reduction does.
   */
  readonly perSample: PerSampleSparseLoss;
}

/** The per-sample form of a {@link SparseLossFunction}. */
export interface PerSampleSparseLoss {
  (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor1D;
  readonly [SPARSE_LABELS]: true;
  readonly fromLogits: boolean;
  /** Itself. */
  readonly perSample: PerSampleSparseLoss;
}

/** True for loss functions made by {@link sparseCategoricalCrossentropy} (either form). */
export function takesSparseLabels(loss: unknown): loss is SparseLossFunction | PerSampleSparseLoss {
  return typeof loss === 'function' && (loss as Partial<SparseLossFunction>)[SPARSE_LABELS] === true;
}

/**
 * Labels of shape [n] or [n, 1] as a flat int32 tensor. Keras casts labels to integers
 * (truncating floats); out-of-range labels are caught by the NaN below and by fit().
 */
function flatLabels(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor1D {
  const n = yPred.shape[0];
  const rankOk = yTrue.rank === yPred.rank - 1 || (yTrue.rank === yPred.rank && yTrue.shape[yTrue.rank - 1] === 1);
  if (!rankOk || yTrue.size !== yPred.size / yPred.shape[yPred.rank - 1]) {
    throw new ValueError(
      `sparseCategoricalCrossentropy: labels must be integer class indices of shape [${n}] or [${n}, 1] ` +
        `for predictions of shape [${yPred.shape}]. Received labels of shape [${yTrue.shape}]. ` +
        `(One-hot labels need tf.losses.softmaxCrossEntropy or 'categoricalCrossentropy' instead.)`,
    );
  }
  return tf.cast(tf.reshape(yTrue, [-1]), 'int32') as tf.Tensor1D;
}

/**
 * -log p(label) per sample, from a [n, k] matrix of log-probabilities.
 * A label outside [0, k) gives an all-zero one-hot row; dividing by the row's sum makes that
 * sample's loss NaN (0/0) instead of a silent 0, as Keras raises for such labels.
 */
function negativeLogLikelihood(labels: tf.Tensor1D, logProbabilities: tf.Tensor): tf.Tensor1D {
  const classes = logProbabilities.shape[logProbabilities.rank - 1];
  const rows = tf.reshape(logProbabilities, [-1, classes]);
  const oneHot = tf.oneHot(labels, classes).asType('float32');
  const picked = tf.div(tf.sum(tf.mul(oneHot, rows), -1), tf.sum(oneHot, -1));
  return tf.neg(picked) as tf.Tensor1D;
}

/**
 * Keras' `SparseCategoricalCrossentropy(from_logits=...)` as a loss function for
 * `model.compile({loss})`: integer labels of shape [n] or [n, 1], predictions [n, k];
 * returns the mean over the batch.
 *
 * - `fromLogits: true`: `-log_softmax(yPred)[label]`, exact for any logits (100, -100, ...).
 * - `fromLogits: false`: Keras' computation for probabilities: clip to [1e-7, 1 - 1e-7],
 *   take the log, then the same log-softmax (which renormalises the clipped row).
 *   (Keras 2 additionally reaches behind a final softmax layer for its logits when it can see
 *   one in the graph; a loss function here only sees the probabilities, so for a model ending
 *   in softmax, predictions below 1e-7 are clipped as above. Prefer logits and fromLogits: true.)
 */
export function sparseCategoricalCrossentropy({ fromLogits = false }: SparseCategoricalCrossentropyArgs = {}): SparseLossFunction {
  if (typeof fromLogits !== 'boolean') {
    throw new ValueError(
      `sparseCategoricalCrossentropy({ fromLogits }): fromLogits must be true or false. Received ${JSON.stringify(fromLogits)}.`,
    );
  }
  const perSample = (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor1D =>
    tf.tidy(() => {
      const labels = flatLabels(yTrue, yPred);
      const logits = fromLogits ? yPred : tf.log(tf.clipByValue(yPred, EPSILON, 1 - EPSILON));
      return negativeLogLikelihood(labels, tf.logSoftmax(logits.asType('float32')));
    });
  // Keras' default reduction, SUM_OVER_BATCH_SIZE: the mean over samples.
  const loss = (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Scalar => tf.tidy(() => tf.mean(perSample(yTrue, yPred)) as tf.Scalar);
  for (const f of [loss, perSample]) {
    // tfjs names a custom loss after the function; Keras calls this one sparse_categorical_crossentropy.
    Object.defineProperty(f, 'name', { value: 'sparseCategoricalCrossentropy' });
    Object.defineProperty(f, SPARSE_LABELS, { value: true });
    Object.defineProperty(f, 'fromLogits', { value: fromLogits, enumerable: true });
    Object.defineProperty(f, 'perSample', { value: perSample });
  }
  return loss as unknown as SparseLossFunction;
}
