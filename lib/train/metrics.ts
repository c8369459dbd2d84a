/**
 * Accuracy the way Keras computes and names it.
 *
 * In Keras 2, `metrics=['accuracy']` picks binary, sparse categorical or categorical accuracy
 * from the shapes of the labels and predictions, and logs it as `accuracy` / `val_accuracy`.
 * tfjs picks it from the loss function instead (a custom loss silently gets categorical
 * accuracy, wrong for integer labels) and logs it as `acc` / `val_acc` (tfjs-layers src/engine/training.ts, `compile`).
 * {@link kerasAccuracy} makes the Keras choice at call time; lib/compat/keras-compile.ts puts it
 * behind the strings 'accuracy' and 'acc' in `model.compile`.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Keras' `sparse_categorical_accuracy`: 1 where argmax(yPred) equals the integer label, else 0,
 * one value per sample. Labels of shape [n] or [n, 1]; ties in yPred go to the first index.
 */
export function sparseCategoricalAccuracy(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    // Keras squeezes a trailing label axis of 1 when labels and predictions have the same rank.
    const labels = yTrue.rank === yPred.rank ? tf.squeeze(yTrue, [-1]) : yTrue;
    const predicted = tf.argMax(yPred, -1);
    // Keras casts the prediction to the labels' dtype before comparing.
    return tf.equal(labels, predicted.asType(labels.dtype)).asType('float32');
  });
}

/** Keras' `categorical_accuracy`: argmax of one-hot labels against argmax of predictions. */
export function categoricalAccuracy(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.equal(tf.argMax(yTrue, -1), tf.argMax(yPred, -1)).asType('float32'));
}

/** Keras' `binary_accuracy` with threshold 0.5, averaged over the last axis. */
export function binaryAccuracy(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mean(tf.equal(yTrue, tf.greater(yPred, 0.5).asType(yTrue.dtype)).asType('float32'), -1));
}

export type AccuracyKind = 'binary' | 'sparse_categorical' | 'categorical';

/**
 * The accuracy Keras 2 chooses for `metrics=['accuracy']` (tf-keras compile_utils.py,
 * `_get_metric_object`): binary when predictions have one column; sparse categorical when the
 * labels have lower rank than the predictions, or one column against several; else categorical.
 */
export function accuracyKind(labelShape: readonly number[], predictionShape: readonly number[]): AccuracyKind {
  const labelLast = labelShape[labelShape.length - 1];
  const predictionLast = predictionShape[predictionShape.length - 1];
  if (predictionLast === 1) return 'binary';
  if (labelShape.length < predictionShape.length || (labelLast === 1 && predictionLast > 1)) return 'sparse_categorical';
  return 'categorical';
}

const ACCURACY_FUNCTIONS = {
  binary: binaryAccuracy,
  sparse_categorical: sparseCategoricalAccuracy,
  categorical: categoricalAccuracy,
} as const;

/** A metric function whose `name` is what tfjs logs it as (`accuracy`, `val_accuracy`). */
export type NamedMetric = ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor) & { readonly name: string };

/**
 * Keras' 'accuracy' metric: chooses the accuracy from the shapes of each batch, as Keras 2 does
 * (binary when predictions have one column; sparse categorical when the labels have lower rank
 * than the predictions, or one column against several; else categorical) and is named `name`
 * ('accuracy' or 'acc', as the user wrote it).
 */
export function kerasAccuracy(name = 'accuracy'): NamedMetric {
  const metric = (yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor =>
    ACCURACY_FUNCTIONS[accuracyKind(yTrue.shape, yPred.shape)](yTrue, yPred);
  Object.defineProperty(metric, 'name', { value: name });
  return metric as NamedMetric;
}
