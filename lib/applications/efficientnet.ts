/**
 * EfficientNetB0, layer for layer as Keras 2.x builds it (tf_keras/applications/efficientnet.py),
 * so that Keras' weight files load into it and it computes the same numbers.
 *
 * Reference:
 * - [EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks](https://arxiv.org/abs/1905.11946) (ICML 2019)
 *
 * Input: pixels 0..255, not pre-processed. The model does its own pre-processing: Rescaling(1/255)
 * then Normalization with the ImageNet mean and variance from the weights file, so
 * {@link preprocessInput} is the identity, as in Keras. (The lesson's x / 255 input is therefore
 * 255 times too small for this model.)
 *
 * Keras' weight files store the ImageNet standard deviations [0.229, 0.224, 0.225] where the
 * Normalization layer expects variances, so it divides by their square roots; with
 * `weights: 'imagenet'` Keras adds a Rescaling by 1/sqrt(std) after it (tensorflow issue 49930)
 * and the product divides by the standard deviations. Keras adds it only for 'imagenet', not for
 * a weights file given by path, and so does this port.
 *
 * Differences from torchvision's efficientnet_b0 (same architecture and parameters otherwise): no
 * pre-processing inside the model; BatchNormalization epsilon 1e-3 (torch: 1e-5); the stride-2
 * convolutions pad asymmetrically (ZeroPadding2D(correct_pad), TF's 'same') where torch pads
 * symmetrically; stochastic depth is a Dropout with noise shape [batch, 1, 1, 1] ("drop connect").
 */
import * as tf from '@tensorflow/tfjs';
import { ready } from '../backends/selection';
import { ValueError } from '../core/errors';
import { Normalization } from '../layers/normalization';
import { Rescaling } from '../layers/rescaling';
import {
  ApplicationArgs,
  applicationInput,
  applicationModel,
  globalPooling,
  loadApplicationWeights,
  predictions,
  resolveApplicationArgs,
  ResolvedApplicationArgs,
} from './build-steps';
import { correctPad, preprocessImagenetInput } from './imagenet-utils';

const BASE_WEIGHTS_PATH = 'https://storage.googleapis.com/keras-applications/';

/** Keras' efficientnet.py WEIGHTS_HASHES['b0']: md5 of the top and no-top files. */
const EFFICIENTNETB0_WEIGHTS = {
  model: 'EfficientNetB0',
  top: { url: `${BASE_WEIGHTS_PATH}efficientnetb0.h5`, md5: '902e53a9f72be733fc0bcb005b3ebbac' },
  notop: { url: `${BASE_WEIGHTS_PATH}efficientnetb0_notop.h5`, md5: '50bc09e76180e00e4465e1a485ddc09d' },
};

/** The standard deviations Keras' 'imagenet' Rescaling compensates for (see the file comment). */
const IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225];

const BN_AXIS = 3;

/**
 * Keras' CONV_KERNEL_INITIALIZER, VarianceScaling(2.0, 'fan_out', 'truncated_normal'). tfjs 4.22
 * draws 'truncatedNormal' from a uniform distribution, and its 'normal' is a truncated normal
 * without the 0.8796 correction Keras applies to the standard deviation: scaling `scale` by
 * 1 / 0.8796^2 gives Keras' distribution. (Only random initialisation depends on it.)
 */
const CONV_KERNEL_INITIALIZER = () =>
  tf.initializers.varianceScaling({ scale: 2.0 / 0.87962566103423978 ** 2, mode: 'fanOut', distribution: 'normal' });
/** Keras' DENSE_KERNEL_INITIALIZER, VarianceScaling(1/3, 'fan_out', 'uniform'). */
const DENSE_KERNEL_INITIALIZER = () => tf.initializers.varianceScaling({ scale: 1.0 / 3.0, mode: 'fanOut', distribution: 'uniform' });

/** One stage of blocks, Keras' DEFAULT_BLOCKS_ARGS entries. */
interface BlockArgs {
  kernelSize: number;
  repeats: number;
  filtersIn: number;
  filtersOut: number;
  expandRatio: number;
  idSkip: boolean;
  strides: number;
  seRatio: number;
}

const DEFAULT_BLOCKS_ARGS: readonly BlockArgs[] = [
  { kernelSize: 3, repeats: 1, filtersIn: 32, filtersOut: 16, expandRatio: 1, idSkip: true, strides: 1, seRatio: 0.25 },
  { kernelSize: 3, repeats: 2, filtersIn: 16, filtersOut: 24, expandRatio: 6, idSkip: true, strides: 2, seRatio: 0.25 },
  { kernelSize: 5, repeats: 2, filtersIn: 24, filtersOut: 40, expandRatio: 6, idSkip: true, strides: 2, seRatio: 0.25 },
  { kernelSize: 3, repeats: 3, filtersIn: 40, filtersOut: 80, expandRatio: 6, idSkip: true, strides: 2, seRatio: 0.25 },
  { kernelSize: 5, repeats: 3, filtersIn: 80, filtersOut: 112, expandRatio: 6, idSkip: true, strides: 1, seRatio: 0.25 },
  { kernelSize: 5, repeats: 4, filtersIn: 112, filtersOut: 192, expandRatio: 6, idSkip: true, strides: 2, seRatio: 0.25 },
  { kernelSize: 3, repeats: 1, filtersIn: 192, filtersOut: 320, expandRatio: 6, idSkip: true, strides: 1, seRatio: 0.25 },
];

/** The scaling of one EfficientNet (Keras' `EfficientNet(width_coefficient, depth_coefficient, ...)`). */
export interface EfficientNetConfig {
  widthCoefficient: number;
  depthCoefficient: number;
  defaultSize: number;
  /** Dropout before the classifier. */
  dropoutRate: number;
  /** Largest drop-connect rate, reached by the last block. Defaults to 0.2. */
  dropConnectRate?: number;
  /** Channel counts are multiples of this. Defaults to 8. */
  depthDivisor?: number;
  /** Keras' model name, e.g. 'efficientnetb0'. */
  modelName: string;
}

export const EFFICIENTNET_B0: EfficientNetConfig = {
  widthCoefficient: 1.0,
  depthCoefficient: 1.0,
  defaultSize: 224,
  dropoutRate: 0.2,
  modelName: 'efficientnetb0',
};

/** EfficientNet's arguments: Keras' application arguments (224x224 by default for B0, at least 32x32). */
export type EfficientNetArgs = ApplicationArgs;

function conv(
  x: tf.SymbolicTensor,
  filters: number,
  kernelSize: number,
  name: string,
  options: { strides?: number; padding?: 'same' | 'valid'; activation?: 'swish' | 'sigmoid'; useBias?: boolean } = {},
): tf.SymbolicTensor {
  return tf.layers
    .conv2d({
      filters,
      kernelSize,
      strides: options.strides ?? 1,
      padding: options.padding ?? 'same',
      useBias: options.useBias ?? false,
      activation: options.activation ?? 'linear',
      kernelInitializer: CONV_KERNEL_INITIALIZER(),
      name,
    })
    .apply(x) as tf.SymbolicTensor;
}

function bn(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
  // Keras' defaults (epsilon 1e-3, momentum 0.99) are tfjs' too.
  return tf.layers.batchNormalization({ axis: BN_AXIS, name }).apply(x) as tf.SymbolicTensor;
}

function swish(x: tf.SymbolicTensor, name: string): tf.SymbolicTensor {
  return tf.layers.activation({ activation: 'swish', name }).apply(x) as tf.SymbolicTensor;
}

/**
 * Keras' `block`: an inverted residual block with squeeze-and-excitation: 1x1 expansion ->
 * depthwise conv -> SE (global pool, 1x1 reduce with swish, 1x1 expand with sigmoid, multiply)
 * -> 1x1 projection, plus the input (after drop-connect) when the shapes allow.
 */
function block(inputs: tf.SymbolicTensor, dropRate: number, name: string, b: Omit<BlockArgs, 'repeats'>): tf.SymbolicTensor {
  const filters = b.filtersIn * b.expandRatio;
  let x = inputs;
  if (b.expandRatio !== 1) {
    x = conv(x, filters, 1, `${name}expand_conv`);
    x = bn(x, `${name}expand_bn`);
    x = swish(x, `${name}expand_activation`);
  }
  let padding: 'same' | 'valid' = 'same';
  if (b.strides === 2) {
    x = tf.layers.zeroPadding2d({ padding: correctPad(x, b.kernelSize), name: `${name}dwconv_pad` }).apply(x) as tf.SymbolicTensor;
    padding = 'valid';
  }
  x = tf.layers
    .depthwiseConv2d({
      kernelSize: b.kernelSize,
      strides: b.strides,
      padding,
      useBias: false,
      depthwiseInitializer: CONV_KERNEL_INITIALIZER(),
      name: `${name}dwconv`,
    })
    .apply(x) as tf.SymbolicTensor;
  x = bn(x, `${name}bn`);
  x = swish(x, `${name}activation`);

  if (b.seRatio > 0 && b.seRatio <= 1) {
    const filtersSe = Math.max(1, Math.trunc(b.filtersIn * b.seRatio));
    let se = tf.layers.globalAveragePooling2d({ name: `${name}se_squeeze` }).apply(x) as tf.SymbolicTensor;
    se = tf.layers.reshape({ targetShape: [1, 1, filters], name: `${name}se_reshape` }).apply(se) as tf.SymbolicTensor;
    se = conv(se, filtersSe, 1, `${name}se_reduce`, { activation: 'swish', useBias: true });
    se = conv(se, filters, 1, `${name}se_expand`, { activation: 'sigmoid', useBias: true });
    x = tf.layers.multiply({ name: `${name}se_excite` }).apply([x, se]) as tf.SymbolicTensor;
  }

  x = conv(x, b.filtersOut, 1, `${name}project_conv`);
  x = bn(x, `${name}project_bn`);
  if (b.idSkip && b.strides === 1 && b.filtersIn === b.filtersOut) {
    if (dropRate > 0) {
      // Drop connect: drops whole samples of the residual branch (noise shape [batch, 1, 1, 1]) in training.
      x = tf.layers
        .dropout({ rate: dropRate, noiseShape: [null, 1, 1, 1] as unknown as number[], name: `${name}drop` })
        .apply(x) as tf.SymbolicTensor;
    }
    x = tf.layers.add({ name: `${name}add` }).apply([x, inputs]) as tf.SymbolicTensor;
  }
  return x;
}

/**
 * The EfficientNet graph for already resolved arguments, without loading weights: the stem
 * (Rescaling, Normalization, and the 'imagenet' Rescaling when `args.weights` is 'imagenet'),
 * the blocks and the top. {@link efficientNet} resolves the arguments and loads the weights.
 */
export function buildEfficientNet(config: EfficientNetConfig, args: ResolvedApplicationArgs): tf.LayersModel {
  const { widthCoefficient, depthCoefficient } = config;
  const dropConnectRate = config.dropConnectRate ?? 0.2;
  const divisor = config.depthDivisor ?? 8;
  const roundFilters = (filters: number): number => {
    const scaled = filters * widthCoefficient;
    let newFilters = Math.max(divisor, Math.floor(Math.trunc(scaled + divisor / 2) / divisor) * divisor);
    // Rounding down must not lose more than 10%.
    if (newFilters < 0.9 * scaled) newFilters += divisor;
    return newFilters;
  };
  const roundRepeats = (repeats: number): number => Math.ceil(depthCoefficient * repeats);

  const imgInput = applicationInput(args);
  // Keras leaves the stem's pre-processing layers unnamed: these are the names it gives them in a fresh session.
  let x = new Rescaling({ scale: 1.0 / 255.0, name: 'rescaling' }).apply(imgInput) as tf.SymbolicTensor;
  x = new Normalization({ axis: BN_AXIS, name: 'normalization' }).apply(x) as tf.SymbolicTensor;
  if (args.weights === 'imagenet') {
    x = new Rescaling({ scale: IMAGENET_STDDEV_RGB.map((std) => 1.0 / Math.sqrt(std)), name: 'rescaling_1' }).apply(x) as tf.SymbolicTensor;
  }
  x = tf.layers.zeroPadding2d({ padding: correctPad(x, 3), name: 'stem_conv_pad' }).apply(x) as tf.SymbolicTensor;
  x = conv(x, roundFilters(32), 3, 'stem_conv', { strides: 2, padding: 'valid' });
  x = bn(x, 'stem_bn');
  x = swish(x, 'stem_activation');

  const blocks = DEFAULT_BLOCKS_ARGS.reduce((n, a) => n + roundRepeats(a.repeats), 0);
  let b = 0;
  DEFAULT_BLOCKS_ARGS.forEach((stage, i) => {
    const filtersOut = roundFilters(stage.filtersOut);
    for (let j = 0; j < roundRepeats(stage.repeats); j++) {
      // The first block of a stage changes the stride and the width; the others keep them.
      const first = j === 0;
      x = block(x, (dropConnectRate * b) / blocks, `block${i + 1}${String.fromCharCode(j + 97)}_`, {
        ...stage,
        filtersIn: first ? roundFilters(stage.filtersIn) : filtersOut,
        filtersOut,
        strides: first ? stage.strides : 1,
      });
      b++;
    }
  });

  x = conv(x, roundFilters(1280), 1, 'top_conv');
  x = bn(x, 'top_bn');
  x = swish(x, 'top_activation');
  if (args.includeTop) {
    x = globalPooling(x, 'avg');
    if (config.dropoutRate > 0) x = tf.layers.dropout({ rate: config.dropoutRate, name: 'top_dropout' }).apply(x) as tf.SymbolicTensor;
    x = predictions(x, args, DENSE_KERNEL_INITIALIZER());
  } else if (args.pooling) {
    x = globalPooling(x, args.pooling);
  }
  return applicationModel(args, imgInput, x, config.modelName);
}

/**
 * Instantiates an EfficientNet (Keras' `EfficientNet(...)`), optionally loaded with weights
 * pre-trained on ImageNet (EfficientNetB0's).
 */
export async function efficientNet(config: EfficientNetConfig, options: EfficientNetArgs = {}): Promise<tf.LayersModel> {
  await ready();
  const args = resolveApplicationArgs(options, config.defaultSize, 32);
  const files = config.modelName === EFFICIENTNET_B0.modelName ? EFFICIENTNETB0_WEIGHTS : undefined;
  if (args.weights === 'imagenet' && !files) {
    throw new ValueError(
      `tslab-dl knows the ImageNet weight files of EfficientNetB0 only, not of '${config.modelName}'; pass weights: null or a file path.`,
    );
  }
  const model = buildEfficientNet(config, args);
  await loadApplicationWeights(model, args, files ?? EFFICIENTNETB0_WEIGHTS);
  return model;
}

/**
 * Instantiates the EfficientNetB0 architecture: 5,330,571 parameters with the top, 4,049,571
 * without (42,016 of them BatchNormalization moving statistics, 7 the Normalization's mean,
 * variance and count).
 *
 * Input: pixels 0..255 (the model rescales and normalises them itself).
 */
export function EfficientNetB0(args: EfficientNetArgs = {}): Promise<tf.LayersModel> {
  return efficientNet(EFFICIENTNET_B0, args);
}

/**
 * Keras' `efficientnet.preprocess_input`: the identity (a placeholder kept for compatibility;
 * the model pre-processes 0..255 pixels itself). Returns `x` as a float32 tensor.
 */
export function preprocessInput(x: tf.Tensor | tf.TensorLike): tf.Tensor {
  return preprocessImagenetInput(x, 'none');
}
