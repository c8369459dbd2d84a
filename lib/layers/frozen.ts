/**
 * Which layers are frozen, in Keras' sense: not trainable, so a BatchNormalization among them
 * normalises with its moving statistics during `fit` (the patch that makes tfjs do so:
 * lib/compat/frozen-layers.ts). Also the mark that keeps a trainable BatchNormalization in
 * inference mode while fine-tuning (lib/train/fine-tuning.ts).
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Whether a BatchNormalization layer is frozen: its own `trainable` flag is false, or its
 * gamma/beta were frozen by a model whose `trainable` was set before lib/compat/frozen-layers.ts was applied.
 */
export function isFrozen(layer: tf.layers.Layer): boolean {
  if (!layer.trainable) return true;
  const own = (layer as unknown as { _trainableWeights?: tf.LayerVariable[] })._trainableWeights ?? [];
  return own.length > 0 && own.every((w) => !w.trainable);
}

/** Marks BatchNormalization layers kept in inference mode while their gamma and beta train (fine-tuning). */
export const INFERENCE_MODE = Symbol.for('tslab-dl.batchNormalizationInferenceMode');

/** Whether a BatchNormalization layer normalises with its moving statistics during fit. */
export function runsInInferenceMode(layer: tf.layers.Layer): boolean {
  return isFrozen(layer) || (layer as unknown as Record<symbol, boolean>)[INFERENCE_MODE] === true;
}
