/**
 * Keras' BatchNormalization without `scale` (no gamma) or without `center` (no beta), on
 * TensorFlow.js 4.22 (InceptionV3 builds 94 of them with `scale: false`).
 *
 * tfjs creates such a layer and runs it for prediction, but breaks elsewhere:
 * - in training mode, `call` reads `this.gamma.read()` (and `this.beta.read()`) unconditionally:
 *   "Cannot read properties of undefined (reading 'read')", so the layer cannot be trained
 *   (fine-tuning an unfrozen InceptionV3);
 * - in inference mode under a gradient tape, i.e. a frozen InceptionV3 base inside `model.fit`,
 *   it passes an undefined scale to the FusedBatchNorm kernel, whose gradient bookkeeping then
 *   clones it: "Cannot read properties of undefined (reading 'dtype')".
 *
 * Keras treats a missing gamma as 1 and a missing beta as 0. The patch gives the layer, for the
 * duration of each call, a constant gamma of ones and beta of zeros (not weights: nothing to
 * train, save or load, and `getConfig` still says `scale: false`). Multiplying by 1 and adding 0
 * are exact, so the numbers are those of Keras.
 */
import * as tf from '@tensorflow/tfjs';
import { markOnce } from './markers';
import { batchNormalizationPrototype } from './prototypes';

const PATCHED = Symbol.for('tslab-dl.batchNormalizationWithoutScaleOrCenter');

type Kwargs = Record<string, unknown>;
/** Stands in for a LayerVariable where tfjs reads one: `read()` is all it calls. */
interface ConstantWeight {
  read(): tf.Tensor;
}
interface PatchableBatchNormalization {
  scale: boolean;
  center: boolean;
  gamma?: ConstantWeight;
  beta?: ConstantWeight;
  movingMean: { shape: number[] };
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[];
}

/** Applies the patch once per process (idempotent; lib/compat/install.ts calls it). */
export function applyBatchNormalizationWithoutScaleOrCenter(): void {
  const proto = batchNormalizationPrototype<PatchableBatchNormalization>();
  if (!markOnce(proto, PATCHED)) return;
  const originalCall = proto.call;
  proto.call = function (this: PatchableBatchNormalization, inputs, kwargs) {
    if (this.scale && this.center) return originalCall.call(this, inputs, kwargs);
    const shape = this.movingMean.shape;
    // Created inside the layer's own tidy (call reads them there), so they are freed with it.
    const ones: ConstantWeight = { read: () => tf.ones(shape) };
    const zeros: ConstantWeight = { read: () => tf.zeros(shape) };
    const [gamma, beta] = [this.gamma, this.beta];
    if (!this.scale) this.gamma = ones;
    if (!this.center) this.beta = zeros;
    try {
      return originalCall.call(this, inputs, kwargs);
    } finally {
      this.gamma = gamma;
      this.beta = beta;
    }
  };
}
