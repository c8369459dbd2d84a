/**
 * Computing a frozen prefix's outputs once per (weights, input): from the in-memory cache, the
 * disk cache, or by running the prefix batch by batch with a progress display.
 */
import { createHash } from 'crypto';
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../errors';
import { Progress } from '../progress';
import { fromDisk, fromMemory, toDiskIfWritable, toMemory } from './cache';
import { onnxAvailable } from '../onnx';
import { tfjsPredict } from '../train/tfjs-methods';
import { fingerprintModel, fingerprintTensor } from './fingerprint';
import { chooseExecutor, createPrefixRunner, Executor, ExecutorName, runPrefix } from './run';

/** Where features may be kept: in memory (default), also on disk, or not at all. */
export type FeatureCacheMode = 'memory' | 'disk' | false;

export interface FeatureOptions {
  /** Images per forward pass. Defaults to 32. */
  batchSize?: number;
  /** Engine for the prefix: 'auto' (ONNX Runtime when installed, else tfjs), 'tfjs' or 'onnx'. Defaults to 'auto'. */
  executor?: Executor;
  /** Defaults to 'memory'. */
  cache?: FeatureCacheMode;
  /** Shown in the progress display. Defaults to 'Frozen features'. */
  label?: string;
}

/** How often the prefix really ran, and how often the caches answered (tests and reports). */
export const featureStats = { computed: 0, imagesComputed: 0, memoryHits: 0, diskHits: 0 };

export interface Features {
  /** The prefix's first (usually only) output. */
  features: tf.Tensor;
  /** Every output of the prefix, in order (a prefix cut in several places has several). */
  outputs: tf.Tensor[];
  source: 'computed' | 'memory' | 'disk';
  /** The engine that computed them; undefined when they came from a cache. */
  executor: ExecutorName | undefined;
  /** Frees the features unless a cache owns them. */
  release(): void;
}

const CACHE_MODES: readonly FeatureCacheMode[] = ['memory', 'disk', false];

/** The cache key of the outputs of a prefix (by its fingerprint) for an input (by its fingerprint) on an engine. */
function cacheKey(prefixFingerprint: string, inputFingerprint: string, engine: ExecutorName): string {
  return createHash('sha256').update(`${prefixFingerprint}|${inputFingerprint}|${engine}`).digest('hex');
}

/** The cache entry of output `i` of a prefix whose key is `key`. */
const entryKey = (key: string, i: number) => (i === 0 ? key : `${key}-${i}`);

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
 * unexpected error is thrown only once every output is owned, so nothing leaks.
 */
function cacheOutputs(key: string, outputs: tf.Tensor[], cache: FeatureCacheMode): void {
  let failure: unknown;
  outputs.forEach((t, i) => {
    if (cache === 'disk' && failure === undefined) {
      try {
        toDiskIfWritable(entryKey(key, i), t);
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
  const executor = chooseExecutor(options.executor ?? 'auto');
  const outputCount = prefix.outputs.length;
  const result = (outputs: tf.Tensor[], source: Features['source'], engine: ExecutorName | undefined, release: () => void): Features =>
    ({ features: outputs[0], outputs, source, executor: engine, release });

  const key = cache ? cacheKey(fingerprintModel(prefix), fingerprintTensor(x), executor.name) : undefined;
  if (key) {
    const inMemory = fromCache(key, outputCount, fromMemory);
    if (inMemory) {
      featureStats.memoryHits++;
      return result(inMemory, 'memory', undefined, () => {});
    }
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
  const runner = await createPrefixRunner(prefix, executor.name);
  for (const note of [executor.note, runner.note]) if (note) console.log(note);
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
  progress.finish(`on ${executor.name}`);
  featureStats.computed++;
  featureStats.imagesComputed += n;
  if (!key) return result(outputs, 'computed', executor.name, () => outputs.forEach((t) => t.dispose()));
  cacheOutputs(key, outputs, cache);
  return result(outputs, 'computed', executor.name, () => {});
}

/**
 * The outputs of `prefix` for `x`, synchronously, for tfjs' synchronous `model.predict` and
 * `model.evaluate`: from the caches (features any engine computed, e.g. ONNX Runtime during fit),
 * or computed now on tfjs (ONNX Runtime only runs asynchronously) and cached like the others.
 */
export function frozenFeaturesSync(prefix: tf.LayersModel, x: tf.Tensor, options: Omit<FeatureOptions, 'executor'> = {}): Features {
  const cache = options.cache ?? 'memory';
  if (!CACHE_MODES.includes(cache)) {
    throw new ValueError(`cache must be 'memory', 'disk' or false. Received ${JSON.stringify(options.cache)}.`);
  }
  const outputCount = prefix.outputs.length;
  const result = (outputs: tf.Tensor[], source: Features['source'], engine: ExecutorName | undefined, release: () => void): Features =>
    ({ features: outputs[0], outputs, source, executor: engine, release });
  const fingerprints = cache ? { prefix: fingerprintModel(prefix), input: fingerprintTensor(x) } : undefined;
  if (fingerprints) {
    const engines: ExecutorName[] = onnxAvailable() ? ['onnx', 'tfjs'] : ['tfjs'];
    for (const engine of engines) {
      const key = cacheKey(fingerprints.prefix, fingerprints.input, engine);
      const inMemory = fromCache(key, outputCount, fromMemory);
      if (inMemory) {
        featureStats.memoryHits++;
        return result(inMemory, 'memory', undefined, () => {});
      }
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
  const key = cacheKey(fingerprints.prefix, fingerprints.input, 'tfjs');
  cacheOutputs(key, outputs, cache);
  return result(outputs, 'computed', 'tfjs', () => {});
}
