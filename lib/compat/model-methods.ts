/**
 * tfjs' own `model.fit`, `model.evaluate` and `model.predict`, the Keras habit, made the fast and
 * correct path for a model with a frozen part (lib/compat/install.ts applies it).
 *
 * The lesson's central cell is `model.fit(trainImages, trainLabels, { batchSize: 32, epochs: 30,
 * callbacks: [earlyStopper], validationData: [valImages, valLabels] })`. Plain tfjs keeps every
 * activation of the frozen DenseNet121 on its gradient tape, recomputes the base every epoch, and
 * runs out of the wasm backend's memory. With these patches such a call goes through the same
 * planner as tslab-dl's `fit()` (lib/train/fit.ts): the frozen prefix computed once (feature
 * cache, ONNX Runtime) or kept off the tape, the progress display, Keras' logs and History.
 *
 * What keeps tfjs' meaning:
 * - a model with nothing frozen worth computing once (no frozen layer with weights before the
 *   first trainable one) trains with tfjs' own fit, on its own tensors (same numbers; the progress
 *   display and Keras' History around it); one with several inputs or outputs, or not compiled,
 *   goes to tfjs untouched;
 * - tfjs' argument forms: x and y as a tensor, a one-element array or a map by input/output
 *   name; `validationData` as [x, y] or [x, y, sampleWeights]; `validationSplit`, `shuffle`,
 *   `classWeight`, `initialEpoch`, `callbacks` (callbacks, `{ onEpochEnd }` objects, one object
 *   or a CallbackList), `verbose`; the rest (`yieldEvery`, ...) goes to tfjs as given;
 * - `evaluate` and `predict` stay synchronous, as in tfjs: the frozen features come from the
 *   cache (fit computed them, on ONNX Runtime where it runs) or are computed on tfjs now.
 */
import * as tf from '@tensorflow/tfjs';
import { frozenFeaturesSync } from '../features/extract';
import { compileLike, defaultCacheMode } from '../features/planner';
import { FrozenSplit, splitFrozenPrefix } from '../features/split';
import { isFrozen } from '../layers/frozen';
import { fitThroughPlan, FitOptions, TfjsFitExtras } from '../train/fit';
import { keepTfjsModelMethods, TfjsModelMethods } from '../train/tfjs-methods';
import { Verbosity } from '../train/training-display';
import { markOnce } from './markers';
import { layersModelPrototype } from './prototypes';

const PATCHED = Symbol.for('tslab-dl.kerasModelMethods');

/** The split of a model whose frozen prefix holds weights, or undefined (tfjs itself then runs it). */
export function frozenSplitOf(model: tf.LayersModel, inference = false): FrozenSplit | undefined {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return undefined;
  const split = splitFrozenPrefix(model, { inference });
  if (!split || split.prefix.inputs.length !== 1) return undefined;
  // A prefix without a frozen layer holding weights (Flatten, an upscale, a Normalization whose
  // statistics are non-trainable by design) is not a frozen base: nothing worth computing once.
  if (!split.prefix.layers.some(holdsFrozenWeights)) return undefined;
  return split;
}

/** Whether a layer (or a nested model's layer) has weights and was frozen (`trainable = false`). */
function holdsFrozenWeights(layer: tf.layers.Layer): boolean {
  if (layer instanceof tf.LayersModel) return layer.layers.some(holdsFrozenWeights);
  return layer.weights.length > 0 && isFrozen(layer);
}

/** The one tensor of a tfjs x or y argument for a model with one input (or output) named `name`. */
function oneTensor(value: unknown, name: string): tf.Tensor | undefined {
  if (value instanceof tf.Tensor) return value;
  if (Array.isArray(value)) return value.length === 1 && value[0] instanceof tf.Tensor ? value[0] : undefined;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    return entries.length === 1 && entries[0][0] === name && entries[0][1] instanceof tf.Tensor ? entries[0][1] : undefined;
  }
  return undefined;
}

function verbosity(verbose: unknown): Verbosity {
  return verbose === 0 || verbose === 1 || verbose === 2 ? verbose : 'auto';
}

/** Keras' options from tfjs' ModelFitArgs; undefined when a form is one only tfjs handles. */
function fitOptions(model: tf.LayersModel, args: tf.ModelFitArgs): { options: FitOptions; extras: TfjsFitExtras } | undefined {
  const { batchSize, epochs, verbose, callbacks, validationSplit, validationData, shuffle, classWeight, initialEpoch, ...extras } = args;
  let validation: FitOptions['validationData'];
  if (validationData != null) {
    const [vx, vy, ...weights] = validationData as unknown[];
    const x = oneTensor(vx, model.inputs[0].name);
    const y = oneTensor(vy, model.outputs[0].name);
    if (!x || !y || weights.length > 0) return undefined;
    validation = [x, y];
  }
  if (classWeight != null && (Array.isArray(classWeight) || typeof Object.values(classWeight)[0] === 'object')) return undefined;
  if ((shuffle as unknown) === 'batch') return undefined;
  const options: FitOptions = {
    batchSize,
    epochs,
    verbose: verbosity(verbose),
    callbacks: callbacks as FitOptions['callbacks'],
    validationSplit,
    validationData: validation,
    shuffle,
    classWeight: classWeight as FitOptions['classWeight'],
    initialEpoch,
  };
  return { options, extras };
}

function install(proto: TfjsModelMethods, originals: TfjsModelMethods): void {
  proto.fit = async function (this: tf.LayersModel, x: unknown, y: unknown, args: tf.ModelFitArgs = {}) {
    // One input, one output, tfjs' plain argument forms: Keras' fit (progress display, History with
    // Keras' names and its model, the lesson's epoch cap) on the fastest plan. With nothing frozen
    // the plan is the model itself, trained by tfjs' own fit: the same numbers.
    const single = this.inputs.length === 1 && this.outputs.length === 1;
    const xs = single ? oneTensor(x, this.inputs[0].name) : undefined;
    const ys = single ? oneTensor(y, this.outputs[0].name) : undefined;
    const converted = xs && ys && this.optimizer ? fitOptions(this, args ?? {}) : undefined;
    if (!xs || !ys || !converted) return originals.fit.call(this, x, y, args);
    return fitThroughPlan(this, xs, ys, converted.options, 'model.fit(x, y, args)', converted.extras);
  };

  proto.evaluate = function (this: tf.LayersModel, x: unknown, y: unknown, args: tf.ModelEvaluateArgs = {}) {
    const split = frozenSplitOf(this, true);
    const xs = split && oneTensor(x, this.inputs[0].name);
    if (!split || !xs) return originals.evaluate.call(this, x, y, args);
    const features = frozenFeaturesSync(split.prefix, xs, { batchSize: args?.batchSize, cache: defaultCacheMode() });
    try {
      compileLike(split.head, this);
      return originals.evaluate.call(split.head, inputsOf(features.outputs), y, args);
    } finally {
      features.release();
    }
  };

  proto.predict = function (this: tf.LayersModel, x: unknown, args: tf.ModelPredictConfig = {}) {
    const split = frozenSplitOf(this, true);
    const xs = split && oneTensor(x, this.inputs[0].name);
    if (!split || !xs) return originals.predict.call(this, x, args);
    const features = frozenFeaturesSync(split.prefix, xs, { batchSize: args?.batchSize, cache: defaultCacheMode() });
    try {
      // A wholly frozen model's head only passes its inputs on: give the caller a tensor of its own.
      if (split.head.layers.every((l) => l.getClassName() === 'InputLayer')) return features.outputs[0].clone();
      return originals.predict.call(split.head, inputsOf(features.outputs), args);
    } finally {
      features.release();
    }
  };
}

function inputsOf(outputs: tf.Tensor[]): tf.Tensor | tf.Tensor[] {
  return outputs.length === 1 ? outputs[0] : outputs;
}

/** Installs the three patches once per process (idempotent; lib/compat/install.ts calls it). */
export function applyKerasModelMethods(): void {
  const proto = layersModelPrototype<TfjsModelMethods>();
  for (const name of ['fit', 'evaluate', 'predict'] as const) {
    if (typeof proto[name] !== 'function') {
      throw new Error(
        `tslab-dl: tf.LayersModel has no ${name} method in TensorFlow.js ${tf.version.tfjs}; the model-method patch needs updating.`,
      );
    }
  }
  if (!markOnce(proto, PATCHED)) return;
  install(proto, keepTfjsModelMethods());
}
