/**
 * Inception V3, layer for layer as Keras 2.x builds it (tf_keras/applications/inception_v3.py),
 * so that Keras' weight files load into it and it computes the same numbers.
 *
 * Reference:
 * - [Rethinking the Inception Architecture for Computer Vision](http://arxiv.org/abs/1512.00567) (CVPR 2016)
 *
 * Input: Keras' InceptionV3 expects "tf" pre-processing: images 0..255 scaled to -1..1
 * ({@link preprocessInput}). The lesson feeds x / 255 (0..1) without it.
 *
 * Keras leaves most layers unnamed; they get the names a fresh Keras session gives them
 * (conv2d, conv2d_1, ..., batch_normalization_93, activation_93, mixed0..mixed10). Each
 * BatchNormalization has `scale: false` (no gamma) and Keras' default epsilon 1e-3.
 */
import * as tf from '@tensorflow/tfjs';
import { ready } from '../backends/selection';
import {
  ApplicationArgs,
  applicationInput,
  applicationModel,
  ApplicationWeightFiles,
  globalPooling,
  loadApplicationWeights,
  predictions,
  resolveApplicationArgs,
} from './build-steps';
import { preprocessImagenetInput } from './imagenet-utils';

const WEIGHTS_FOLDER = 'https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/';

/** Keras' inception_v3.py file names and md5 (`file_hash`). */
export const WEIGHT_FILES: ApplicationWeightFiles = {
  model: 'InceptionV3',
  top: { url: `${WEIGHTS_FOLDER}inception_v3_weights_tf_dim_ordering_tf_kernels.h5`, md5: '9a0d58056eeedaa3f26cb7ebd46da564' },
  notop: { url: `${WEIGHTS_FOLDER}inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`, md5: 'bcbd6486424b2319ff4ef7d526e38f63' },
};

const CHANNEL_AXIS = 3;
/** Keras' default initialiser for Conv2D and Dense (tfjs defaults to glorotNormal). */
const KERNEL_INITIALIZER = 'glorotUniform';

/** InceptionV3's arguments: Keras' application arguments (299x299 by default, at least 75x75). */
export type InceptionV3Args = ApplicationArgs;

/** Keras' automatic layer names in a fresh session: 'conv2d', 'conv2d_1', 'conv2d_2', ... per prefix. */
class KerasNames {
  private readonly counts = new Map<string, number>();

  next(prefix: string): string {
    const n = this.counts.get(prefix) ?? 0;
    this.counts.set(prefix, n + 1);
    return n === 0 ? prefix : `${prefix}_${n}`;
  }
}

/** The network, with its own layer-name counters (one per model, as a fresh Keras session). */
class InceptionBuilder {
  private readonly names = new KerasNames();

  /** Keras' conv2d_bn: Conv2D (no bias) -> BatchNormalization (no scale) -> ReLU. */
  convBn(
    x: tf.SymbolicTensor,
    filters: number,
    rows: number,
    cols: number,
    padding: 'same' | 'valid' = 'same',
    strides = 1,
  ): tf.SymbolicTensor {
    x = tf.layers
      .conv2d({
        filters,
        kernelSize: [rows, cols],
        strides,
        padding,
        useBias: false,
        kernelInitializer: KERNEL_INITIALIZER,
        name: this.names.next('conv2d'),
      })
      .apply(x) as tf.SymbolicTensor;
    x = tf.layers
      .batchNormalization({ axis: CHANNEL_AXIS, scale: false, epsilon: 1e-3, momentum: 0.99, name: this.names.next('batch_normalization') })
      .apply(x) as tf.SymbolicTensor;
    return tf.layers.activation({ activation: 'relu', name: this.names.next('activation') }).apply(x) as tf.SymbolicTensor;
  }

  maxPool(x: tf.SymbolicTensor): tf.SymbolicTensor {
    return tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: this.names.next('max_pooling2d') }).apply(x) as tf.SymbolicTensor;
  }

  /** 3x3 average pooling, stride 1, 'same' (TF: the padded pixels are not counted). */
  avgPool(x: tf.SymbolicTensor): tf.SymbolicTensor {
    return tf.layers
      .averagePooling2d({ poolSize: 3, strides: 1, padding: 'same', name: this.names.next('average_pooling2d') })
      .apply(x) as tf.SymbolicTensor;
  }

  concat(xs: tf.SymbolicTensor[], name?: string): tf.SymbolicTensor {
    return tf.layers.concatenate({ axis: CHANNEL_AXIS, name: name ?? this.names.next('concatenate') }).apply(xs) as tf.SymbolicTensor;
  }

  /** mixed 0-2 (35 x 35): 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avg-1x1 (poolFilters). */
  blockA(x: tf.SymbolicTensor, poolFilters: number, name: string): tf.SymbolicTensor {
    const branch1x1 = this.convBn(x, 64, 1, 1);
    let branch5x5 = this.convBn(x, 48, 1, 1);
    branch5x5 = this.convBn(branch5x5, 64, 5, 5);
    let branch3x3dbl = this.convBn(x, 64, 1, 1);
    branch3x3dbl = this.convBn(branch3x3dbl, 96, 3, 3);
    branch3x3dbl = this.convBn(branch3x3dbl, 96, 3, 3);
    const branchPool = this.convBn(this.avgPool(x), poolFilters, 1, 1);
    return this.concat([branch1x1, branch5x5, branch3x3dbl, branchPool], name);
  }

  /** mixed 4-7 (17 x 17), factorised 7x7 convolutions with `c7` channels inside. */
  blockC(x: tf.SymbolicTensor, c7: number, name: string): tf.SymbolicTensor {
    const branch1x1 = this.convBn(x, 192, 1, 1);
    let branch7x7 = this.convBn(x, c7, 1, 1);
    branch7x7 = this.convBn(branch7x7, c7, 1, 7);
    branch7x7 = this.convBn(branch7x7, 192, 7, 1);
    let branch7x7dbl = this.convBn(x, c7, 1, 1);
    branch7x7dbl = this.convBn(branch7x7dbl, c7, 7, 1);
    branch7x7dbl = this.convBn(branch7x7dbl, c7, 1, 7);
    branch7x7dbl = this.convBn(branch7x7dbl, c7, 7, 1);
    branch7x7dbl = this.convBn(branch7x7dbl, 192, 1, 7);
    const branchPool = this.convBn(this.avgPool(x), 192, 1, 1);
    return this.concat([branch1x1, branch7x7, branch7x7dbl, branchPool], name);
  }

  /** mixed 9-10 (8 x 8), with the 1x3 / 3x1 pairs concatenated. */
  blockE(x: tf.SymbolicTensor, i: number): tf.SymbolicTensor {
    const branch1x1 = this.convBn(x, 320, 1, 1);
    const branch3x3In = this.convBn(x, 384, 1, 1);
    const branch3x3 = this.concat([this.convBn(branch3x3In, 384, 1, 3), this.convBn(branch3x3In, 384, 3, 1)], `mixed9_${i}`);
    let branch3x3dbl = this.convBn(x, 448, 1, 1);
    branch3x3dbl = this.convBn(branch3x3dbl, 384, 3, 3);
    const branch3x3dblOut = this.concat([this.convBn(branch3x3dbl, 384, 1, 3), this.convBn(branch3x3dbl, 384, 3, 1)]);
    const branchPool = this.convBn(this.avgPool(x), 192, 1, 1);
    return this.concat([branch1x1, branch3x3, branch3x3dblOut, branchPool], `mixed${9 + i}`);
  }

  features(input: tf.SymbolicTensor): tf.SymbolicTensor {
    let x = this.convBn(input, 32, 3, 3, 'valid', 2);
    x = this.convBn(x, 32, 3, 3, 'valid');
    x = this.convBn(x, 64, 3, 3);
    x = this.maxPool(x);
    x = this.convBn(x, 80, 1, 1, 'valid');
    x = this.convBn(x, 192, 3, 3, 'valid');
    x = this.maxPool(x);

    x = this.blockA(x, 32, 'mixed0');
    x = this.blockA(x, 64, 'mixed1');
    x = this.blockA(x, 64, 'mixed2');

    // mixed 3: 17 x 17 x 768
    const branch3x3 = this.convBn(x, 384, 3, 3, 'valid', 2);
    let branch3x3dbl = this.convBn(x, 64, 1, 1);
    branch3x3dbl = this.convBn(branch3x3dbl, 96, 3, 3);
    branch3x3dbl = this.convBn(branch3x3dbl, 96, 3, 3, 'valid', 2);
    x = this.concat([branch3x3, branch3x3dbl, this.maxPool(x)], 'mixed3');

    x = this.blockC(x, 128, 'mixed4');
    x = this.blockC(x, 160, 'mixed5');
    x = this.blockC(x, 160, 'mixed6');
    x = this.blockC(x, 192, 'mixed7');

    // mixed 8: 8 x 8 x 1280
    let branch3x3b = this.convBn(x, 192, 1, 1);
    branch3x3b = this.convBn(branch3x3b, 320, 3, 3, 'valid', 2);
    let branch7x7x3 = this.convBn(x, 192, 1, 1);
    branch7x7x3 = this.convBn(branch7x7x3, 192, 1, 7);
    branch7x7x3 = this.convBn(branch7x7x3, 192, 7, 1);
    branch7x7x3 = this.convBn(branch7x7x3, 192, 3, 3, 'valid', 2);
    x = this.concat([branch3x3b, branch7x7x3, this.maxPool(x)], 'mixed8');

    x = this.blockE(x, 0);
    return this.blockE(x, 1);
  }

  pooling(x: tf.SymbolicTensor, pooling: 'avg' | 'max'): tf.SymbolicTensor {
    if (pooling === 'avg')
      return tf.layers.globalAveragePooling2d({ name: this.names.next('global_average_pooling2d') }).apply(x) as tf.SymbolicTensor;
    return tf.layers.globalMaxPooling2d({ name: this.names.next('global_max_pooling2d') }).apply(x) as tf.SymbolicTensor;
  }
}

/**
 * Instantiates the Inception v3 architecture (21,802,784 parameters without the top, 23,851,784
 * with; 34,432 of them BatchNormalization moving statistics), optionally with Keras' ImageNet
 * weights. Expects "tf"-preprocessed input, -1..1 (see {@link preprocessInput}).
 */
export async function InceptionV3(options: InceptionV3Args = {}): Promise<tf.LayersModel> {
  await ready();
  const args = resolveApplicationArgs(options, 299, 75);
  const imgInput = applicationInput(args);
  const builder = new InceptionBuilder();
  let x = builder.features(imgInput);

  if (args.includeTop) {
    x = predictions(globalPooling(x, 'avg'), args);
  } else if (args.pooling === 'avg' || args.pooling === 'max') {
    x = builder.pooling(x, args.pooling);
  }

  const model = applicationModel(args, imgInput, x, 'inception_v3');
  await loadApplicationWeights(model, args, WEIGHT_FILES);
  return model;
}

/**
 * Keras' `inception_v3.preprocess_input`: "tf" mode, x / 127.5 - 1, from images 0..255 to -1..1.
 * Returns a new float32 tensor.
 */
export function preprocessInput(x: tf.Tensor | tf.TensorLike): tf.Tensor {
  return preprocessImagenetInput(x, 'tf');
}
