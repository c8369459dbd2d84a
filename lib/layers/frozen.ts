/**
 * Keras' semantics for frozen layers, applied to TensorFlow.js once, when tslab-dl is imported.
 *
 * Keras (TF 2.x): `base.trainable = false` makes every layer inside the base non-trainable, and
 * a BatchNormalization layer that is not trainable always runs in inference mode: during `fit`
 * it normalises with its moving mean and variance and never updates them.
 *
 * TensorFlow.js 4.22 does neither: a model's `trainable` setter only flags the weights, and
 * `fit` passes `training: true` to every layer, so a "frozen" BatchNormalization layer
 * normalises with batch statistics and overwrites its moving statistics (REFERENCE.md s.3).
 * A frozen pre-trained base then silently computes different features from Keras'.
 *
 * Two patches restore Keras' behaviour for every model, however it was built:
 * - `LayersModel.trainable = v` also sets `layer.trainable = v` on each of its layers
 *   (recursively), as Keras' Model.trainable setter does; the flag is saved with the model.
 *   (Exception: setting `true` on a model that is already trainable changes nothing.)
 * - `BatchNormalization.call` forces `training: false` when the layer is frozen.
 */
import * as tf from '@tensorflow/tfjs';

const PATCHED = Symbol.for('tslab-dl.frozenLayerSemantics');

type Kwargs = Record<string, unknown>;
interface PatchableLayer {
  trainable: boolean;
  trainableWeights: tf.LayerVariable[];
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[];
}

/** The BatchNormalization class of the tfjs-layers copy that tslab-dl uses. */
function batchNormalizationClass(): { prototype: PatchableLayer } {
  return tf.layers.batchNormalization({}).constructor as unknown as { prototype: PatchableLayer };
}

/**
 * Whether a BatchNormalization layer is frozen: its own `trainable` flag is false, or its
 * gamma/beta were frozen by a model whose `trainable` was set before this patch was applied.
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

function patchBatchNormalization(): void {
  const proto = batchNormalizationClass().prototype;
  const originalCall = proto.call;
  proto.call = function (this: PatchableLayer, inputs, kwargs) {
    // Keras: "if not self.trainable: training = False" (frozen BN runs in inference mode); and a
    // layer marked for fine-tuning keeps inference mode too (Keras' guide calls the base with
    // training=False for that).
    if (kwargs?.training && runsInInferenceMode(this as unknown as tf.layers.Layer)) {
      kwargs = { ...kwargs, training: false };
    }
    return originalCall.call(this, inputs, kwargs);
  };
}

function patchModelTrainableSetter(): void {
  // LayersModel extends Container, which defines the accessor pair; find where it lives.
  let owner: object | null = tf.LayersModel.prototype;
  let descriptor: PropertyDescriptor | undefined;
  while (owner && !(descriptor = Object.getOwnPropertyDescriptor(owner, 'trainable'))) {
    owner = Object.getPrototypeOf(owner);
  }
  if (!owner || !descriptor?.set || !descriptor.get) {
    throw new Error('tslab-dl: cannot find the `trainable` setter of tf.LayersModel; the frozen-layer patch needs updating for this tfjs version.');
  }
  const originalSet = descriptor.set;
  Object.defineProperty(owner, 'trainable', {
    ...descriptor,
    set(this: tf.LayersModel, value: boolean) {
      const wasTrainable = descriptor!.get!.call(this) as boolean;
      originalSet.call(this, value);
      // Keras' Model.trainable setter sets every sub-layer's flag too (nested models included).
      // Unfreezing propagates only when the model itself was frozen: tf.Sequential re-sets
      // `trainable = true` on a fresh inner model at every add(), which must not unfreeze a
      // base that the user froze before adding it.
      if (value === false || wasTrainable === false) {
        for (const layer of this.layers ?? []) layer.trainable = value;
      }
    },
  });
}

/** Applies both patches once per process (idempotent; tslab-dl's entry point calls it). */
export function applyFrozenLayerSemantics(): void {
  const proto = batchNormalizationClass().prototype as unknown as Record<symbol, unknown>;
  if (proto[PATCHED]) return;
  patchBatchNormalization();
  patchModelTrainableSetter();
  proto[PATCHED] = true;
}

applyFrozenLayerSemantics();
