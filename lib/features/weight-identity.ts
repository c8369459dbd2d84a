/**
 * Which values a model's weights hold now, told apart without reading them: tensor data is
 * immutable in TensorFlow.js, and writing a weight (setWeights, loadWeights, an optimizer step)
 * points its variable at new data (`Variable.assign` takes the new tensor's dataId). So the same
 * data objects mean the same values, and a weight's content hash computed once stays true until
 * one of them changes. Comparing some 600 references costs microseconds; hashing DenseNet121's
 * 28 MB of weights costs 50-80 ms.
 */
import * as tf from '@tensorflow/tfjs';

/** A snapshot of a model's weights: each one's data object, and each layer's `trainable` flag (part of its configuration). */
export interface WeightIdentity {
  readonly data: readonly object[];
  readonly trainable: string;
}

/** The identity of `model`'s weights now; throws when a weight was disposed. */
export function weightIdentity(model: tf.LayersModel): WeightIdentity {
  const data: object[] = [];
  for (const layer of model.layers) {
    for (const weight of layer.weights) data.push((weight.read() as unknown as { dataId: object }).dataId);
  }
  return { data, trainable: trainableFlags(model) };
}

/** Each layer's `trainable` flag, nested models' layers included. */
function trainableFlags(model: tf.LayersModel): string {
  return model.layers.map((l) => (l.trainable ? '1' : '0') + (l instanceof tf.LayersModel ? `(${trainableFlags(l)})` : '')).join('');
}

/** Whether `model`'s weights still hold the values of `identity` (false too when one was disposed). */
export function sameWeights(model: tf.LayersModel, identity: WeightIdentity): boolean {
  let now: WeightIdentity;
  try {
    now = weightIdentity(model);
  } catch {
    return false;
  }
  return (
    now.trainable === identity.trainable && now.data.length === identity.data.length && now.data.every((d, i) => d === identity.data[i])
  );
}

/** Whether a tfjs model was disposed (its reference count reached 0), or one of its weights was. */
export function modelDisposed(model: tf.LayersModel): boolean {
  if ((model as unknown as { _refCount: number | null })._refCount === 0) return true;
  try {
    for (const layer of model.layers) for (const weight of layer.weights) weight.read();
    return false;
  } catch {
    return true;
  }
}

/**
 * `compute(model)` remembered per model until its weights change: a fingerprint of the weights'
 * values, say. Keeps nothing alive (a WeakMap by model).
 */
export function memoByWeights<T>(compute: (model: tf.LayersModel) => T): (model: tf.LayersModel) => T {
  const memo = new WeakMap<tf.LayersModel, { identity: WeightIdentity; value: T }>();
  return (model) => {
    const known = memo.get(model);
    if (known && sameWeights(model, known.identity)) return known.value;
    const identity = weightIdentity(model);
    const value = compute(model);
    memo.set(model, { identity, value });
    return value;
  };
}

/**
 * {@link memoByWeights} for an asynchronous `compute`: a result is remembered only when the weights
 * did not change while it was computed (a training step between two reads), and a failure is not.
 */
export function memoByWeightsAsync<T>(compute: (model: tf.LayersModel) => Promise<T>): (model: tf.LayersModel) => Promise<T> {
  const memo = new WeakMap<tf.LayersModel, { identity: WeightIdentity; value: T }>();
  return async (model) => {
    const known = memo.get(model);
    if (known && sameWeights(model, known.identity)) return known.value;
    const identity = weightIdentity(model);
    const value = await compute(model);
    if (sameWeights(model, identity)) memo.set(model, { identity, value });
    return value;
  };
}
