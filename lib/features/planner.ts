/**
 * The feature-cache planner for fit / evaluate / predict: when a model starts with a frozen,
 * deterministic prefix (inputs -> upscale -> frozen base), run that prefix once per input (cached
 * by content, lib/features/extract.ts) and hand the trainable head the features instead. Keras
 * recomputes the base every epoch; the numbers are the same, the time is not.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../core/errors';
import { ForwardPlan, ForwardRequest, registerForwardPlanner } from '../train/forward';
import { augmentedPlan } from './augmented-plan';
import { FeatureCacheMode, Features, frozenFeatures, FeatureOptions } from './extract';
import { Executor } from './run';
import { splitFrozenPrefix } from './split';
import { untapedModel } from './untaped-prefix';

interface CompiledModel {
  optimizer?: tf.Optimizer;
  loss?: tf.ModelCompileArgs['loss'];
  metrics?: tf.ModelCompileArgs['metrics'];
}

/** Compiles `head` like `model`, sharing its optimizer (and so its Adam moments). */
export function compileLike(head: tf.LayersModel, model: tf.LayersModel): void {
  const compiled = model as unknown as CompiledModel;
  if (!compiled.optimizer || compiled.loss === undefined) return;
  head.compile({ optimizer: compiled.optimizer, loss: compiled.loss, metrics: compiled.metrics });
}

/**
 * The cache mode when the caller gives none: $TSLAB_DL_FEATURE_CACHE ('memory', 'disk' or 'off'),
 * else 'memory'. `npm run lesson` sets it, so the notebook's cells stay the lesson's.
 */
export function defaultCacheMode(): FeatureCacheMode {
  const value = process.env.TSLAB_DL_FEATURE_CACHE;
  if (value === undefined || value === '') return 'memory';
  if (value === 'off') return false;
  if (value === 'memory' || value === 'disk') return value;
  throw new ValueError(`TSLAB_DL_FEATURE_CACHE must be 'memory', 'disk' or 'off'. Received ${JSON.stringify(value)}.`);
}

/**
 * Plans fit / evaluate / predict on cached features. `cache: false` opts out: the whole model runs
 * on every batch, as in Keras; `fit` then keeps the frozen prefix off the gradient tape, as
 * TensorFlow does (lib/features/untaped-prefix.ts).
 */
export async function featureCachePlanner(request: ForwardRequest): Promise<ForwardPlan | undefined> {
  const cache = request.options.cache === undefined ? defaultCacheMode() : (request.options.cache as FeatureCacheMode);
  if (cache === false) return request.purpose === 'fit' ? untapedPlan(request) : undefined;
  const augmented = await augmentedPlan(request, cache);
  if (augmented) return augmented;
  const split = splitFrozenPrefix(request.model, { inference: request.purpose !== 'fit' });
  // A prefix of weightless layers (Flatten, an upscale) is not a frozen base: nothing to save.
  if (!split || split.prefix.inputs.length !== 1 || split.prefix.countParams() === 0) return undefined;
  const options: FeatureOptions = {
    batchSize: request.options.batchSize,
    cache,
    executor: request.options.executor as Executor | undefined,
  };
  const train = await frozenFeatures(split.prefix, request.x, { ...options, label: 'Frozen base features' });
  let validation: Features | undefined;
  try {
    validation = request.validationX
      ? await frozenFeatures(split.prefix, request.validationX, { ...options, label: 'Frozen base features (validation)' })
      : undefined;
    if (request.purpose !== 'predict') compileLike(split.head, request.model);
  } catch (e) {
    train.release();
    throw e;
  }
  const sources = [train, validation].filter((f) => f !== undefined).map((f) => f!.source);
  return {
    model: split.head,
    x: single(train.outputs),
    validationX: validation && single(validation.outputs),
    note:
      `Frozen prefix (${split.prefixLayerCount} layers) computed once` +
      (sources.every((s) => s !== 'computed') ? ` (from the ${sources[0]} cache)` : ` on ${train.executor ?? 'tfjs'}`) +
      `; training the ${split.head.layers.length - 1} head layers on its features.`,
    dispose() {
      train.release();
      validation?.release();
    },
  };
}

/** fit with `cache: false`: the whole model every batch, its frozen prefix untaped. */
function untapedPlan(request: ForwardRequest): ForwardPlan | undefined {
  const split = splitFrozenPrefix(request.model);
  const model = split && split.prefix.countParams() > 0 ? untapedModel(request.model, split) : undefined;
  if (!split || !model) return undefined;
  compileLike(model, request.model);
  return {
    model,
    x: request.x,
    validationX: request.validationX,
    note:
      `Feature cache off: the frozen prefix (${split.prefixLayerCount} layers) runs on every batch, as in Keras, ` +
      'outside the gradient tape (TensorFlow does not record frozen layers either).',
    dispose() {
      model.dispose();
    },
  };
}

/** One tensor for a one-input head, the list for a head fed by several cut tensors. */
function single(outputs: tf.Tensor[]): tf.Tensor | tf.Tensor[] {
  return outputs.length === 1 ? outputs[0] : outputs;
}

let registered = false;

/** Makes fit / evaluate / predict plan through the feature cache (idempotent; lib/compat/install.ts calls it). */
export function registerFeatureCachePlanner(): void {
  if (registered) return;
  registerForwardPlanner(featureCachePlanner);
  registered = true;
}
