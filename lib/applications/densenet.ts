/**
 * DenseNet 121, 169 and 201, layer for layer as Keras 2.x builds them
 * (tf_keras/applications/densenet.py), so that the official Keras weight files load into them
 * and they compute the same numbers.
 *
 * Reference:
 * - [Densely Connected Convolutional Networks](https://arxiv.org/abs/1608.06993) (CVPR 2017)
 *
 * Input pre-processing: Keras' DenseNet expects "torch" mode (x / 255, then ImageNet mean and
 * std per channel); the lesson feeds x / 255 without it.
 */
import * as tf from '@tensorflow/tfjs';
import { ready } from '../backends/selection';
import { ValueError } from '../core/errors';
import {
  ApplicationArgs,
  applicationInput,
  applicationModel,
  globalPooling,
  loadApplicationWeights,
  predictions,
  resolveApplicationArgs,
} from './build-steps';
import { preprocessImagenetInput } from './imagenet-utils';

const BASE_WEIGHTS_PATH = 'https://storage.googleapis.com/tensorflow/keras-applications/densenet/';
const DENSENET121_WEIGHT_PATH = BASE_WEIGHTS_PATH + 'densenet121_weights_tf_dim_ordering_tf_kernels.h5';
/** The file of DenseNet121's ImageNet weights without the top (the lesson's base), as Keras caches it. */
export const DENSENET121_WEIGHTS_FILE_NO_TOP = 'densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5';
/** Where Keras downloads it from. */
export const DENSENET121_WEIGHT_PATH_NO_TOP = BASE_WEIGHTS_PATH + DENSENET121_WEIGHTS_FILE_NO_TOP;
const DENSENET169_WEIGHT_PATH = BASE_WEIGHTS_PATH + 'densenet169_weights_tf_dim_ordering_tf_kernels.h5';
const DENSENET169_WEIGHT_PATH_NO_TOP = BASE_WEIGHTS_PATH + 'densenet169_weights_tf_dim_ordering_tf_kernels_notop.h5';
const DENSENET201_WEIGHT_PATH = BASE_WEIGHTS_PATH + 'densenet201_weights_tf_dim_ordering_tf_kernels.h5';
const DENSENET201_WEIGHT_PATH_NO_TOP = BASE_WEIGHTS_PATH + 'densenet201_weights_tf_dim_ordering_tf_kernels_notop.h5';

/** md5 of each file, as Keras' densenet.py checks it (`file_hash`). */
const FILE_HASHES: Record<string, string> = {
  [DENSENET121_WEIGHT_PATH]: '9d60b8095a5708f2dcce2bca79d332c7',
  [DENSENET121_WEIGHT_PATH_NO_TOP]: '30ee3e1110167f948a6b9946edeeb738',
  [DENSENET169_WEIGHT_PATH]: 'd699b8f76981ab1b30698df4c175e90b',
  [DENSENET169_WEIGHT_PATH_NO_TOP]: 'b8c4d4c20dd625c148057b9ff1c1176b',
  [DENSENET201_WEIGHT_PATH]: '1ceb130c1ea1b78c3bf6114dbdfd8807',
  [DENSENET201_WEIGHT_PATH_NO_TOP]: 'c13680b51ded0fb44dff2d8f86ac8bb1',
};

/** Every BatchNormalization in Keras' DenseNet uses this epsilon (tfjs' default is 1e-3). */
const BN_EPSILON = 1.001e-5;
/** Channels last: the channel axis of an NHWC feature map. */
const BN_AXIS = 3;
/** Keras' default initialiser for Conv2D and Dense (tfjs defaults to glorotNormal). */
const KERNEL_INITIALIZER = 'glorotUniform';

/**
 * DenseNet's arguments are those of every Keras application (`includeTop`, `weights`,
 * `inputTensor`, `inputShape`, `pooling`, `classes`, `classifierActivation`, ...): its default
 * input is [224, 224, 3] with the top; without it, any [height, width, 3] of at least 32x32.
 */
export type DenseNetArgs = ApplicationArgs;

/** A building block for a dense block: BN-ReLU-Conv1x1(4k)-BN-ReLU-Conv3x3(k), concatenated to its input. */
function convBlock(x: tf.SymbolicTensor, growthRate: number, name: string): tf.SymbolicTensor {
  let x1 = tf.layers.batchNormalization({ axis: BN_AXIS, epsilon: BN_EPSILON, name: `${name}_0_bn` }).apply(x) as tf.SymbolicTensor;
  x1 = tf.layers.activation({ activation: 'relu', name: `${name}_0_relu` }).apply(x1) as tf.SymbolicTensor;
  x1 = tf.layers
    .conv2d({
      filters: 4 * growthRate,
      kernelSize: 1,
      useBias: false,
      kernelInitializer: KERNEL_INITIALIZER,
      name: `${name}_1_conv`,
    })
    .apply(x1) as tf.SymbolicTensor;
  x1 = tf.layers.batchNormalization({ axis: BN_AXIS, epsilon: BN_EPSILON, name: `${name}_1_bn` }).apply(x1) as tf.SymbolicTensor;
  x1 = tf.layers.activation({ activation: 'relu', name: `${name}_1_relu` }).apply(x1) as tf.SymbolicTensor;
  x1 = tf.layers
    .conv2d({
      filters: growthRate,
      kernelSize: 3,
      padding: 'same',
      useBias: false,
      kernelInitializer: KERNEL_INITIALIZER,
      name: `${name}_2_conv`,
    })
    .apply(x1) as tf.SymbolicTensor;
  return tf.layers.concatenate({ axis: BN_AXIS, name: `${name}_concat` }).apply([x, x1]) as tf.SymbolicTensor;
}

/** A dense block: `blocks` conv blocks, each adding 32 channels. */
function denseBlock(x: tf.SymbolicTensor, blocks: number, name: string): tf.SymbolicTensor {
  for (let i = 0; i < blocks; i++) x = convBlock(x, 32, `${name}_block${i + 1}`);
  return x;
}

/** A transition block: BN-ReLU-Conv1x1 to `reduction` of the channels, then 2x2 average pooling. */
function transitionBlock(x: tf.SymbolicTensor, reduction: number, name: string): tf.SymbolicTensor {
  x = tf.layers.batchNormalization({ axis: BN_AXIS, epsilon: BN_EPSILON, name: `${name}_bn` }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu', name: `${name}_relu` }).apply(x) as tf.SymbolicTensor;
  const channels = x.shape[BN_AXIS] as number;
  x = tf.layers
    .conv2d({
      filters: Math.floor(channels * reduction),
      kernelSize: 1,
      useBias: false,
      kernelInitializer: KERNEL_INITIALIZER,
      name: `${name}_conv`,
    })
    .apply(x) as tf.SymbolicTensor;
  return tf.layers.averagePooling2d({ poolSize: 2, strides: 2, name: `${name}_pool` }).apply(x) as tf.SymbolicTensor;
}

function sameBlocks(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/** Keras' model name and weight files for a block configuration. */
function variant(blocks: readonly number[]): { name: string; top?: string; notop?: string } {
  if (sameBlocks(blocks, [6, 12, 24, 16]))
    return { name: 'densenet121', top: DENSENET121_WEIGHT_PATH, notop: DENSENET121_WEIGHT_PATH_NO_TOP };
  if (sameBlocks(blocks, [6, 12, 32, 32]))
    return { name: 'densenet169', top: DENSENET169_WEIGHT_PATH, notop: DENSENET169_WEIGHT_PATH_NO_TOP };
  if (sameBlocks(blocks, [6, 12, 48, 32]))
    return { name: 'densenet201', top: DENSENET201_WEIGHT_PATH, notop: DENSENET201_WEIGHT_PATH_NO_TOP };
  return { name: 'densenet' };
}

/**
 * Instantiates the DenseNet architecture (Keras' `DenseNet(blocks, ...)`), optionally loaded
 * with weights pre-trained on ImageNet.
 *
 * @param blocks numbers of building blocks for the four dense blocks.
 */
export async function denseNet(blocks: readonly number[], options: DenseNetArgs = {}): Promise<tf.LayersModel> {
  await ready();
  const args = resolveApplicationArgs(options, 224, 32);
  const { name, top, notop } = variant(blocks);
  if (args.weights === 'imagenet' && !(top && notop)) {
    throw new ValueError(
      `There are no ImageNet weights for a DenseNet with blocks [${blocks.join(', ')}]; use DenseNet121, DenseNet169 or DenseNet201, or pass weights: null.`,
    );
  }
  const includeTop = args.includeTop;

  const imgInput = applicationInput(args);
  let x = tf.layers
    .zeroPadding2d({
      padding: [
        [3, 3],
        [3, 3],
      ],
      name: 'zero_padding2d',
    })
    .apply(imgInput) as tf.SymbolicTensor;
  x = tf.layers
    .conv2d({ filters: 64, kernelSize: 7, strides: 2, useBias: false, kernelInitializer: KERNEL_INITIALIZER, name: 'conv1/conv' })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ axis: BN_AXIS, epsilon: BN_EPSILON, name: 'conv1/bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu', name: 'conv1/relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers
    .zeroPadding2d({
      padding: [
        [1, 1],
        [1, 1],
      ],
      name: 'zero_padding2d_1',
    })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'pool1' }).apply(x) as tf.SymbolicTensor;

  x = denseBlock(x, blocks[0], 'conv2');
  x = transitionBlock(x, 0.5, 'pool2');
  x = denseBlock(x, blocks[1], 'conv3');
  x = transitionBlock(x, 0.5, 'pool3');
  x = denseBlock(x, blocks[2], 'conv4');
  x = transitionBlock(x, 0.5, 'pool4');
  x = denseBlock(x, blocks[3], 'conv5');

  x = tf.layers.batchNormalization({ axis: BN_AXIS, epsilon: BN_EPSILON, name: 'bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu', name: 'relu' }).apply(x) as tf.SymbolicTensor;

  if (includeTop) x = predictions(globalPooling(x, 'avg'), args);
  else if (args.pooling) x = globalPooling(x, args.pooling);

  // The model takes the caller's original inputs when `inputTensor` is given (Keras' get_source_inputs).
  const model = applicationModel(args, imgInput, x, name);
  // Official files exist for 121/169/201 only; other block counts were refused 'imagenet' above.
  await loadApplicationWeights(model, args, {
    model: name.replace('densenet', 'DenseNet'),
    top: { url: top ?? '', md5: top ? FILE_HASHES[top] : undefined },
    notop: { url: notop ?? '', md5: notop ? FILE_HASHES[notop] : undefined },
  });
  return model;
}

/**
 * Instantiates the DenseNet121 architecture (7,037,504 parameters without the top, 8,062,504 with),
 * layer for layer as Keras builds it, optionally loaded with weights pre-trained on ImageNet
 * (Keras' official .h5 file, from Keras' cache `~/.keras/models/`, tslab-dl's cache, or a
 * download checked against Keras' md5). Also available as `keras.applications.DenseNet121`.
 *
 * @param args - Keras' application arguments: `includeTop` (default true), `weights` ('imagenet',
 *   the default; null for random initialisation; or the path of a .h5 file), `inputTensor`,
 *   `inputShape` (default [224, 224, 3] with the top; without it any [height, width, 3] of at least
 *   32x32), `pooling` ('avg' or 'max' without the top), `classes`, `classifierActivation`, ...
 * @returns A promise of the model (named 'densenet121'); without the top and with `pooling` its
 *   output is [batch, 1024]. With `inputTensor` the model takes the input that tensor came from.
 * @throws A {@link ValueError} when an argument is invalid (e.g. `inputShape` with the top and not
 *   224x224, images smaller than 32x32, 'imagenet' with the top and `classes` other than 1000), or
 *   when a weights file does not fit the model (layer counts or shapes differ).
 * @throws A {@link DownloadError} when the ImageNet weights are not cached and cannot be downloaded
 *   (unless `weightsFallback: 'stand-in'`, which the lesson's {@link lessonMode} sets).
 * @throws A {@link DataFileError} when the weights file is missing, empty, damaged or not a Keras .h5 file.
 *
 * @example
 * ```ts
 * const baseModel = await keras.applications.DenseNet121({
 *   includeTop: false,
 *   pooling: 'max',
 *   weights: 'imagenet',
 *   inputTensor: upscaled,
 *   inputShape: [160, 160, 3],
 * });
 * baseModel.trainable = false;
 * ```
 */
export function DenseNet121(args: DenseNetArgs = {}): Promise<tf.LayersModel> {
  return denseNet([6, 12, 24, 16], args);
}

/** Instantiates the DenseNet169 architecture (12,642,880 parameters without the top, 14,307,880 with). */
export function DenseNet169(args: DenseNetArgs = {}): Promise<tf.LayersModel> {
  return denseNet([6, 12, 32, 32], args);
}

/** Instantiates the DenseNet201 architecture (18,321,984 parameters without the top, 20,242,984 with). */
export function DenseNet201(args: DenseNetArgs = {}): Promise<tf.LayersModel> {
  return denseNet([6, 12, 48, 32], args);
}

/**
 * Keras' `densenet.preprocess_input`: "torch" mode (keras/src/applications/densenet.py). From RGB
 * images 0..255 (channels last): divided by 255, then the ImageNet mean [0.485, 0.456, 0.406]
 * subtracted and the result divided by the standard deviation [0.229, 0.224, 0.225]. Returns a
 * new float32 tensor. (The lesson feeds x / 255 instead, as its Python does.)
 */
export function preprocessInput(x: tf.Tensor | tf.TensorLike): tf.Tensor {
  return preprocessImagenetInput(x, 'torch');
}
