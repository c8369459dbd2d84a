/**
 * ResNet50 (v1), layer for layer as Keras 2.x builds it (tf_keras/applications/resnet.py,
 * `ResNet(stack_fn, preact=False, use_bias=True)`), so that Keras' weight files load into it and
 * it computes the same numbers.
 *
 * Reference:
 * - [Deep Residual Learning for Image Recognition](https://arxiv.org/abs/1512.03385) (CVPR 2015)
 *
 * Input: Keras' ResNet50 expects "caffe" pre-processing: images 0..255, RGB turned to BGR and the
 * ImageNet mean pixel subtracted, no scaling ({@link preprocessInput}). The lesson feeds x / 255
 * without it.
 *
 * Keras' v1 puts the stride of a down-sampling block on its first 1x1 convolution (and on the
 * 1x1 shortcut); torchvision's resnet50 (v1.5) puts it on the 3x3 convolution instead.
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

const BASE_WEIGHTS_PATH = 'https://storage.googleapis.com/tensorflow/keras-applications/resnet/';

/** Keras' resnet.py WEIGHTS_HASHES['resnet50']: md5 of the top and no-top files. */
export const WEIGHT_FILES: ApplicationWeightFiles = {
  model: 'ResNet50',
  top: { url: `${BASE_WEIGHTS_PATH}resnet50_weights_tf_dim_ordering_tf_kernels.h5`, md5: '2cb95161c43110f7111970584f804107' },
  notop: { url: `${BASE_WEIGHTS_PATH}resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5`, md5: '4d473c1dd8becc155b73f8504c6f6626' },
};

/** Every BatchNormalization in Keras' ResNet uses this epsilon (tfjs' default is 1e-3). */
const BN_EPSILON = 1.001e-5;
const BN_AXIS = 3;
/** Keras' default initialiser for Conv2D and Dense (tfjs defaults to glorotNormal). */
const KERNEL_INITIALIZER = 'glorotUniform';

/** ResNet50's arguments: Keras' application arguments (224x224 by default, at least 32x32). */
export type ResNetArgs = ApplicationArgs;

function conv(
  x: tf.SymbolicTensor,
  filters: number,
  kernelSize: number,
  name: string,
  options: { strides?: number; padding?: 'same' | 'valid' } = {},
): tf.SymbolicTensor {
  return tf.layers
    .conv2d({
      filters,
      kernelSize,
      strides: options.strides ?? 1,
      padding: options.padding ?? 'valid',
      useBias: true,
      kernelInitializer: KERNEL_INITIALIZER,
      name,
    })
    .apply(x) as tf.SymbolicTensor;
}

function bn(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
  return tf.layers.batchNormalization({ axis: BN_AXIS, epsilon: BN_EPSILON, momentum: 0.99, name }).apply(x) as tf.SymbolicTensor;
}

function relu(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
  return tf.layers.activation({ activation: 'relu', name }).apply(x) as tf.SymbolicTensor;
}

/**
 * A residual block (Keras' block1): 1x1 (with the stride) -> 3x3 -> 1x1 (4 x filters), added to
 * the input or to a 1x1 projection of it.
 */
function block1(x: tf.SymbolicTensor, filters: number, name: string, stride = 1, convShortcut = true): tf.SymbolicTensor {
  let shortcut = x;
  if (convShortcut) {
    shortcut = conv(x, 4 * filters, 1, `${name}_0_conv`, { strides: stride });
    shortcut = bn(shortcut, `${name}_0_bn`);
  }
  x = conv(x, filters, 1, `${name}_1_conv`, { strides: stride });
  x = relu(bn(x, `${name}_1_bn`), `${name}_1_relu`);
  x = conv(x, filters, 3, `${name}_2_conv`, { padding: 'same' });
  x = relu(bn(x, `${name}_2_bn`), `${name}_2_relu`);
  x = conv(x, 4 * filters, 1, `${name}_3_conv`);
  x = bn(x, `${name}_3_bn`);
  x = tf.layers.add({ name: `${name}_add` }).apply([shortcut, x]) as tf.SymbolicTensor;
  return relu(x, `${name}_out`);
}

/** A stack of residual blocks (Keras' stack1): the first projects (and strides), the others add their input. */
function stack1(x: tf.SymbolicTensor, filters: number, blocks: number, name: string, stride1 = 2): tf.SymbolicTensor {
  x = block1(x, filters, `${name}_block1`, stride1);
  for (let i = 2; i <= blocks; i++) x = block1(x, filters, `${name}_block${i}`, 1, false);
  return x;
}

/**
 * Instantiates the ResNet50 architecture (23,587,712 parameters without the top, 25,636,712 with;
 * 53,120 of them BatchNormalization moving statistics), optionally with Keras' ImageNet weights.
 * Expects "caffe"-preprocessed input (see {@link preprocessInput}).
 */
export async function ResNet50(options: ResNetArgs = {}): Promise<tf.LayersModel> {
  await ready();
  const args = resolveApplicationArgs(options, 224, 32);
  const imgInput = applicationInput(args);

  let x = tf.layers
    .zeroPadding2d({
      padding: [
        [3, 3],
        [3, 3],
      ],
      name: 'conv1_pad',
    })
    .apply(imgInput) as tf.SymbolicTensor;
  x = conv(x, 64, 7, 'conv1_conv', { strides: 2 });
  x = relu(bn(x, 'conv1_bn'), 'conv1_relu');
  x = tf.layers
    .zeroPadding2d({
      padding: [
        [1, 1],
        [1, 1],
      ],
      name: 'pool1_pad',
    })
    .apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'pool1_pool' }).apply(x) as tf.SymbolicTensor;

  x = stack1(x, 64, 3, 'conv2', 1);
  x = stack1(x, 128, 4, 'conv3');
  x = stack1(x, 256, 6, 'conv4');
  x = stack1(x, 512, 3, 'conv5');

  if (args.includeTop) x = predictions(globalPooling(x, 'avg'), args);
  else if (args.pooling) x = globalPooling(x, args.pooling);

  const model = applicationModel(args, imgInput, x, 'resnet50');
  await loadApplicationWeights(model, args, WEIGHT_FILES);
  return model;
}

/**
 * Keras' `resnet50.preprocess_input`: "caffe" mode. From RGB images 0..255 (channels last) to
 * BGR with the ImageNet mean pixel [103.939, 116.779, 123.68] subtracted, no scaling. Returns a
 * new float32 tensor.
 */
export function preprocessInput(x: tf.Tensor | tf.TensorLike): tf.Tensor {
  return preprocessImagenetInput(x, 'caffe');
}
