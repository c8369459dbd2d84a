/**
 * Xception (v1), layer for layer as Keras 2.x builds it (tf_keras/applications/xception.py), so
 * that Keras' weight files load into it and it computes the same numbers.
 *
 * Reference:
 * - [Xception: Deep Learning with Depthwise Separable Convolutions](https://arxiv.org/abs/1610.02357) (CVPR 2017)
 *
 * Input: Keras' Xception expects "tf" pre-processing: images 0..255 scaled to -1..1
 * ({@link preprocessInput}). The lesson feeds x / 255 (0..1) without it.
 *
 * The separable convolutions are tfjs' SeparableConv2D, whose weights are Keras' in Keras' order:
 * depthwise_kernel [3, 3, in, 1], pointwise_kernel [1, 1, in, out] (no bias here). The four 1x1
 * shortcut convolutions, their BatchNormalization layers and the Add layers are unnamed in Keras;
 * they get a fresh Keras session's names (conv2d..conv2d_3, batch_normalization..._3, add..add_11).
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

const WEIGHTS_FOLDER = 'https://storage.googleapis.com/tensorflow/keras-applications/xception/';

/** Keras' xception.py file names and md5 (`file_hash`). */
export const WEIGHT_FILES: ApplicationWeightFiles = {
  model: 'Xception',
  top: { url: `${WEIGHTS_FOLDER}xception_weights_tf_dim_ordering_tf_kernels.h5`, md5: '0a58e3b7378bc2990ea3b43d5981f1f6' },
  notop: { url: `${WEIGHTS_FOLDER}xception_weights_tf_dim_ordering_tf_kernels_notop.h5`, md5: 'b0042744bf5b25fce3cb969f33bebb97' },
};

const CHANNEL_AXIS = -1;
/** Keras' default initialiser for Conv2D, SeparableConv2D and Dense (tfjs defaults to glorotNormal for Conv2D). */
const KERNEL_INITIALIZER = 'glorotUniform';

/** Xception's arguments: Keras' application arguments (299x299 by default, at least 71x71). */
export type XceptionArgs = ApplicationArgs;

/** The network, with its own counters for Keras' automatic names of the unnamed layers. */
class XceptionBuilder {
  private readonly counts = new Map<string, number>();

  /** Keras' automatic layer name in a fresh session: 'add', 'add_1', ... */
  private auto(prefix: string): string {
    const n = this.counts.get(prefix) ?? 0;
    this.counts.set(prefix, n + 1);
    return n === 0 ? prefix : `${prefix}_${n}`;
  }

  bn(x: tf.SymbolicTensor, name?: string): tf.SymbolicTensor {
    return tf.layers
      .batchNormalization({ axis: CHANNEL_AXIS, epsilon: 1e-3, momentum: 0.99, name: name ?? this.auto('batch_normalization') })
      .apply(x) as tf.SymbolicTensor;
  }

  relu(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
    return tf.layers.activation({ activation: 'relu', name }).apply(x) as tf.SymbolicTensor;
  }

  conv(
    x: tf.SymbolicTensor,
    filters: number,
    kernelSize: number,
    strides: number,
    padding: 'same' | 'valid',
    name?: string,
  ): tf.SymbolicTensor {
    return tf.layers
      .conv2d({
        filters,
        kernelSize,
        strides,
        padding,
        useBias: false,
        kernelInitializer: KERNEL_INITIALIZER,
        name: name ?? this.auto('conv2d'),
      })
      .apply(x) as tf.SymbolicTensor;
  }

  /** SeparableConv2D 3x3 'same', no bias, then its BatchNormalization `<name>_bn`. */
  sepConvBn(x: tf.SymbolicTensor, filters: number, name: string): tf.SymbolicTensor {
    x = tf.layers
      .separableConv2d({
        filters,
        kernelSize: 3,
        padding: 'same',
        useBias: false,
        // Both spelled out: tfjs 4.22 initialises the pointwise kernel with depthwiseInitializer.
        depthwiseInitializer: KERNEL_INITIALIZER,
        pointwiseInitializer: KERNEL_INITIALIZER,
        name,
      })
      .apply(x) as tf.SymbolicTensor;
    return this.bn(x, `${name}_bn`);
  }

  add(a: tf.SymbolicTensor, b: tf.SymbolicTensor): tf.SymbolicTensor {
    return tf.layers.add({ name: this.auto('add') }).apply([a, b]) as tf.SymbolicTensor;
  }

  /**
   * An entry-flow (or exit-flow) block: [ReLU] sepconv - ReLU - sepconv - max pool 3x3/2 'same',
   * added to a strided 1x1 projection of the block's input.
   */
  downBlock(x: tf.SymbolicTensor, block: number, filters: [number, number], firstRelu: boolean): tf.SymbolicTensor {
    let residual = this.conv(x, filters[1], 1, 2, 'same');
    residual = this.bn(residual);
    const p = `block${block}`;
    if (firstRelu) x = this.relu(x, `${p}_sepconv1_act`);
    x = this.sepConvBn(x, filters[0], `${p}_sepconv1`);
    x = this.relu(x, `${p}_sepconv2_act`);
    x = this.sepConvBn(x, filters[1], `${p}_sepconv2`);
    x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: `${p}_pool` }).apply(x) as tf.SymbolicTensor;
    return this.add(x, residual);
  }

  /** A middle-flow block: three (ReLU - sepconv 728) added to the block's input. */
  middleBlock(x: tf.SymbolicTensor, block: number): tf.SymbolicTensor {
    const residual = x;
    for (let i = 1; i <= 3; i++) {
      x = this.relu(x, `block${block}_sepconv${i}_act`);
      x = this.sepConvBn(x, 728, `block${block}_sepconv${i}`);
    }
    return this.add(x, residual);
  }

  features(input: tf.SymbolicTensor): tf.SymbolicTensor {
    let x = this.conv(input, 32, 3, 2, 'valid', 'block1_conv1');
    x = this.relu(this.bn(x, 'block1_conv1_bn'), 'block1_conv1_act');
    x = this.conv(x, 64, 3, 1, 'valid', 'block1_conv2');
    x = this.relu(this.bn(x, 'block1_conv2_bn'), 'block1_conv2_act');

    x = this.downBlock(x, 2, [128, 128], false);
    x = this.downBlock(x, 3, [256, 256], true);
    x = this.downBlock(x, 4, [728, 728], true);
    for (let block = 5; block <= 12; block++) x = this.middleBlock(x, block);
    x = this.downBlock(x, 13, [728, 1024], true);

    x = this.sepConvBn(x, 1536, 'block14_sepconv1');
    x = this.relu(x, 'block14_sepconv1_act');
    x = this.sepConvBn(x, 2048, 'block14_sepconv2');
    return this.relu(x, 'block14_sepconv2_act');
  }

  pooling(x: tf.SymbolicTensor, pooling: 'avg' | 'max'): tf.SymbolicTensor {
    if (pooling === 'avg')
      return tf.layers.globalAveragePooling2d({ name: this.auto('global_average_pooling2d') }).apply(x) as tf.SymbolicTensor;
    return tf.layers.globalMaxPooling2d({ name: this.auto('global_max_pooling2d') }).apply(x) as tf.SymbolicTensor;
  }
}

/**
 * Instantiates the Xception architecture (20,861,480 parameters without the top, 22,910,480
 * with; 54,528 of them BatchNormalization moving statistics), optionally with Keras' ImageNet
 * weights. Expects "tf"-preprocessed input, -1..1 (see {@link preprocessInput}).
 */
export async function Xception(options: XceptionArgs = {}): Promise<tf.LayersModel> {
  await ready();
  const args = resolveApplicationArgs(options, 299, 71);
  const imgInput = applicationInput(args);
  const builder = new XceptionBuilder();
  let x = builder.features(imgInput);

  if (args.includeTop) {
    x = predictions(globalPooling(x, 'avg'), args);
  } else if (args.pooling === 'avg' || args.pooling === 'max') {
    x = builder.pooling(x, args.pooling);
  }

  const model = applicationModel(args, imgInput, x, 'xception');
  await loadApplicationWeights(model, args, WEIGHT_FILES);
  return model;
}

/**
 * Keras' `xception.preprocess_input`: "tf" mode, x / 127.5 - 1, from images 0..255 to -1..1.
 * Returns a new float32 tensor.
 */
export function preprocessInput(x: tf.Tensor | tf.TensorLike): tf.Tensor {
  return preprocessImagenetInput(x, 'tf');
}
