/**
 * Writing a frozen prefix's features into a cache folder ahead of time, under the very keys a
 * later `fit` / `evaluate` looks them up by (lib/features/extract.ts): the prefix's and the
 * input's fingerprints and the engine's route tag. `npx tslab-dl prefetch` fills the shared
 * cache's `features/` with it, so that every learner's kernel finds the lesson's features there.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { hasIntactEntry, toDisk } from './cache';
import { featureCacheKey, featureEntryKey, frozenFeatures } from './extract';
import { fingerprintModelAsync, fingerprintTensorAsync } from './fingerprint';
import { Executor, resolveRoute, routeTag } from './run';

/** Options of {@link precomputeFeatures}: engine, batch size, progress label. */
export interface PrecomputeOptions {
  /** The engine, as frozenFeatures takes it. Defaults to $TSLAB_DL_EXECUTOR, else 'auto': what a learner's kernel uses by default. */
  executor?: Executor;
  /** Images per forward pass. Defaults to 32. */
  batchSize?: number;
  /** Shown in the progress display. */
  label?: string;
}

/** What {@link precomputeFeatures} did. */
export interface PrecomputedFeatures {
  /** The cache key (its entries: `<key>.features`, then `<key>-1.features` ... for further outputs). */
  key: string;
  /** The route tag the key was made with, e.g. 'onnx-cpu' or 'tfjs'. */
  route: string;
  /** The entries' paths. */
  files: string[];
  /** false: intact entries were there already, nothing was computed. */
  computed: boolean;
}

/**
 * Computes the outputs of `prefix` for `x` (unless `folder` already holds intact entries for them)
 * and writes them into `folder` as feature-cache entries, each atomically.
 */
export async function precomputeFeatures(
  prefix: tf.LayersModel,
  x: tf.Tensor,
  folder: string,
  options: PrecomputeOptions = {},
): Promise<PrecomputedFeatures> {
  const prefixFingerprint = await fingerprintModelAsync(prefix);
  const inputFingerprint = await fingerprintTensorAsync(x);
  const outputCount = prefix.outputs.length;
  const entries = (key: string) => Array.from({ length: outputCount }, (_, i) => featureEntryKey(key, i));
  const filesOf = (key: string) => entries(key).map((k) => path.join(folder, `${k}.features`));
  const planned = await resolveRoute(options.executor);
  const plannedTag = routeTag(planned.engine, planned.provider);
  const plannedKey = featureCacheKey(prefixFingerprint, inputFingerprint, plannedTag);
  if (entries(plannedKey).every((k) => hasIntactEntry(k, folder))) {
    return { key: plannedKey, route: plannedTag, files: filesOf(plannedKey), computed: false };
  }
  const computed = await frozenFeatures(prefix, x, {
    cache: false,
    executor: options.executor,
    batchSize: options.batchSize,
    label: options.label,
  });
  try {
    // Under the provider that really ran (a GPU one may have fallen back to the CPU), as frozenFeatures keys them.
    const tag = routeTag(computed.executor ?? 'tfjs', computed.provider);
    const key = featureCacheKey(prefixFingerprint, inputFingerprint, tag);
    const files: string[] = [];
    for (const [i, output] of computed.outputs.entries()) {
      files.push(toDisk(featureEntryKey(key, i), output, folder, (await output.data()) as Float32Array));
    }
    return { key, route: tag, files, computed: true };
  } finally {
    computed.release();
  }
}
