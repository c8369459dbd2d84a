/**
 * `keras.layers`: Keras' layer constructors, returning tfjs (or tslab-dl) layers built with
 * Keras 3's defaults, so that a line of the Python lesson translates one for one:
 *
 *     out = keras.layers.Dense(50, activation='relu')(out)
 *     out = keras.layers.Dense(50, { activation: 'relu' }).apply(out)
 *
 * Each constructor takes Keras' positional form and a single arguments object, Keras' argument
 * names in camelCase; an argument given explicitly always wins over the default. The defaults
 * are written out here (with the Keras source file each comes from, keras-team/keras
 * keras/src/layers/...) rather than left to tfjs, whose defaults differ in places: glorotNormal
 * kernels, Softmax over axis 1, a Flatten that rejects rank 2, a Dropout that silently clamps
 * its rate. Wrong arguments raise a ValueError naming the layer, the argument and the value.
 */
import * as tf from '@tensorflow/tfjs';
import { flatten, type FlattenArgs } from '../layers/flatten';
import { rescaling, type ChannelValues, type RescalingArgs } from '../layers/rescaling';
import {
  RandomContrast as RandomContrastLayer,
  RandomFlip as RandomFlipLayer,
  RandomRotation as RandomRotationLayer,
  RandomTranslation as RandomTranslationLayer,
  RandomZoom as RandomZoomLayer,
  type Factor,
  type FlipMode,
  type RandomContrastArgs,
  type RandomFlipArgs,
  type RandomRotationArgs,
  type RandomTranslationArgs,
  type RandomZoomArgs,
} from '../layers/augmentation';
import { checkInRange, checkPositiveInteger, checkPositiveIntegers, invalid, isPositional, positional, withDefaults } from './arguments';
import { Input } from './input';

type TfDenseArgs = Parameters<typeof tf.layers.dense>[0];

/** An activation's name, e.g. 'relu', 'softmax', 'sigmoid' (tfjs' names; 'linear' is none). */
export type ActivationName = NonNullable<TfDenseArgs['activation']>;
/** An initializer: a name such as 'glorotUniform', 'zeros', 'heNormal', or a tf.initializers object. */
export type InitializerArg = NonNullable<TfDenseArgs['kernelInitializer']>;
/** A regularizer: 'l1l2' or a tf.regularizers object such as tf.regularizers.l2({ l2: 1e-4 }). */
export type RegularizerArg = NonNullable<TfDenseArgs['kernelRegularizer']>;
/** A constraint: a name such as 'nonNeg' or a tf.constraints object. */
export type ConstraintArg = NonNullable<TfDenseArgs['kernelConstraint']>;
/** Keras' data_format: 'channelsLast' is (batch, height, width, channels). */
export type DataFormat = 'channelsFirst' | 'channelsLast';
/** Keras' padding for convolutions and pooling. */
export type Padding = 'valid' | 'same';

/** Arguments every layer takes (Keras' Layer `**kwargs`). */
export interface LayerOptions {
  /** The layer's name, unique within a model. Defaults to a unique name made from the class name. */
  name?: string;
  /** Whether training updates the layer's weights. Defaults to true. */
  trainable?: boolean;
  /** For the first layer of a Sequential model: the input shape without the batch axis, e.g. [64, 64, 3]. Defaults to none. */
  inputShape?: tf.Shape;
  /** With `inputShape`: a fixed batch size. Defaults to none (any batch size). */
  batchSize?: number;
  /** The layer's data type. Defaults to 'float32'. */
  dtype?: tf.DataType;
}

/**
 * A layer whose `apply` is typed by what it is given: a symbolic tensor in, a symbolic tensor out
 * (tfjs types every `apply` as returning any kind of tensor or array, which would make each line
 * of a functional model need a cast). Nothing changes at run time.
 */
export type KerasLayer<L extends tf.layers.Layer = tf.layers.Layer> = SymbolicApply & L;

interface SymbolicApply {
  apply(inputs: tf.SymbolicTensor | tf.SymbolicTensor[], kwargs?: { [key: string]: unknown }): tf.SymbolicTensor;
  apply(inputs: tf.Tensor | tf.Tensor[], kwargs?: { [key: string]: unknown }): tf.Tensor;
}

function typed<L extends tf.layers.Layer>(layer: L): KerasLayer<L> {
  return layer as KerasLayer<L>;
}

// ---------------------------------------------------------------------------------------------
// Dense (keras/src/layers/core/dense.py)

/** What a layer with a kernel and a bias takes (Dense, Conv2D): Keras' shared arguments. */
export interface KernelLayerOptions extends LayerOptions {
  /** Whether the layer adds a bias vector. Defaults to true. */
  useBias?: boolean;
  /** Initializer of the kernel. Defaults to 'glorotUniform' (tfjs alone would use 'glorotNormal'). */
  kernelInitializer?: InitializerArg;
  /** Initializer of the bias. Defaults to 'zeros'. */
  biasInitializer?: InitializerArg;
  /** Regularizer of the kernel. Defaults to none. */
  kernelRegularizer?: RegularizerArg;
  /** Regularizer of the bias. Defaults to none. */
  biasRegularizer?: RegularizerArg;
  /** Regularizer of the output. Defaults to none. */
  activityRegularizer?: RegularizerArg;
  /** Constraint on the kernel. Defaults to none. */
  kernelConstraint?: ConstraintArg;
  /** Constraint on the bias. Defaults to none. */
  biasConstraint?: ConstraintArg;
}

export interface DenseOptions extends KernelLayerOptions {
  /** Activation applied to the output. Defaults to none (linear: logits). */
  activation?: ActivationName;
}
export interface DenseArgs extends DenseOptions {
  /** Number of output units, a positive integer. Required. */
  units: number;
}

/**
 * Keras' `layers.Dense(units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
 * bias_initializer="zeros")`: `Dense(50, { activation: 'relu' })` or `Dense({ units: 50, activation: 'relu' })`.
 */
export function Dense(units: number, options?: DenseOptions): KerasLayer<ReturnType<typeof tf.layers.dense>>;
export function Dense(args: DenseArgs): KerasLayer<ReturnType<typeof tf.layers.dense>>;
export function Dense(unitsOrArgs: number | DenseArgs, options?: DenseOptions): KerasLayer<ReturnType<typeof tf.layers.dense>> {
  const args = positional<DenseArgs>('Dense', 'units', unitsOrArgs, options);
  checkPositiveInteger('Dense', 'units', args.units, 'Pass the number of output units, e.g. Dense(50).');
  return typed(
    tf.layers.dense(withDefaults({ useBias: true, kernelInitializer: 'glorotUniform', biasInitializer: 'zeros' } as const, args)),
  );
}

// ---------------------------------------------------------------------------------------------
// Flatten (keras/src/layers/reshaping/flatten.py)

/**
 * Keras' `layers.Flatten(data_format=None)`: (batch, d1, d2, ...) -> (batch, d1 * d2 * ...); a
 * (batch, n) input passes through, as in Keras (lib/layers/flatten.ts). `dataFormat` defaults to
 * 'channelsLast'.
 */
export function Flatten(args: FlattenArgs = {}): KerasLayer<ReturnType<typeof flatten>> {
  return typed(flatten(args));
}

// ---------------------------------------------------------------------------------------------
// BatchNormalization (keras/src/layers/normalization/batch_normalization.py)

export interface BatchNormalizationArgs extends LayerOptions {
  /** The features axis to normalise. Defaults to -1 (the last axis). */
  axis?: number;
  /** Momentum of the moving mean and variance. Defaults to 0.99. */
  momentum?: number;
  /** Added to the variance before the square root. Defaults to 0.001. */
  epsilon?: number;
  /** Whether to add the learned offset beta. Defaults to true. */
  center?: boolean;
  /** Whether to multiply by the learned scale gamma. Defaults to true. */
  scale?: boolean;
  /** Initializer of beta. Defaults to 'zeros'. */
  betaInitializer?: InitializerArg;
  /** Initializer of gamma. Defaults to 'ones'. */
  gammaInitializer?: InitializerArg;
  /** Initializer of the moving mean. Defaults to 'zeros'. */
  movingMeanInitializer?: InitializerArg;
  /** Initializer of the moving variance. Defaults to 'ones'. */
  movingVarianceInitializer?: InitializerArg;
  /** Regularizer of beta. Defaults to none. */
  betaRegularizer?: RegularizerArg;
  /** Regularizer of gamma. Defaults to none. */
  gammaRegularizer?: RegularizerArg;
  /** Constraint on beta. Defaults to none. */
  betaConstraint?: ConstraintArg;
  /** Constraint on gamma. Defaults to none. */
  gammaConstraint?: ConstraintArg;
}

/** Keras' `layers.BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True)`. */
export function BatchNormalization(args: BatchNormalizationArgs = {}): KerasLayer<ReturnType<typeof tf.layers.batchNormalization>> {
  checkInRange('BatchNormalization', 'momentum', args.momentum ?? 0.99, 0, 1, false, 'Keras uses 0.99.');
  if (args.epsilon !== undefined) checkInRange('BatchNormalization', 'epsilon', args.epsilon, 0, Infinity, false, 'Keras uses 0.001.');
  const defaults = {
    axis: -1,
    momentum: 0.99,
    epsilon: 1e-3,
    center: true,
    scale: true,
    betaInitializer: 'zeros',
    gammaInitializer: 'ones',
    movingMeanInitializer: 'zeros',
    movingVarianceInitializer: 'ones',
  } as const;
  return typed(tf.layers.batchNormalization(withDefaults(defaults, args)));
}

// ---------------------------------------------------------------------------------------------
// Dropout (keras/src/layers/regularization/dropout.py)

export interface DropoutOptions extends LayerOptions {
  /** Shape of the binary mask, e.g. [batch, 1, features] to drop the same features at every step. Defaults to the input's shape. */
  noiseShape?: number[];
  /** Seed of the dropout masks. Defaults to none (keras.utils.setRandomSeed makes them repeatable). */
  seed?: number;
}
export interface DropoutArgs extends DropoutOptions {
  /** Fraction of the input units to drop during training, in [0, 1). Required. */
  rate: number;
}

/** Keras' `layers.Dropout(rate, noise_shape=None, seed=None)`: `Dropout(0.5)` or `Dropout({ rate: 0.5 })`. */
export function Dropout(rate: number, options?: DropoutOptions): KerasLayer<ReturnType<typeof tf.layers.dropout>>;
export function Dropout(args: DropoutArgs): KerasLayer<ReturnType<typeof tf.layers.dropout>>;
export function Dropout(rateOrArgs: number | DropoutArgs, options?: DropoutOptions): KerasLayer<ReturnType<typeof tf.layers.dropout>> {
  const args = positional<DropoutArgs>('Dropout', 'rate', rateOrArgs, options);
  // Keras accepts [0, 1]; tfjs' Dropout treats a rate of 1 as "drop nothing", so 1 is refused here.
  checkInRange('Dropout', 'rate', args.rate, 0, 1, true, 'It is the fraction of units to drop, e.g. Dropout(0.5).');
  return typed(tf.layers.dropout(withDefaults({}, args)));
}

// ---------------------------------------------------------------------------------------------
// Conv2D (keras/src/layers/convolutional/conv2d.py, base_conv.py)

export interface Conv2DOptions extends KernelLayerOptions {
  /** Step of the window along height and width: a number or [h, w]. Defaults to 1. */
  strides?: number | [number, number];
  /** 'valid' (no padding) or 'same' (output as large as the input at stride 1). Defaults to 'valid'. */
  padding?: Padding;
  /** Order of the axes. Defaults to 'channelsLast'. */
  dataFormat?: DataFormat;
  /** Dilation of the window: a number or [h, w]. Defaults to 1. */
  dilationRate?: number | [number, number];
  /** Activation applied to the output. Defaults to none (linear). */
  activation?: ActivationName;
}
export interface Conv2DArgs extends Conv2DOptions {
  /** Number of filters (output channels), a positive integer. Required. */
  filters: number;
  /** Size of the window: a number or [h, w]. Required. */
  kernelSize: number | [number, number];
}

/**
 * Keras' `layers.Conv2D(filters, kernel_size, strides=(1, 1), padding="valid", activation=None,
 * use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros")`:
 * `Conv2D(32, 3, { activation: 'relu' })` or `Conv2D({ filters: 32, kernelSize: 3 })`.
 */
export function Conv2D(
  filters: number,
  kernelSize: number | [number, number],
  options?: Conv2DOptions,
): KerasLayer<ReturnType<typeof tf.layers.conv2d>>;
export function Conv2D(args: Conv2DArgs): KerasLayer<ReturnType<typeof tf.layers.conv2d>>;
export function Conv2D(
  filtersOrArgs: number | Conv2DArgs,
  kernelSize?: number | [number, number],
  options?: Conv2DOptions,
): KerasLayer<ReturnType<typeof tf.layers.conv2d>> {
  // Conv2D(filters, kernelSize, options) or Conv2D({ filters, kernelSize, ... }) (then nothing after it).
  const args = isPositional(filtersOrArgs)
    ? positional<Conv2DArgs>(
        'Conv2D',
        'filters',
        filtersOrArgs,
        positional<Omit<Conv2DArgs, 'filters'>>('Conv2D', 'kernelSize', kernelSize, options),
      )
    : positional<Conv2DArgs>('Conv2D', 'filters', filtersOrArgs, kernelSize ?? options);
  checkPositiveInteger('Conv2D', 'filters', args.filters, 'Pass the number of output channels, e.g. Conv2D(32, 3).');
  checkPositiveIntegers('Conv2D', 'kernelSize', args.kernelSize, 2, 'e.g. Conv2D(32, 3) or Conv2D(32, [3, 3]).');
  if (args.strides !== undefined) checkPositiveIntegers('Conv2D', 'strides', args.strides, 2);
  if (args.dilationRate !== undefined) checkPositiveIntegers('Conv2D', 'dilationRate', args.dilationRate, 2);
  const defaults = {
    strides: 1,
    padding: 'valid',
    dataFormat: 'channelsLast',
    dilationRate: 1,
    useBias: true,
    kernelInitializer: 'glorotUniform',
    biasInitializer: 'zeros',
  } as const;
  return typed(tf.layers.conv2d(withDefaults(defaults, args)));
}

// ---------------------------------------------------------------------------------------------
// Pooling (keras/src/layers/pooling/max_pooling2d.py, average_pooling2d.py, base_pooling.py,
// global_max_pooling2d.py, global_average_pooling2d.py)

export interface Pooling2DOptions extends LayerOptions {
  /** Step of the window: a number or [h, w]. Defaults to `poolSize`. */
  strides?: number | [number, number];
  /** 'valid' or 'same'. Defaults to 'valid'. */
  padding?: Padding;
  /** Order of the axes. Defaults to 'channelsLast'. */
  dataFormat?: DataFormat;
}
export interface Pooling2DArgs extends Pooling2DOptions {
  /** Size of the window: a number or [h, w]. Defaults to [2, 2]. */
  poolSize?: number | [number, number];
}

function pooling2dArgs(
  layer: string,
  first: number | [number, number] | Pooling2DArgs | undefined,
  options: Pooling2DOptions | undefined,
): Pooling2DArgs {
  const args = positional<Pooling2DArgs>(layer, 'poolSize', first, options);
  const poolSize = args.poolSize ?? 2;
  checkPositiveIntegers(layer, 'poolSize', poolSize, 2, `e.g. ${layer}(2) or ${layer}([2, 2]).`);
  if (args.strides !== undefined) checkPositiveIntegers(layer, 'strides', args.strides, 2);
  const pair = (v: number | [number, number]): [number, number] => (Array.isArray(v) ? [v[0], v[1]] : [v, v]);
  // Keras: strides = pool_size if strides is None.
  return withDefaults(
    { poolSize: pair(poolSize), strides: pair(args.strides ?? poolSize), padding: 'valid', dataFormat: 'channelsLast' } as const,
    args,
  );
}

/** Keras' `layers.MaxPooling2D(pool_size=(2, 2), strides=None, padding="valid")`: `MaxPooling2D()`, `MaxPooling2D(3, { strides: 2 })` or `MaxPooling2D({ poolSize: 3 })`. */
export function MaxPooling2D(
  poolSize?: number | [number, number],
  options?: Pooling2DOptions,
): KerasLayer<ReturnType<typeof tf.layers.maxPooling2d>>;
export function MaxPooling2D(args: Pooling2DArgs): KerasLayer<ReturnType<typeof tf.layers.maxPooling2d>>;
export function MaxPooling2D(
  first?: number | [number, number] | Pooling2DArgs,
  options?: Pooling2DOptions,
): KerasLayer<ReturnType<typeof tf.layers.maxPooling2d>> {
  return typed(tf.layers.maxPooling2d(pooling2dArgs('MaxPooling2D', first, options)));
}

/** Keras' `layers.AveragePooling2D(pool_size=(2, 2), strides=None, padding="valid")`; forms as {@link MaxPooling2D}. */
export function AveragePooling2D(
  poolSize?: number | [number, number],
  options?: Pooling2DOptions,
): KerasLayer<ReturnType<typeof tf.layers.averagePooling2d>>;
export function AveragePooling2D(args: Pooling2DArgs): KerasLayer<ReturnType<typeof tf.layers.averagePooling2d>>;
export function AveragePooling2D(
  first?: number | [number, number] | Pooling2DArgs,
  options?: Pooling2DOptions,
): KerasLayer<ReturnType<typeof tf.layers.averagePooling2d>> {
  return typed(tf.layers.averagePooling2d(pooling2dArgs('AveragePooling2D', first, options)));
}

export interface GlobalPooling2DArgs extends LayerOptions {
  /** Order of the axes. Defaults to 'channelsLast'. (Keras' keepdims=True is not available in tfjs.) */
  dataFormat?: DataFormat;
}

/** Keras' `layers.GlobalMaxPooling2D(data_format=None)`: (batch, h, w, c) -> (batch, c). */
export function GlobalMaxPooling2D(args: GlobalPooling2DArgs = {}): KerasLayer<ReturnType<typeof tf.layers.globalMaxPooling2d>> {
  return typed(tf.layers.globalMaxPooling2d(withDefaults({ dataFormat: 'channelsLast' } as const, args)));
}

/** Keras' `layers.GlobalAveragePooling2D(data_format=None)`: (batch, h, w, c) -> (batch, c). */
export function GlobalAveragePooling2D(args: GlobalPooling2DArgs = {}): KerasLayer<ReturnType<typeof tf.layers.globalAveragePooling2d>> {
  return typed(tf.layers.globalAveragePooling2d(withDefaults({ dataFormat: 'channelsLast' } as const, args)));
}

// ---------------------------------------------------------------------------------------------
// Activations (keras/src/layers/activations/activation.py, relu.py, softmax.py)

export interface ActivationArgs extends LayerOptions {
  /** The activation, e.g. 'relu'. Required. */
  activation: ActivationName;
}

/** Keras' `layers.Activation(activation)`: `Activation('relu')` or `Activation({ activation: 'relu' })`. */
export function Activation(activation: ActivationName, options?: LayerOptions): KerasLayer<ReturnType<typeof tf.layers.activation>>;
export function Activation(args: ActivationArgs): KerasLayer<ReturnType<typeof tf.layers.activation>>;
export function Activation(
  activationOrArgs: ActivationName | ActivationArgs,
  options?: LayerOptions,
): KerasLayer<ReturnType<typeof tf.layers.activation>> {
  const args = positional<ActivationArgs>('Activation', 'activation', activationOrArgs, options);
  if (typeof args.activation !== 'string' || (args.activation as string) === '')
    invalid('Activation', 'activation', "the name of an activation such as 'relu'", args.activation);
  return typed(tf.layers.activation(args));
}

export interface ReLUArgs extends LayerOptions {
  /** Upper bound of the output, >= 0. Defaults to none (unbounded). (Keras' negativeSlope and threshold are not available in tfjs.) */
  maxValue?: number;
}

/** Keras' `layers.ReLU(max_value=None)`: max(x, 0), capped at `maxValue` if given. */
export function ReLU(args: ReLUArgs = {}): KerasLayer<ReturnType<typeof tf.layers.reLU>> {
  // keras/src/layers/activations/relu.py: "max_value of a ReLU layer cannot be a negative value".
  if (args.maxValue !== undefined) checkInRange('ReLU', 'maxValue', args.maxValue, 0, Infinity);
  return typed(tf.layers.reLU(withDefaults({}, args)));
}

export interface SoftmaxArgs extends LayerOptions {
  /** The axis (or axes) to normalise over. Defaults to -1, the last axis (tfjs alone would use 1). */
  axis?: number | number[];
}

/** Keras' `layers.Softmax(axis=-1)`: `Softmax()`, `Softmax(-1)` or `Softmax({ axis: -1 })`. */
export function Softmax(axis?: number | number[], options?: LayerOptions): KerasLayer<ReturnType<typeof tf.layers.softmax>>;
export function Softmax(args: SoftmaxArgs): KerasLayer<ReturnType<typeof tf.layers.softmax>>;
export function Softmax(
  axisOrArgs?: number | number[] | SoftmaxArgs,
  options?: LayerOptions,
): KerasLayer<ReturnType<typeof tf.layers.softmax>> {
  const args = positional<SoftmaxArgs>('Softmax', 'axis', axisOrArgs, options);
  return typed(tf.layers.softmax(withDefaults({ axis: -1 }, args)));
}

// ---------------------------------------------------------------------------------------------
// Merging (keras/src/layers/merging/concatenate.py, add.py)

export interface ConcatenateArgs extends LayerOptions {
  /** The axis to concatenate along. Defaults to -1. */
  axis?: number;
}

/** Keras' `layers.Concatenate(axis=-1)`: `Concatenate().apply([a, b])`. */
export function Concatenate(axis?: number, options?: LayerOptions): KerasLayer<ReturnType<typeof tf.layers.concatenate>>;
export function Concatenate(args: ConcatenateArgs): KerasLayer<ReturnType<typeof tf.layers.concatenate>>;
export function Concatenate(
  axisOrArgs?: number | ConcatenateArgs,
  options?: LayerOptions,
): KerasLayer<ReturnType<typeof tf.layers.concatenate>> {
  const args = positional<ConcatenateArgs>('Concatenate', 'axis', axisOrArgs, options);
  if (args.axis !== undefined && !Number.isInteger(args.axis)) invalid('Concatenate', 'axis', 'an integer such as -1', args.axis);
  return typed(tf.layers.concatenate(withDefaults({ axis: -1 }, args)));
}

/** Keras' `layers.Add()`: the element-wise sum, `Add().apply([a, b])`. */
export function Add(args: LayerOptions = {}): KerasLayer<ReturnType<typeof tf.layers.add>> {
  return typed(tf.layers.add(withDefaults({}, args)));
}

// ---------------------------------------------------------------------------------------------
// ZeroPadding2D (keras/src/layers/reshaping/zero_padding2d.py)

/** 1 (all sides), [h, w] (symmetric) or [[top, bottom], [left, right]]. */
export type Padding2D = number | [number, number] | [[number, number], [number, number]];

export interface ZeroPadding2DOptions extends LayerOptions {
  /** Order of the axes. Defaults to 'channelsLast'. */
  dataFormat?: DataFormat;
}
export interface ZeroPadding2DArgs extends ZeroPadding2DOptions {
  /** Rows and columns of zeros to add. Defaults to 1 on every side. */
  padding?: Padding2D;
}

/** Keras' `layers.ZeroPadding2D(padding=(1, 1))`: `ZeroPadding2D()`, `ZeroPadding2D([[0, 1], [0, 1]])` or `ZeroPadding2D({ padding: 3 })`. */
export function ZeroPadding2D(padding?: Padding2D, options?: ZeroPadding2DOptions): KerasLayer<ReturnType<typeof tf.layers.zeroPadding2d>>;
export function ZeroPadding2D(args: ZeroPadding2DArgs): KerasLayer<ReturnType<typeof tf.layers.zeroPadding2d>>;
export function ZeroPadding2D(
  paddingOrArgs?: Padding2D | ZeroPadding2DArgs,
  options?: ZeroPadding2DOptions,
): KerasLayer<ReturnType<typeof tf.layers.zeroPadding2d>> {
  const args = positional<ZeroPadding2DArgs>('ZeroPadding2D', 'padding', paddingOrArgs, options);
  const values = [args.padding ?? 1].flat(2);
  if (!values.every((v) => Number.isInteger(v) && v >= 0)) {
    invalid('ZeroPadding2D', 'padding', 'a non-negative integer, [h, w] or [[top, bottom], [left, right]]', args.padding);
  }
  return typed(
    tf.layers.zeroPadding2d(
      withDefaults(
        {
          padding: [
            [1, 1],
            [1, 1],
          ],
          dataFormat: 'channelsLast',
        } as ZeroPadding2DArgs,
        args,
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Rescaling (keras/src/layers/preprocessing/rescaling.py)

/** Keras' `layers.Rescaling(scale, offset=0.0)`: `Rescaling(1 / 255)` or `Rescaling({ scale: 1 / 255 })` (lib/layers/rescaling.ts; also per channel). */
export function Rescaling(scale: ChannelValues, options?: Omit<RescalingArgs, 'scale'>): KerasLayer<ReturnType<typeof rescaling>>;
export function Rescaling(args: RescalingArgs): KerasLayer<ReturnType<typeof rescaling>>;
export function Rescaling(
  scaleOrArgs: ChannelValues | RescalingArgs,
  options?: Omit<RescalingArgs, 'scale'>,
): KerasLayer<ReturnType<typeof rescaling>> {
  return typed(rescaling(withDefaults({ offset: 0 }, positional<RescalingArgs>('Rescaling', 'scale', scaleOrArgs, options))));
}

// ---------------------------------------------------------------------------------------------
// Data augmentation (keras/src/layers/preprocessing/image_preprocessing/random_flip.py,
// random_rotation.py, random_zoom.py, random_translation.py, random_contrast.py;
// lib/layers/augmentation/): random during training (fit), the identity at inference.

export type RandomFlipOptions = Omit<RandomFlipArgs, 'mode'>;
export type RandomRotationOptions = Omit<RandomRotationArgs, 'factor'>;
export type RandomZoomOptions = Omit<RandomZoomArgs, 'heightFactor' | 'widthFactor'>;
export type RandomTranslationOptions = Omit<RandomTranslationArgs, 'heightFactor' | 'widthFactor'>;
export type RandomContrastOptions = Omit<RandomContrastArgs, 'factor'>;

/**
 * Keras' `layers.RandomFlip(mode="horizontal_and_vertical", seed=None)`: `RandomFlip()`,
 * `RandomFlip('horizontal')`, `RandomFlip('horizontal', { seed: 1 })` or `RandomFlip({ mode: 'horizontal' })`.
 */
export function RandomFlip(mode?: FlipMode, options?: RandomFlipOptions): KerasLayer<RandomFlipLayer>;
export function RandomFlip(args: RandomFlipArgs): KerasLayer<RandomFlipLayer>;
export function RandomFlip(modeOrArgs?: FlipMode | RandomFlipArgs, options?: RandomFlipOptions): KerasLayer<RandomFlipLayer> {
  return typed(new RandomFlipLayer(positional<RandomFlipArgs>('RandomFlip', 'mode', modeOrArgs, options)));
}

/**
 * Keras' `layers.RandomRotation(factor, fill_mode="reflect", interpolation="bilinear", seed=None,
 * fill_value=0.0)`: `RandomRotation(0.1)` (up to ±0.1 of a full turn) or `RandomRotation({ factor: [-0.1, 0.2] })`.
 */
export function RandomRotation(factor: Factor, options?: RandomRotationOptions): KerasLayer<RandomRotationLayer>;
export function RandomRotation(args: RandomRotationArgs): KerasLayer<RandomRotationLayer>;
export function RandomRotation(
  factorOrArgs: Factor | RandomRotationArgs,
  options?: RandomRotationOptions,
): KerasLayer<RandomRotationLayer> {
  return typed(new RandomRotationLayer(positional<RandomRotationArgs>('RandomRotation', 'factor', factorOrArgs, options)));
}

/**
 * Keras' `layers.RandomZoom(height_factor, width_factor=None, fill_mode="reflect",
 * interpolation="bilinear", seed=None, fill_value=0.0)`: `RandomZoom(0.2)`, `RandomZoom(0.2, 0.1)`,
 * `RandomZoom(0.2, { fillMode: 'constant' })` or `RandomZoom({ heightFactor: 0.2 })`.
 */
export function RandomZoom(heightFactor: Factor, widthFactor?: Factor | null, options?: RandomZoomOptions): KerasLayer<RandomZoomLayer>;
export function RandomZoom(heightFactor: Factor, options?: RandomZoomOptions): KerasLayer<RandomZoomLayer>;
export function RandomZoom(args: RandomZoomArgs): KerasLayer<RandomZoomLayer>;
export function RandomZoom(
  first: Factor | RandomZoomArgs,
  second?: Factor | null | RandomZoomOptions,
  third?: RandomZoomOptions,
): KerasLayer<RandomZoomLayer> {
  // RandomZoom(h, w, options) when the second argument is a factor (or null); otherwise
  // RandomZoom(h, options) or RandomZoom({ heightFactor, ... }), after which nothing may follow.
  if (isPositional(first) && second !== undefined && isPositional(second)) {
    const rest = positional<Omit<RandomZoomArgs, 'heightFactor'>>('RandomZoom', 'widthFactor', second, third);
    return typed(new RandomZoomLayer(positional<RandomZoomArgs>('RandomZoom', 'heightFactor', first, rest)));
  }
  if (second !== undefined && third !== undefined) positional<RandomZoomArgs>('RandomZoom', 'heightFactor', second, third);
  return typed(new RandomZoomLayer(positional<RandomZoomArgs>('RandomZoom', 'heightFactor', first, second ?? third)));
}

/**
 * Keras' `layers.RandomTranslation(height_factor, width_factor, fill_mode="reflect",
 * interpolation="bilinear", seed=None, fill_value=0.0)`: `RandomTranslation(0.1, 0.1)` or
 * `RandomTranslation({ heightFactor: 0.1, widthFactor: 0.1 })`.
 */
export function RandomTranslation(
  heightFactor: Factor,
  widthFactor: Factor,
  options?: RandomTranslationOptions,
): KerasLayer<RandomTranslationLayer>;
export function RandomTranslation(args: RandomTranslationArgs): KerasLayer<RandomTranslationLayer>;
export function RandomTranslation(
  first: Factor | RandomTranslationArgs,
  widthFactor?: Factor,
  options?: RandomTranslationOptions,
): KerasLayer<RandomTranslationLayer> {
  const args = isPositional(first)
    ? positional<RandomTranslationArgs>(
        'RandomTranslation',
        'heightFactor',
        first,
        positional<Omit<RandomTranslationArgs, 'heightFactor'>>('RandomTranslation', 'widthFactor', widthFactor, options),
      )
    : positional<RandomTranslationArgs>('RandomTranslation', 'heightFactor', first, widthFactor ?? options);
  return typed(new RandomTranslationLayer(args));
}

/**
 * Keras' `layers.RandomContrast(factor, value_range=(0, 255), seed=None)`: `RandomContrast(0.2)`
 * (Keras 3: a factor in [1, 1.2]), `RandomContrast([0.2, 0.2], { valueRange: [0, 1] })` (in [0.8, 1.2])
 * or `RandomContrast({ factor: 0.2 })`.
 */
export function RandomContrast(factor: Factor, options?: RandomContrastOptions): KerasLayer<RandomContrastLayer>;
export function RandomContrast(args: RandomContrastArgs): KerasLayer<RandomContrastLayer>;
export function RandomContrast(
  factorOrArgs: Factor | RandomContrastArgs,
  options?: RandomContrastOptions,
): KerasLayer<RandomContrastLayer> {
  return typed(new RandomContrastLayer(positional<RandomContrastArgs>('RandomContrast', 'factor', factorOrArgs, options)));
}

export { Input };
