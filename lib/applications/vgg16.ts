/**
 * VGG16, layer for layer as Keras 2.x builds it (tf_keras/applications/vgg16.py), so that Keras'
 * weight files load into it and it computes the same numbers.
 *
 * Reference:
 * - [Very Deep Convolutional Networks for Large-Scale Image Recognition](https://arxiv.org/abs/1409.1556) (ICLR 2015)
 *
 * Input: Keras' VGG16 expects "caffe" pre-processing: images 0..255, RGB turned to BGR and the
 * ImageNet mean pixel subtracted, no scaling ({@link preprocessInput}). The lesson feeds x / 255
 * without it.
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
  UNNAMED_POOLING,
} from './build-steps';
import { preprocessImagenetInput } from './imagenet-utils';

const WEIGHTS_FOLDER = 'https://storage.googleapis.com/tensorflow/keras-applications/vgg16/';

/** Keras' vgg16.py file names and md5 (`file_hash`). */
export const WEIGHT_FILES: ApplicationWeightFiles = {
  model: 'VGG16',
  top: { url: `${WEIGHTS_FOLDER}vgg16_weights_tf_dim_ordering_tf_kernels.h5`, md5: '64373286793e3c8b2b4e3219cbf3544b' },
  notop: { url: `${WEIGHTS_FOLDER}vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`, md5: '6d6bbae143d832006294945121d1f1fc' },
};

/** Keras' default initialiser for Conv2D and Dense (tfjs defaults to glorotNormal). */
const KERNEL_INITIALIZER = 'glorotUniform';

/** Filters of the 3x3 convolutions of each of the five blocks (each block ends with 2x2 max pooling). */
const BLOCKS: readonly (readonly number[])[] = [
  [64, 64],
  [128, 128],
  [256, 256, 256],
  [512, 512, 512],
  [512, 512, 512],
];

/** VGG16's arguments: Keras' application arguments (224x224 by default, at least 32x32). */
export type VGG16Args = ApplicationArgs;

/**
 * Instantiates the VGG16 model (14,714,688 parameters without the top, 138,357,544 with the three
 * fully-connected layers at 224x224), optionally with Keras' ImageNet weights. Expects
 * "caffe"-preprocessed input (see {@link preprocessInput}).
 */
export async function VGG16(options: VGG16Args = {}): Promise<tf.LayersModel> {
  await ready();
  const args = resolveApplicationArgs(options, 224, 32);
  const imgInput = applicationInput(args);

  let x = imgInput;
  BLOCKS.forEach((filters, b) => {
    filters.forEach((f, i) => {
      x = tf.layers
        .conv2d({
          filters: f,
          kernelSize: 3,
          activation: 'relu',
          padding: 'same',
          kernelInitializer: KERNEL_INITIALIZER,
          name: `block${b + 1}_conv${i + 1}`,
        })
        .apply(x) as tf.SymbolicTensor;
    });
    x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `block${b + 1}_pool` }).apply(x) as tf.SymbolicTensor;
  });

  if (args.includeTop) {
    // Flatten in channels-last order, as Keras does (the official fc1 kernel rows are in that order).
    x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers
      .dense({ units: 4096, activation: 'relu', kernelInitializer: KERNEL_INITIALIZER, name: 'fc1' })
      .apply(x) as tf.SymbolicTensor;
    x = tf.layers
      .dense({ units: 4096, activation: 'relu', kernelInitializer: KERNEL_INITIALIZER, name: 'fc2' })
      .apply(x) as tf.SymbolicTensor;
    x = predictions(x, args);
  } else if (args.pooling) {
    // Keras leaves these unnamed: the first of their class in a session gets these names.
    x = globalPooling(x, args.pooling, UNNAMED_POOLING);
  }

  const model = applicationModel(args, imgInput, x, 'vgg16');
  await loadApplicationWeights(model, args, WEIGHT_FILES);
  return model;
}

/**
 * Keras' `vgg16.preprocess_input`: "caffe" mode. From RGB images 0..255 (channels last) to BGR
 * with the ImageNet mean pixel [103.939, 116.779, 123.68] subtracted, no scaling. Returns a new
 * float32 tensor.
 */
export function preprocessInput(x: tf.Tensor | tf.TensorLike): tf.Tensor {
  return preprocessImagenetInput(x, 'caffe');
}
