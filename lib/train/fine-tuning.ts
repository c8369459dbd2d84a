/**
 * `setTrainable(model, { from })`: fine-tuning, the step after training the head: unfreeze the top
 * of the pre-trained base and train it on with a small learning rate.
 *
 * Keras' guide (keras.io/guides/transfer_learning, "Fine-tuning") does it as
 *
 *     base_model.trainable = True
 *     for layer in base_model.layers[:fine_tune_at]: layer.trainable = False
 *     ... base_model(inputs, training=False) ...   # BatchNormalization stays in inference mode
 *     model.compile(optimizer=keras.optimizers.Adam(1e-5), ...)
 *
 * Here the same, by layer name: every layer before `from` frozen, every layer from it on trainable,
 * and (by default) the BatchNormalization layers of the unfrozen part kept in inference mode
 * (moving statistics used and left alone; gamma and beta train), because updating them on a small
 * data set undoes what pre-training learned. `layer.trainable = true` on single layers works too,
 * as in Keras. The frozen bottom still runs once per image (feature cache, ONNX Runtime); only the
 * unfrozen top runs on TensorFlow.js at every step.
 */
import * as tf from '@tensorflow/tfjs';
import { markShown } from '../notebook/display';
import { ValueError } from '../core/errors';
import { INFERENCE_MODE } from '../layers/frozen';
import { countParams, formatCount } from './param-counts';

/** Options of {@link setTrainable}: the first layer to train, and what BatchNormalization does. */
export interface SetTrainableOptions {
  /** The first layer to train (by name, e.g. 'conv5_block1_0_bn'); every layer before it is frozen. Required. */
  from: string;
  /**
   * BatchNormalization layers in the trainable part: 'inference' (gamma and beta train, moving
   * statistics used and kept, as Keras' guide recommends), 'train' (batch statistics, as plain
   * Keras with training=True), or 'frozen' (not trained at all). Defaults to 'inference'.
   */
  batchNormalization?: 'inference' | 'train' | 'frozen';
}

/** What {@link setTrainable} did: layers and parameters now trained and frozen. */
export interface TrainableReport {
  /** Layers (with weights) now trained. */
  trainableLayers: number;
  /** Layers (with weights) now frozen. */
  frozenLayers: number;
  /** Parameters in the model's trainable weights. */
  trainableParams: number;
  /** Parameters in the model's non-trainable weights (frozen layers, BatchNormalization moving statistics). */
  nonTrainableParams: number;
}

/** The layers of `model` in order, nested models opened (their own flag switched on, so their layers can train). */
function flatLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.flatMap((layer) => (layer instanceof tf.LayersModel ? flatLayers(layer) : [layer]));
}

/**
 * Unfreezes `model` from layer `from` on, for fine-tuning: every layer before `from` frozen, every
 * layer from it on trainable (nested models opened), and by default the BatchNormalization layers
 * of the trainable part kept in inference mode (moving statistics used and left alone; gamma and
 * beta train), as Keras' transfer-learning guide advises. Prints the counts and returns them.
 * Compile the model again, with a small learning rate, before training.
 *
 * @param model - The model to fine-tune, e.g. the lesson's base + head.
 * @param options - `from`: the name of the first layer to train (as in `model.summary()`), required;
 *   `batchNormalization`: 'inference' (the default), 'train' or 'frozen'.
 * @returns The counts of trainable and frozen layers (with weights) and parameters.
 * @throws A {@link ValueError} when `model` is not a tf.LayersModel, it has no layer named `from`
 *   (the message lists nearby names), or `batchNormalization` is not one of the three.
 *
 * @example
 * ```ts
 * import { setTrainable } from 'tslab-dl';
 *
 * setTrainable(model, { from: 'conv5_block1_0_bn' });
 * model.compile({
 *   optimizer: keras.optimizers.Adam({ learningRate: 1e-5 }),
 *   loss: keras.losses.SparseCategoricalCrossentropy({ fromLogits: true }),
 *   metrics: ['accuracy'],
 * });
 * ```
 */
export function setTrainable(model: tf.LayersModel, options: SetTrainableOptions): TrainableReport {
  if (!(model instanceof tf.LayersModel)) {
    throw new ValueError(`setTrainable(model, { from }): model must be a tf.LayersModel. Received ${typeof model}.`);
  }
  const { from, batchNormalization = 'inference' } = options ?? ({} as SetTrainableOptions);
  if (!['inference', 'train', 'frozen'].includes(batchNormalization)) {
    throw new ValueError(
      `setTrainable: batchNormalization must be 'inference', 'train' or 'frozen'. Received ${JSON.stringify(batchNormalization)}.`,
    );
  }
  const layers = flatLayers(model);
  const start = layers.findIndex((l) => l.name === from);
  if (start < 0) {
    const withWeights = layers.filter((l) => l.weights.length > 0).map((l) => l.name);
    const near = withWeights.filter((name) => name.startsWith(String(from).split('_')[0])).slice(-5);
    throw new ValueError(
      `setTrainable: the model has no layer named ${JSON.stringify(from)}. ` +
        `Layer names are those of model.summary()${near.length ? `, e.g. ${near.join(', ')}` : `; the last ones with weights: ${withWeights.slice(-5).join(', ')}`}.`,
    );
  }
  // Nested models (a base used as one layer) must be trainable for their layers to be.
  const open = (m: tf.LayersModel): void => {
    m.trainable = true;
    for (const l of m.layers) if (l instanceof tf.LayersModel) open(l);
  };
  open(model);
  layers.forEach((layer, i) => {
    const isBatchNorm = layer.getClassName() === 'BatchNormalization';
    const trainable = i >= start && !(isBatchNorm && batchNormalization === 'frozen');
    layer.trainable = trainable;
    const marks = layer as unknown as Record<symbol, boolean>;
    if (isBatchNorm && trainable && batchNormalization === 'inference') marks[INFERENCE_MODE] = true;
    else delete marks[INFERENCE_MODE];
  });
  const withWeights = layers.filter((l) => l.weights.length > 0);
  const report: TrainableReport = {
    trainableLayers: withWeights.filter((l) => l.trainable).length,
    frozenLayers: withWeights.filter((l) => !l.trainable).length,
    trainableParams: countParams(model.trainableWeights),
    nonTrainableParams: countParams(model.nonTrainableWeights),
  };
  console.log(
    `Training ${report.trainableLayers} layers from ${from} on (${formatCount(report.trainableParams)} parameters); ` +
      `${report.frozenLayers} layers before it stay frozen. Compile again, with a small learning rate ` +
      `(e.g. keras.optimizers.Adam({ learningRate: 1e-5 })), before training.`,
  );
  // Printed above: a kernel showing the cell's value (Out[n]) skips it.
  return markShown(report);
}
