/**
 * Computing a frozen prefix's outputs once per (weights, input): from the in-memory cache, the
 * instructor's shared cache (read-only, verified), the disk cache, or by running the prefix batch by
 * batch with a progress display.
 */
import { createHash } from 'crypto';
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../core/errors';
import { Progress } from '../notebook/progress';
import { fromDisk, fromMemory, fromShared, toDiskIfWritable, toMemory } from './cache';
import { onnxAvailable } from '../onnx';
import { OnnxProvider, PROVIDER_ORDER } from '../onnx/providers';
import { tfjsPredict } from '../train/tfjs-methods';
import { canReadSync } from '../core/tensor-reads';
import { fingerprintModel, fingerprintModelAsync, fingerprintTensor, fingerprintTensorAsync } from './fingerprint';
import { createPrefixRunner, Executor, ExecutorName, resolveRoute, routeTag, runPrefix } from './run';

/** Where features may be kept: in memory (default), also on disk, or not at all. */
export type FeatureCacheMode = 'memory' | 'disk' | false;

/** Options of {@link frozenFeatures}: batch size, engine, cache and progress label. */
export interface FeatureOptions {
  /** Images per forward pass. Defaults to 32. */
  batchSize?: number;
  /**
   * Engine for the prefix: 'auto' (ONNX Runtime on its best provider when installed, else tfjs),
   * 'onnx', 'onnx-cuda', 'onnx-webgpu', 'onnx-cpu' or 'tfjs' (lib/features/run.ts). Defaults to
   * $TSLAB_DL_EXECUTOR, else 'auto'.
   */
  executor?: Executor;
  /** Where the features are kept for the next call: 'memory', 'disk' (also on disk) or false. Defaults to 'memory'. */
  cache?: FeatureCacheMode;
  /** Shown in the progress display. Defaults to 'Frozen features'. */
  label?: string;
}

/**
 * How often the prefix really ran, and how often the caches answered (tests and reports).
 * `sharedHits`: answered by the instructor's shared cache; `sharedRefused`: shared entries refused
 * (missing from, or not matching, its manifest, or failing their header check) and so recomputed.
 */
export const featureStats = { computed: 0, imagesComputed: 0, memoryHits: 0, diskHits: 0, sharedHits: 0, sharedRefused: 0 };

/** What {@link frozenFeatures} returns: the prefix's outputs, where they came from, and how to free them. */
export interface Features {
  /** The prefix's first (usually only) output. */
  features: tf.Tensor;
  /** Every output of the prefix, in order (a prefix cut in several places has several). */
  outputs: tf.Tensor[];
  /** Whether they were computed now or found in the memory cache, the instructor's shared cache or the disk cache. */
  source: 'computed' | 'memory' | 'shared' | 'disk';
  /** The engine that computed them; undefined when they came from a cache. */
  executor: ExecutorName | undefined;
  /** The ONNX Runtime provider that computed them; undefined on tfjs or from a cache. */
  provider: OnnxProvider | undefined;
  /** Frees the features unless a cache owns them. */
  release(): void;
}

const CACHE_MODES: readonly FeatureCacheMode[] = ['memory', 'disk', false];

/**
 * The cache key of the outputs of a prefix (by its fingerprint) for an input (by its fingerprint)
 * on an engine and provider (`routeTag`: 'tfjs', 'onnx-cpu', 'onnx-webgpu', 'onnx-cuda'): a GPU's
 * float results differ from the CPU's in the last bits, so each keeps its own.
 */
export function featureCacheKey(prefixFingerprint: string, inputFingerprint: string, tag: string): string {
  return createHash('sha256').update(`${prefixFingerprint}|${inputFingerprint}|${tag}`).digest('hex');
}

/** The cache entry of output `i` of a prefix whose key is `key`. */
export const featureEntryKey = (key: string, i: number): string => (i === 0 ? key : `${key}-${i}`);
const entryKey = featureEntryKey;

/**
 * Every output cached under `key` in the instructor's shared cache (verified, lib/features/cache.ts),
 * kept in memory from then on; undefined when one is missing or refused (refusals are counted).
 */
function fromSharedCache(key: string, outputs: number): tf.Tensor[] | undefined {
  const found = fromCache(
    key,
    outputs,
    (k) => {
      const shared = fromShared(k);
      if (shared.refused) featureStats.sharedRefused++;
      return shared.features;
    },
    true,
  );
  if (!found) return undefined;
  featureStats.sharedHits++;
  found.forEach((t, i) => toMemory(entryKey(key, i), t));
  return found;
}

/**
 * Every output cached under `key`, or undefined when one of them is missing. `fresh`: the reader
 * makes new tensors (the disk), which are freed when a later output is missing.
 */
function fromCache(key: string, outputs: number, read: (key: string) => tf.Tensor | undefined, fresh = false): tf.Tensor[] | undefined {
  const found: tf.Tensor[] = [];
  for (let i = 0; i < outputs; i++) {
    const t = read(entryKey(key, i));
    if (!t) {
      if (fresh) found.forEach((f) => f.dispose());
      return undefined;
    }
    found.push(t);
  }
  return found;
}

/**
 * Hands freshly computed outputs to the caches: each to the disk (which only warns when its folder
 * cannot be written), then to memory, which owns it from then on, whatever the disk did: an
 * unexpected error is thrown only once every output is owned, so nothing leaks. `values`: the
 * outputs' values, read asynchronously by an async caller (else the disk cache reads them itself).
 */
function cacheOutputs(key: string, outputs: tf.Tensor[], cache: FeatureCacheMode, values?: Float32Array[]): void {
  let failure: unknown;
  outputs.forEach((t, i) => {
    if (cache === 'disk' && failure === undefined) {
      try {
        toDiskIfWritable(entryKey(key, i), t, undefined, undefined, values?.[i]);
      } catch (e) {
        failure = e;
      }
    }
    toMemory(entryKey(key, i), t);
  });
  if (failure !== undefined) throw failure;
}

/** The outputs of `prefix` (a single-input model, one or several outputs) for `x`. */
export async function frozenFeatures(prefix: tf.LayersModel, x: tf.Tensor, options: FeatureOptions = {}): Promise<Features> {
  const cache = options.cache ?? 'memory';
  if (!CACHE_MODES.includes(cache)) {
    throw new ValueError(`cache must be 'memory', 'disk' or false. Received ${JSON.stringify(options.cache)}.`);
  }
  const route = await resolveRoute(options.executor);
  const outputCount = prefix.outputs.length;
  const result = (
    outputs: tf.Tensor[],
    source: Features['source'],
    engine: ExecutorName | undefined,
    release: () => void,
    provider?: OnnxProvider,
  ): Features => ({ features: outputs[0], outputs, source, executor: engine, provider, release });

  // Read asynchronously: on webgpu the weights and x may live on the GPU (lib/core/tensor-reads.ts).
  const fingerprints = cache ? { prefix: await fingerprintModelAsync(prefix), input: await fingerprintTensorAsync(x) } : undefined;
  const key = fingerprints && featureCacheKey(fingerprints.prefix, fingerprints.input, routeTag(route.engine, route.provider));
  if (key) {
    const inMemory = fromCache(key, outputCount, fromMemory);
    if (inMemory) {
      featureStats.memoryHits++;
      return result(inMemory, 'memory', undefined, () => {});
    }
    const inShared = fromSharedCache(key, outputCount);
    if (inShared) return result(inShared, 'shared', undefined, () => {});
    if (cache === 'disk') {
      const onDisk = fromCache(key, outputCount, (k) => fromDisk(k), true);
      if (onDisk) {
        featureStats.diskHits++;
        onDisk.forEach((t, i) => toMemory(entryKey(key, i), t));
        return result(onDisk, 'disk', undefined, () => {});
      }
    }
  }

  const n = x.shape[0];
  const runner = await createPrefixRunner(prefix, route);
  for (const note of [route.note, runner.note]) if (note) console.log(note);
  const progress = new Progress(options.label ?? 'Frozen features', n, { unit: 'images' });
  let outputs: tf.Tensor[];
  try {
    outputs = await runPrefix(runner, x, options.batchSize ?? 32, (done) => {
      progress.tick(done);
      progress.checkInterrupt();
    });
  } catch (e) {
    progress.finish('failed');
    throw e;
  } finally {
    await runner.dispose();
  }
  progress.finish(`on ${runner.name}`);
  featureStats.computed++;
  featureStats.imagesComputed += n;
  if (!fingerprints) return result(outputs, 'computed', runner.engine, () => outputs.forEach((t) => t.dispose()), runner.provider);
  let values: Float32Array[] | undefined;
  try {
    values = cache === 'disk' ? await Promise.all(outputs.map((t) => t.data() as Promise<Float32Array>)) : undefined;
  } catch (e) {
    outputs.forEach((t) => t.dispose());
    throw e;
  }
  // Under the provider that really ran (a GPU one may have fallen back to the CPU).
  cacheOutputs(featureCacheKey(fingerprints.prefix, fingerprints.input, routeTag(runner.engine, runner.provider)), outputs, cache, values);
  return result(outputs, 'computed', runner.engine, () => {}, runner.provider);
}

/**
 * The outputs of `prefix` for `x`, synchronously, for tfjs' synchronous `model.predict` and
 * `model.evaluate`: from the caches (features any engine computed, e.g. ONNX Runtime during fit),
 * or computed now on tfjs (ONNX Runtime only runs asynchronously) and cached like the others.
 * On webgpu the caches are skipped (their keys need the weights' and inputs' values, which that
 * backend cannot read synchronously): the prefix runs on tfjs every time.
 */
export function frozenFeaturesSync(prefix: tf.LayersModel, x: tf.Tensor, options: Omit<FeatureOptions, 'executor'> = {}): Features {
  const cache = options.cache ?? 'memory';
  if (!CACHE_MODES.includes(cache)) {
    throw new ValueError(`cache must be 'memory', 'disk' or false. Received ${JSON.stringify(options.cache)}.`);
  }
  if (cache !== false && !canReadSync()) return frozenFeaturesSync(prefix, x, { ...options, cache: false });
  const outputCount = prefix.outputs.length;
  const result = (outputs: tf.Tensor[], source: Features['source'], engine: ExecutorName | undefined, release: () => void): Features => ({
    features: outputs[0],
    outputs,
    source,
    executor: engine,
    provider: undefined,
    release,
  });
  const fingerprints = cache ? { prefix: fingerprintModel(prefix), input: fingerprintTensor(x) } : undefined;
  if (fingerprints) {
    // Whatever computed them: ONNX Runtime on any provider, or tfjs.
    const tags = [...(onnxAvailable() ? PROVIDER_ORDER.map((p) => routeTag('onnx', p)) : []), 'tfjs'];
    for (const tag of tags) {
      const key = featureCacheKey(fingerprints.prefix, fingerprints.input, tag);
      const inMemory = fromCache(key, outputCount, fromMemory);
      if (inMemory) {
        featureStats.memoryHits++;
        return result(inMemory, 'memory', undefined, () => {});
      }
      const inShared = fromSharedCache(key, outputCount);
      if (inShared) return result(inShared, 'shared', undefined, () => {});
      const onDisk = cache === 'disk' ? fromCache(key, outputCount, (k) => fromDisk(k), true) : undefined;
      if (onDisk) {
        featureStats.diskHits++;
        onDisk.forEach((t, i) => toMemory(entryKey(key, i), t));
        return result(onDisk, 'disk', undefined, () => {});
      }
    }
  }
  const predicted = tfjsPredict(prefix, x, { batchSize: options.batchSize ?? 32 });
  const outputs = Array.isArray(predicted) ? predicted : [predicted];
  featureStats.computed++;
  featureStats.imagesComputed += x.shape[0];
  if (!fingerprints) return result(outputs, 'computed', 'tfjs', () => outputs.forEach((t) => t.dispose()));
  const key = featureCacheKey(fingerprints.prefix, fingerprints.input, 'tfjs');
  cacheOutputs(key, outputs, cache);
  return result(outputs, 'computed', 'tfjs', () => {});
}
