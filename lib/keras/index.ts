/**
 * `keras`: a Keras-shaped namespace over TensorFlow.js, so the Python lesson translates line by
 * line. Each name returns the tfjs or tslab-dl object, built with Keras 3's defaults
 * (keras-team/keras, keras/src/...; each file cites its source). Importing it installs the Keras
 * compatibility patches (lib/compat/install.ts), among them tfjs' own factories defaulting like
 * Keras (glorotUniform kernels, a Flatten that accepts rank 2).
 *
 * Python calls a layer on a tensor, `Dense(10)(out)`; TypeScript applies it, `Dense(10).apply(out)`.
 */
import { installKerasCompat } from '../compat/install';
import { applications } from './applications';
import * as callbacks from './callbacks';
import { Input } from './input';
import * as layers from './layers';
import * as losses from './losses';
import { Model, Sequential } from './models';
import * as optimizers from './optimizers';
import * as utils from './utils';

installKerasCompat();

/**
 * Keras' namespace: `keras.Input`, `keras.Model`, `keras.Sequential`, `keras.layers`,
 * `keras.models`, `keras.applications`, `keras.losses`, `keras.callbacks`, `keras.optimizers`,
 * `keras.utils`.
 *
 * @example
 * ```ts
 * import { keras, fit } from 'tslab-dl';
 *
 * keras.utils.setRandomSeed(2);
 * const inputs = keras.Input(trainImages.shape.slice(1));               // keras.Input(train_images.shape[1:])
 * const upscaled = upscale({ height: 160, width: 160 }).apply(inputs) as tf.SymbolicTensor;
 * const baseModel = await keras.applications.DenseNet121({
 *   includeTop: false, pooling: 'max', weights: 'imagenet', inputTensor: upscaled, inputShape: [160, 160, 3],
 * });
 * baseModel.trainable = false;
 * let out = keras.layers.Flatten().apply(baseModel.output) as tf.SymbolicTensor;
 * out = keras.layers.BatchNormalization().apply(out) as tf.SymbolicTensor;
 * out = keras.layers.Dense(50, { activation: 'relu' }).apply(out) as tf.SymbolicTensor;
 * out = keras.layers.Dropout(0.5).apply(out) as tf.SymbolicTensor;
 * out = keras.layers.Dense(10).apply(out) as tf.SymbolicTensor;
 * const model = keras.models.Model({ inputs, outputs: out });
 * model.compile({
 *   optimizer: keras.optimizers.Adam(),
 *   loss: keras.losses.SparseCategoricalCrossentropy({ fromLogits: true }),
 *   metrics: ['accuracy'],
 * });
 * const earlyStopper = keras.callbacks.EarlyStopping({ monitor: 'val_accuracy', patience: 5 });
 * ```
 */
export const keras = {
  /** `keras.Input(shape)`: a model's symbolic input. */
  Input,
  /** `keras.Model({ inputs, outputs })`: a functional model. */
  Model,
  /** `keras.Sequential([layers])`: a stack of layers. */
  Sequential,
  /** Keras' layers with Keras' defaults. */
  layers,
  /** `keras.models.Model` and `keras.models.Sequential`. */
  models: { Model, Sequential },
  /** The pre-trained networks (DenseNet121, ResNet50, ...). */
  applications,
  /** `keras.losses.SparseCategoricalCrossentropy`. */
  losses,
  /** `keras.callbacks.EarlyStopping`. */
  callbacks,
  /** `keras.optimizers.Adam`, `SGD`, `RMSprop`. */
  optimizers,
  /** `keras.utils.setRandomSeed`. */
  utils,
} as const;

/** The type of {@link keras}: Keras' API names (`keras.layers`, `keras.applications`, ...) on TensorFlow.js. */
export type Keras = typeof keras;

export type { ShapeArg, InputArgs, InputOptions } from './input';
export type { ModelArgs, SequentialArgs, SequentialOptions } from './models';
export type { AdamArgs, SGDArgs, RMSpropArgs } from './optimizers';
export type {
  LayerOptions,
  DenseArgs,
  DenseOptions,
  BatchNormalizationArgs,
  DropoutArgs,
  DropoutOptions,
  Conv2DArgs,
  Conv2DOptions,
  Pooling2DArgs,
  Pooling2DOptions,
  GlobalPooling2DArgs,
  ActivationArgs,
  ReLUArgs,
  SoftmaxArgs,
  ConcatenateArgs,
  ZeroPadding2DArgs,
  ZeroPadding2DOptions,
  Padding2D,
  ActivationName,
  InitializerArg,
  RegularizerArg,
  ConstraintArg,
  DataFormat,
  Padding,
} from './layers';
