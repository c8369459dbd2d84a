/**
 * Keras' semantics for frozen layers, on TensorFlow.js.
 *
 * Keras (TF 2.x): `base.trainable = false` makes every layer inside the base non-trainable, and
 * a BatchNormalization layer that is not trainable always runs in inference mode: during `fit`
 * it normalises with its moving mean and variance and never updates them
 * (tf_keras/layers/normalization/batch_normalization.py, `_get_training_value`: "if not
 * self.trainable: training = False"; Keras 3's batch_normalization.py: "if training and
 * self.trainable").
 *
 * TensorFlow.js 4.22 does neither: a model's `trainable` setter only flags the weights, and
 * `fit` passes `training: true` to every layer, so a "frozen" BatchNormalization layer
 * normalises with batch statistics and overwrites its moving statistics
 * (docs/keras-compatibility.md). A frozen pre-trained base then silently computes different
 * features from Keras'.
 *
 * Two patches restore Keras' behaviour for every model, however it was built:
 * - `LayersModel.trainable = v` also sets `layer.trainable = v` on each of its layers
 *   (recursively), as Keras' Model.trainable setter does; the flag is saved with the model.
 *   (Exception: setting `true` on a model that is already trainable changes nothing.)
 * - `BatchNormalization.call` forces `training: false` when the layer is frozen, or marked to
 *   keep inference mode while fine-tuning (lib/layers/frozen.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { runsInInferenceMode } from '../layers/frozen';
import { markOnce } from './markers';
import { batchNormalizationPrototype, layersModelPrototype, ownerOf } from './prototypes';

const PATCHED = Symbol.for('tslab-dl.frozenLayerSemantics');

type Kwargs = Record<string, unknown>;
interface PatchableLayer {
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[];
}

function patchBatchNormalization(proto: PatchableLayer): void {
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
  // LayersModel extends Container, which defines the accessor pair.
  const { owner, descriptor } = ownerOf(layersModelPrototype<object>(), 'trainable', 'the frozen-layer patch');
  const { get, set } = descriptor;
  if (!get || !set)
    throw new Error(
      "tslab-dl: tf.LayersModel's `trainable` is no accessor; the frozen-layer patch needs updating for this TensorFlow.js version.",
    );
  Object.defineProperty(owner, 'trainable', {
    ...descriptor,
    set(this: tf.LayersModel, value: boolean) {
      const wasTrainable = get.call(this) as boolean;
      set.call(this, value);
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

/** Applies both patches once per process (idempotent; lib/compat/install.ts calls it). */
export function applyFrozenLayerSemantics(): void {
  const proto = batchNormalizationPrototype<PatchableLayer>();
  if (!markOnce(proto, PATCHED)) return;
  patchBatchNormalization(proto);
  patchModelTrainableSetter();
}
