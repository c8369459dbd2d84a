/**
 * The lesson's model in miniature for tests: 8x8 images -> upscale -> a frozen base of
 * (conv, BatchNormalization, ReLU) blocks -> global max pooling -> the lesson's head, compiled as
 * the lesson compiles it. Dropout 0, so runs can be compared number for number.
 */
import * as tf from '@tensorflow/tfjs';
import { buildHead, setRandomSeed, sparseCategoricalCrossentropy, upscale } from '../../lib';

export interface LessonLikeOptions {
  /** Seed of the initial weights. */
  seed: number;
  /** Side of the upscaled images. Defaults to 12. */
  upscaleTo?: number;
  /** (conv, BN, ReLU) blocks in the base. Defaults to 1. */
  blocks?: number;
  /** Filters of each convolution. Defaults to 6. */
  filters?: number;
  /** Convolution padding. Defaults to 'valid'. */
  padding?: 'valid' | 'same';
}

export function lessonLikeModel({ seed, upscaleTo = 12, blocks = 1, filters = 6, padding = 'valid' }: LessonLikeOptions): tf.LayersModel {
  setRandomSeed(seed);
  const inputs = tf.input({ shape: [8, 8, 3] });
  let x = upscale({ height: upscaleTo, width: upscaleTo }).apply(inputs) as tf.SymbolicTensor;
  for (let i = 0; i < blocks; i++) {
    x = tf.layers.conv2d({ filters, kernelSize: 3, padding, useBias: false }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ epsilon: 1.001e-5 }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reLU().apply(x) as tf.SymbolicTensor;
  }
  const features = tf.layers.globalMaxPooling2d({}).apply(x) as tf.SymbolicTensor;
  const base = tf.model({ inputs, outputs: features });
  base.trainable = false;
  const model = tf.model({ inputs, outputs: buildHead(features, { hidden: 5, dropout: 0, classes: 3 }) });
  model.compile({ optimizer: 'adam', loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  return model;
}
