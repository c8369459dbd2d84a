/**
 * MobileNetV2, layer for layer as Keras 2.x builds it (tf_keras/applications/mobilenet_v2.py),
 * for every width multiplier `alpha`, so that Keras' weight files load into it and it computes
 * the same numbers.
 *
 * Reference:
 * - [MobileNetV2: Inverted Residuals and Linear Bottlenecks](https://arxiv.org/abs/1801.04381) (CVPR 2018)
 *
 * Input: Keras' MobileNetV2 expects "tf" pre-processing: images 0..255 scaled to -1..1
 * ({@link preprocessInput}: x / 127.5 - 1). The lesson feeds x / 255 (0..1) without it.
 *
 * ImageNet weights exist for alpha 0.35, 0.5, 0.75, 1.0, 1.3 and 1.4, each trained at 96, 128,
 * 160, 192 and 224 pixels: like Keras, the file is picked by alpha and the input rows (224 when
 * the input is not square or not one of those sizes, with a warning). Keras publishes no md5 for
 * these files, so none is checked.
 *
 * Differences from torchvision's mobilenet_v2 (same architecture otherwise): BatchNormalization
 * epsilon 1e-3 (torch: 1e-5) and momentum 0.999; the stride-2 convolutions pad one row and column
 * after the image (TF's 'same' padding, and ZeroPadding2D(correct_pad) before the depthwise ones)
 * where torch pads one on each side, for even input sizes.
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
  UNNAMED_POOLING,
} from './build-steps';
import { correctPad, preprocessImagenetInput } from './imagenet-utils';

const BASE_WEIGHT_PATH = 'https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/';

/** The widths with ImageNet weights. */
export const MOBILENET_V2_ALPHAS: readonly number[] = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4];
/** The input sizes with ImageNet weights (square images). */
export const MOBILENET_V2_ROWS: readonly number[] = [96, 128, 160, 192, 224];

/** Keras' BatchNormalization settings in MobileNetV2 (tfjs' default momentum is 0.99). */
const BN_EPSILON = 1e-3;
const BN_MOMENTUM = 0.999;
/** Keras' default initialiser for Conv2D, DepthwiseConv2D and Dense (tfjs defaults to glorotNormal). */
const KERNEL_INITIALIZER = 'glorotUniform';

/** {@link MobileNetV2}'s arguments: those of every Keras application, and the width multiplier `alpha`. */
export interface MobileNetV2Args extends ApplicationArgs {
  /**
   * Width multiplier: < 1 narrows every layer, > 1 widens it (the last convolution only widens).
   * ImageNet weights exist for 0.35, 0.5, 0.75, 1.0, 1.3 and 1.4. Defaults to 1.0.
   */
  alpha?: number;
}

/** Keras' _make_divisible: `v` rounded to the nearest multiple of `divisor`, not below 90% of v. */
export function makeDivisible(v: number, divisor: number, minValue = divisor): number {
  let newV = Math.max(minValue, Math.floor(Math.trunc(v + divisor / 2) / divisor) * divisor);
  if (newV < 0.9 * v) newV += divisor;
  return newV;
}

/** Python's str(float(x)) for the alphas of the weight file names: 1 -> '1.0', 0.5 -> '0.5'. */
function pythonFloat(x: number): string {
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

function bn(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
  return tf.layers.batchNormalization({ axis: -1, epsilon: BN_EPSILON, momentum: BN_MOMENTUM, name }).apply(x) as tf.SymbolicTensor;
}

function relu6(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
  return tf.layers.reLU({ maxValue: 6, name }).apply(x) as tf.SymbolicTensor;
}

function pointwise(x: tf.SymbolicTensor, filters: number, name: string): tf.SymbolicTensor {
  return tf.layers
    .conv2d({
      filters,
      kernelSize: 1,
      padding: 'same',
      useBias: false,
      activation: 'linear',
      kernelInitializer: KERNEL_INITIALIZER,
      name,
    })
    .apply(x) as tf.SymbolicTensor;
}

/**
 * Keras' _inverted_res_block: 1x1 expansion (not in block 0) -> 3x3 depthwise (stride 1 or 2)
 * -> linear 1x1 projection, added to the input when the shapes allow.
 */
function invertedResBlock(
  inputs: tf.SymbolicTensor,
  expansion: number,
  stride: number,
  alpha: number,
  filters: number,
  blockId: number,
): tf.SymbolicTensor {
  const inChannels = inputs.shape[inputs.shape.length - 1] as number;
  const pointwiseFilters = makeDivisible(Math.trunc(filters * alpha), 8);
  let x = inputs;
  let prefix = `block_${blockId}_`;
  if (blockId) {
    x = pointwise(x, expansion * inChannels, `${prefix}expand`);
    x = bn(x, `${prefix}expand_BN`);
    x = relu6(x, `${prefix}expand_relu`);
  } else {
    prefix = 'expanded_conv_';
  }
  if (stride === 2) {
    x = tf.layers.zeroPadding2d({ padding: correctPad(x, 3), name: `${prefix}pad` }).apply(x) as tf.SymbolicTensor;
  }
  x = tf.layers
    .depthwiseConv2d({
      kernelSize: 3,
      strides: stride,
      activation: 'linear',
      useBias: false,
      padding: stride === 1 ? 'same' : 'valid',
      depthwiseInitializer: KERNEL_INITIALIZER,
      name: `${prefix}depthwise`,
    })
    .apply(x) as tf.SymbolicTensor;
  x = bn(x, `${prefix}depthwise_BN`);
  x = relu6(x, `${prefix}depthwise_relu`);
  x = pointwise(x, pointwiseFilters, `${prefix}project`);
  x = bn(x, `${prefix}project_BN`);
  if (inChannels === pointwiseFilters && stride === 1) {
    return tf.layers.add({ name: `${prefix}add` }).apply([inputs, x]) as tf.SymbolicTensor;
  }
  return x;
}

/** (filters, stride, expansion) of blocks 0..16, as Keras lists them. */
const BLOCKS: readonly [number, number, number][] = [
  [16, 1, 1],
  [24, 2, 6],
  [24, 1, 6],
  [32, 2, 6],
  [32, 1, 6],
  [32, 1, 6],
  [64, 2, 6],
  [64, 1, 6],
  [64, 1, 6],
  [64, 1, 6],
  [96, 1, 6],
  [96, 1, 6],
  [96, 1, 6],
  [160, 2, 6],
  [160, 1, 6],
  [160, 1, 6],
  [320, 1, 6],
];

/** Keras' choice of default size: the input's rows when square and one of the weight sizes, else 224. */
function defaultSize(args: MobileNetV2Args): number {
  let rows: number | null | undefined;
  let cols: number | null | undefined;
  if (args.inputShape) {
    [rows, cols] = args.inputShape;
  } else if (args.inputTensor instanceof tf.SymbolicTensor) {
    [, rows, cols] = args.inputTensor.shape;
  }
  return rows != null && rows === cols && MOBILENET_V2_ROWS.includes(rows) ? rows : 224;
}

/**
 * Instantiates the MobileNetV2 architecture (Keras' `MobileNetV2(input_shape, alpha, ...)`),
 * optionally loaded with weights pre-trained on ImageNet. With alpha 1.0: 3,538,984 parameters
 * with the top, 2,257,984 without (34,112 of them BatchNormalization moving statistics).
 *
 * Input: images 0..255 through {@link preprocessInput} (to -1..1).
 */
export async function MobileNetV2(options: MobileNetV2Args = {}): Promise<tf.LayersModel> {
  await ready();
  const alpha = options.alpha ?? 1.0;
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0) {
    throw new ValueError(
      `\`alpha\` should be a positive number (the width multiplier, e.g. 1.0). Received: alpha=${JSON.stringify(options.alpha)}.`,
    );
  }
  const args = resolveApplicationArgs(options, defaultSize(options), 32);
  let rows = args.inputShape[0];
  const cols = args.inputShape[1];
  if (args.weights === 'imagenet') {
    if (!MOBILENET_V2_ALPHAS.includes(alpha)) {
      throw new ValueError(
        'If imagenet weights are being loaded, alpha must be one of `0.35`, `0.50`, `0.75`, `1.0`, `1.3` or `1.4` only; ' +
          `Received \`alpha=${alpha}\`. Pass weights: null for other widths.`,
      );
    }
    if (rows !== cols || rows === null || !MOBILENET_V2_ROWS.includes(rows)) {
      rows = 224;
      process.stderr.write(
        'Warning: `inputShape` is undefined or non-square, or `rows` is not in [96, 128, 160, 192, 224]. ' +
          'Weights for input shape (224, 224) will be loaded as the default.\n',
      );
    }
  }

  const imgInput = applicationInput(args);
  const firstBlockFilters = makeDivisible(32 * alpha, 8);
  let x = tf.layers
    .conv2d({
      filters: firstBlockFilters,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      useBias: false,
      kernelInitializer: KERNEL_INITIALIZER,
      name: 'Conv1',
    })
    .apply(imgInput) as tf.SymbolicTensor;
  x = bn(x, 'bn_Conv1');
  x = relu6(x, 'Conv1_relu');
  BLOCKS.forEach(([filters, stride, expansion], blockId) => {
    x = invertedResBlock(x, expansion, stride, alpha, filters, blockId);
  });
  // No alpha on the last convolution below 1 (as in the paper); above 1 it widens too.
  const lastBlockFilters = alpha > 1.0 ? makeDivisible(1280 * alpha, 8) : 1280;
  x = tf.layers
    .conv2d({ filters: lastBlockFilters, kernelSize: 1, useBias: false, kernelInitializer: KERNEL_INITIALIZER, name: 'Conv_1' })
    .apply(x) as tf.SymbolicTensor;
  x = bn(x, 'Conv_1_bn');
  x = relu6(x, 'out_relu');

  // Keras leaves the pooling layers unnamed: these are the names it gives them in a fresh session.
  if (args.includeTop) x = predictions(globalPooling(x, 'avg', UNNAMED_POOLING), args);
  else if (args.pooling) x = globalPooling(x, args.pooling, UNNAMED_POOLING);

  const model = applicationModel(args, imgInput, x, `mobilenetv2_${alpha.toFixed(2)}_${rows === null ? 'None' : rows}`);
  const file = (suffix: string) => ({
    url: `${BASE_WEIGHT_PATH}mobilenet_v2_weights_tf_dim_ordering_tf_kernels_${pythonFloat(alpha)}_${rows}${suffix}.h5`,
  });
  await loadApplicationWeights(model, args, {
    model: `MobileNetV2 (alpha ${pythonFloat(alpha)}, ${rows}x${rows})`,
    top: file(''),
    notop: file('_no_top'),
  });
  return model;
}

/**
 * Keras' `mobilenet_v2.preprocess_input`: "tf" mode, x / 127.5 - 1, from 0..255 to -1..1 (any
 * shape; channels last). Returns a new tensor.
 */
export function preprocessInput(x: tf.Tensor | tf.TensorLike): tf.Tensor {
  return preprocessImagenetInput(x, 'tf');
}
