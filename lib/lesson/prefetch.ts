/**
 * Filling the shared cache once for a whole workshop (`npx tslab-dl prefetch`): the weights of the
 * applications asked for, the data, and the lesson's frozen DenseNet121 features, computed exactly
 * as the lesson notebook's fit and evaluate key them, then `manifest.json` listing every file with
 * its sha256 and size. Learners' kernels read the folder (lib/core/shared-cache.ts) and never write it.
 *
 * Every file is written atomically (a temporary name, then a rename) and ends up 0644 in 0755
 * folders whatever the umask, so that every learner can read it; the manifest is written last.
 * Running it again checks what is there (md5 of the weights, the synthetic set's manifest, the
 * features' own checksums, the previous manifest's hashes) and only redoes what is missing or damaged.
 */
import * as fsSync from 'fs';
import { promises as fs } from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import * as applications from '../applications';
import { ApplicationArgs } from '../applications/build-steps';
import { writeFileAtomic, replaceFileAtomic } from '../core/atomic-write';
import { DEFAULT_SHARED_CACHE } from '../core/cache-root';
import { ValueError } from '../core/errors';
import { setRandomSeed } from '../core/random';
import {
  readSharedManifest,
  sha256File,
  SHARED_MANIFEST,
  SHARED_MANIFEST_FORMAT,
  SharedManifest,
  SharedManifestFile,
} from '../core/shared-cache';
import {
  DOLLAR_STREET_FILES,
  dollarStreetSource,
  fetchDollarStreet,
  loadDollarStreet,
  makeSyntheticDollarStreet,
  SYNTHETIC_MANIFEST,
} from '../data';
import { isSyntheticUpToDate } from '../data/synthetic';
import { precomputeFeatures, PrecomputedFeatures } from '../features/precompute';
import { Executor } from '../features/run';
import { splitFrozenPrefix } from '../features/split';
import { upscale } from '../layers/upscale';
import { buildHead } from '../train/head';
import { SHARED_DATA_FOLDER } from './data';
import { standInWeights } from './stand-in-weights';

/** The lesson's network, the one whose features are precomputed. */
export const LESSON_APPLICATION = 'densenet121';
/** The side the lesson upscales its images to, and so the input size the weights are fetched for. */
const LESSON_SIZE = 160;

/** The applications prefetch knows, by the lower-case name the command line takes. */
const APPLICATIONS: Record<string, { name: string; build: (args: ApplicationArgs) => Promise<tf.LayersModel> }> = Object.fromEntries(
  ['DenseNet121', 'DenseNet169', 'DenseNet201', 'MobileNetV2', 'ResNet50', 'VGG16', 'EfficientNetB0', 'InceptionV3', 'Xception'].map(
    (name) => [
      name.toLowerCase(),
      { name, build: (applications as unknown as Record<string, (a: ApplicationArgs) => Promise<tf.LayersModel>>)[name] },
    ],
  ),
);

/** The application names {@link prefetch} accepts. */
export const PREFETCH_APPLICATIONS: readonly string[] = Object.freeze(Object.keys(APPLICATIONS));

/** Options of {@link prefetch}: where, which weights and data, and whether to precompute the features. */
export interface PrefetchOptions {
  /** The shared cache to fill. Defaults to $TSLAB_DL_SHARED_CACHE, else /var/cache/tslab-dl. */
  to?: string;
  /** Applications whose weights to fetch, lower-case, e.g. ['densenet121', 'mobilenetv2']. Defaults to ['densenet121'], the lesson's. */
  applications?: readonly string[];
  /** 'imagenet' (Keras' files, downloaded and md5-checked) or 'stand-in' (made offline, for tests and rooms without internet). Defaults to 'imagenet'. */
  weights?: 'imagenet' | 'stand-in';
  /** 'download' (from Zenodo), 'synthetic' (the synthetic twin), or a folder holding the four files to copy. Defaults to 'download'. */
  data?: string;
  /** Training images of the synthetic twin (validation: a third); only with data 'synthetic'. Defaults to the real data's sizes. */
  samples?: number;
  /** Precompute the lesson's frozen features. Defaults to true. */
  features?: boolean;
  /** The engine for the features. Defaults to $TSLAB_DL_EXECUTOR, else 'auto', as in the learners' kernels. */
  executor?: Executor;
  /** Where progress lines go. Defaults to console.log. */
  log?: (line: string) => void;
}

/** What {@link prefetch} did. */
export interface PrefetchResult {
  /** The shared cache's folder (absolute). */
  folder: string;
  /** The manifest written. */
  manifest: SharedManifest;
  /** The features entries (none with `features: false`). */
  features: (PrecomputedFeatures & { split: 'train' | 'validation' })[];
}

/** Options checked and defaults filled in. */
interface Plan {
  to: string;
  applications: string[];
  weights: 'imagenet' | 'stand-in';
  data: string;
  samples?: number;
  features: boolean;
  executor?: Executor;
  log: (line: string) => void;
}

/** Checks `options` before anything is written; throws a ValueError naming the option and value at fault. */
export function checkPrefetchOptions(options: PrefetchOptions = {}): Plan {
  const to = path.resolve(options.to ?? (process.env.TSLAB_DL_SHARED_CACHE || DEFAULT_SHARED_CACHE));
  const applications = [...(options.applications ?? [LESSON_APPLICATION])].map((a) => a.trim().toLowerCase());
  const unknown = applications.filter((a) => !Object.hasOwn(APPLICATIONS, a));
  if (applications.length === 0 || unknown.length > 0) {
    throw new ValueError(
      `prefetch: unknown application ${JSON.stringify(unknown[0] ?? '')}; the applications are ${PREFETCH_APPLICATIONS.join(', ')} (comma-separated, e.g. densenet121,mobilenetv2).`,
    );
  }
  const weights = options.weights ?? 'imagenet';
  if (weights !== 'imagenet' && weights !== 'stand-in') {
    throw new ValueError(`prefetch: weights must be 'imagenet' or 'stand-in'. Received ${JSON.stringify(weights)}.`);
  }
  const data = options.data ?? 'download';
  if (typeof data !== 'string' || data === '')
    throw new ValueError(`prefetch: data must be 'download', 'synthetic' or a folder. Received ${JSON.stringify(data)}.`);
  if (options.samples !== undefined) {
    if (!(Number.isInteger(options.samples) && options.samples > 0)) {
      throw new ValueError(
        `prefetch: samples must be a positive integer (training images of the synthetic set). Received ${JSON.stringify(options.samples)}.`,
      );
    }
    if (data !== 'synthetic') throw new ValueError(`prefetch: samples only applies to synthetic data; data is ${JSON.stringify(data)}.`);
  }
  checkDataFolder(data);
  return {
    to,
    applications: [...new Set(applications)],
    weights,
    data,
    samples: options.samples,
    features: options.features ?? true,
    executor: options.executor,
    log: options.log ?? console.log,
  };
}

/** What a file-system error code means for the shared cache's folder, in words. */
const UNWRITABLE: { [code: string]: string } = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'a read-only file system',
  ENOTDIR: 'a file is where a folder should be',
  EEXIST: 'a file is where a folder should be',
};

/** Makes `folder` (0755) and checks that this process can write it; throws an error naming it and the way out. */
async function writableFolder(folder: string): Promise<void> {
  try {
    await fs.mkdir(folder, { recursive: true, mode: 0o755 });
    if (!(await fs.stat(folder)).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    await fs.access(folder, fsSync.constants.W_OK | fsSync.constants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EACCES';
    const root = typeof process.getuid === 'function' && process.getuid() === 0;
    throw new ValueError(
      `prefetch: cannot write the shared cache folder ${folder} (${code}: ${UNWRITABLE[code] ?? (e as Error).message}). ` +
        (root || !['EACCES', 'EPERM'].includes(code)
          ? 'Choose another folder with --to DIR (learners then need TSLAB_DL_SHARED_CACHE=DIR).'
          : `It is machine-wide: run the prefetch as root (\`sudo npx tslab-dl prefetch\`), or choose a folder you can write with --to DIR (learners then need TSLAB_DL_SHARED_CACHE=DIR).`),
    );
  }
}

/** The names of temporary files (lib/core/atomic-write.ts): never listed, never chmod-ed. */
const TEMPORARY_NAME = /\.(part|tmp|old)-\d+-[0-9a-f]{8}$/;

/** Every file under `root` (relative paths, '/' separators, sorted), the manifest and temporary files left out. */
async function filesUnder(root: string, relative = ''): Promise<string[]> {
  const entries = await fs.readdir(path.join(root, relative), { withFileTypes: true });
  const found: string[] = [];
  for (const entry of entries) {
    const name = relative ? `${relative}/${entry.name}` : entry.name;
    if (TEMPORARY_NAME.test(entry.name) || name === SHARED_MANIFEST) continue;
    if (entry.isDirectory()) found.push(...(await filesUnder(root, name)));
    else if (entry.isFile()) found.push(name);
  }
  return found.sort();
}

/** Gives every folder under `root` mode 0755 and every file 0644: readable by every learner, whatever the umask was. */
async function openToReaders(root: string, relative = ''): Promise<void> {
  const folder = path.join(root, relative);
  await fs.chmod(folder, 0o755);
  for (const entry of await fs.readdir(folder, { withFileTypes: true })) {
    if (TEMPORARY_NAME.test(entry.name)) continue;
    const name = path.join(relative, entry.name);
    if (entry.isDirectory()) await openToReaders(root, name);
    else if (entry.isFile()) await fs.chmod(path.join(root, name), 0o644);
  }
}

/** Removes files the previous manifest lists whose content changed since: they are made again. */
async function dropDamaged(plan: Plan): Promise<void> {
  const previous = readSharedManifest(plan.to);
  if (!previous) return;
  for (const [name, listed] of Object.entries(previous.files)) {
    const file = path.join(plan.to, ...name.split('/'));
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat?.isFile()) continue;
    if (stat.size === listed.size && (await sha256File(file)) === listed.sha256) continue;
    plan.log(`prefetch: ${file} changed since the last prefetch: removing it, to make it again.`);
    await fs.rm(file, { force: true });
  }
}

/** The data folder of the shared cache, filled as `plan.data` asks. */
async function prefetchData(plan: Plan): Promise<string> {
  const folder = path.join(plan.to, SHARED_DATA_FOLDER);
  if (plan.data === 'download') {
    plan.log(`prefetch: data: Dollar Street 10 from Zenodo into ${folder}`);
    await fetchDollarStreet(folder);
    return folder;
  }
  const there = await dollarStreetSource(folder);
  if (plan.data === 'synthetic') {
    const wanted = plan.samples === undefined ? {} : { train: plan.samples, test: Math.max(1, Math.round(plan.samples / 3)) };
    if (there.kind === 'real' || (there.kind === 'partial' && !there.manifest)) {
      throw new ValueError(`prefetch: ${folder} holds the real Dollar Street files; remove them first to put a synthetic set there.`);
    }
    if (await isSyntheticUpToDate(folder, wanted)) {
      plan.log(`prefetch: data: the synthetic set in ${folder} is up to date`);
    } else {
      plan.log(`prefetch: data: making a synthetic set${plan.samples ? ` of ${plan.samples} training images` : ''} in ${folder}`);
      await makeSyntheticDollarStreet(folder, wanted);
    }
    return folder;
  }
  const from = path.resolve(plan.data);
  const source = await dollarStreetSource(from);
  const names = [...Object.values(DOLLAR_STREET_FILES), ...(source.manifest ? [SYNTHETIC_MANIFEST] : [])];
  plan.log(`prefetch: data: copying ${names.join(', ')} from ${from} into ${folder}`);
  for (const name of names) {
    const target = path.join(folder, name);
    const same = await Promise.all([sha256File(path.join(from, name)), sha256File(target).catch(() => undefined)]);
    if (same[0] === same[1]) continue;
    await replaceFileAtomic(target, (temporary) => fs.copyFile(path.join(from, name), temporary, fsSync.constants.COPYFILE_EXCL));
  }
  return folder;
}

/** Checks a data folder given by path: the four files must be there. */
function checkDataFolder(data: string): void {
  if (data === 'download' || data === 'synthetic') return;
  const from = path.resolve(data);
  const names = Object.values(DOLLAR_STREET_FILES);
  const missing = names.filter((name) => !fsSync.statSync(path.join(from, name), { throwIfNoEntry: false })?.isFile());
  if (missing.length > 0) {
    throw new ValueError(
      `prefetch: data must be 'download', 'synthetic' or a folder holding the four Dollar Street files; ${from} ` +
        (missing.length === names.length ? 'holds none of them' : `lacks ${missing.join(', ')}`) +
        ` (${names.join(', ')}).`,
    );
  }
}

/** Where the ImageNet files go, and no other cache looked at (Keras' may be the instructor's own, the shared one is being made). */
function weightsOptions(plan: Plan): ApplicationArgs['weightsOptions'] {
  const models = path.join(plan.to, 'models');
  return { cacheDir: models, kerasCacheDir: models, sharedCache: null };
}

/** Fetches (ImageNet) or makes (stand-in) the weights of `application` in the shared cache; returns what to build it with. */
async function prefetchWeights(plan: Plan, application: string, trainX: tf.Tensor): Promise<string> {
  const { name, build } = APPLICATIONS[application];
  if (plan.weights === 'stand-in') {
    plan.log(`prefetch: weights: stand-in weights of ${name} (calibrated on the training images)`);
    return standInWeights(name, { images: trainX, size: LESSON_SIZE, folder: path.join(plan.to, 'models', 'standin') });
  }
  plan.log(`prefetch: weights: ImageNet weights of ${name} (no top, for ${LESSON_SIZE}x${LESSON_SIZE} inputs)`);
  // Built as the lesson builds it, so that the file fetched is the one a learner's kernel asks for.
  const base = await build({
    includeTop: false,
    pooling: 'max',
    weights: 'imagenet',
    inputShape: [LESSON_SIZE, LESSON_SIZE, 3],
    weightsOptions: weightsOptions(plan),
    weightsFallback: 'error',
  });
  base.dispose();
  return 'imagenet';
}

/**
 * The lesson notebook's model (cells 5-9 of notebooks/01-transfer-learning.ipynb): the seed, an
 * input shaped like the images, the bilinear upscale to 160x160, DenseNet121 without its top and
 * with max pooling, frozen, and the lesson's head. The frozen prefix of this model is what the
 * notebook's fit and evaluate key their features by.
 */
async function lessonModel(plan: Plan, images: tf.Tensor, weights: string): Promise<tf.LayersModel> {
  setRandomSeed(2);
  const inputs = tf.input({ shape: images.shape.slice(1) });
  const upscaled = upscale({ height: LESSON_SIZE, width: LESSON_SIZE, method: 'bilinear' }).apply(inputs) as tf.SymbolicTensor;
  const base = await applications.DenseNet121({
    includeTop: false,
    pooling: 'max',
    weights,
    inputTensor: upscaled,
    inputShape: [LESSON_SIZE, LESSON_SIZE, 3],
    weightsOptions: weightsOptions(plan),
    weightsFallback: 'error',
  });
  base.trainable = false;
  return tf.model({ inputs, outputs: buildHead(base.output as tf.SymbolicTensor) });
}

/**
 * Fills the shared cache `options.to` (default $TSLAB_DL_SHARED_CACHE, else /var/cache/tslab-dl):
 * the data in `data/dataset_dollarstreet/`, the weights in `models/` (stand-in ones in
 * `models/standin/`), the lesson's frozen features in `features/`, and `manifest.json` listing
 * every file with its sha256 and size, written last. Idempotent: what is there and intact is kept.
 *
 * @throws A ValueError, before anything is written, for an unknown application, a bad sample
 *   count or data folder, or a folder that cannot be written (naming it, and `sudo` when it is
 *   a permission problem); download errors as the download code reports them.
 */
export async function prefetch(options: PrefetchOptions = {}): Promise<PrefetchResult> {
  const plan = checkPrefetchOptions(options);
  // Files and folders made from here on are readable by everyone (openToReaders fixes the rest).
  const umask = process.umask(0o022);
  try {
    await writableFolder(plan.to);
    return await fill(plan);
  } finally {
    process.umask(umask);
  }
}

async function fill(plan: Plan): Promise<PrefetchResult> {
  const started = Date.now();
  plan.log(`prefetch: filling the shared cache ${plan.to}`);
  await dropDamaged(plan);
  const dataFolder = await prefetchData(plan);
  const data = await loadDollarStreet(dataFolder);
  const features: PrefetchResult['features'] = [];
  let trainX: tf.Tensor | undefined;
  let valX: tf.Tensor | undefined;
  try {
    // As the notebook scales them (cell 4): the fingerprints of these tensors key the features.
    trainX = data.trainImages.div(255);
    valX = data.valImages.div(255);
    for (const application of plan.applications) {
      const weights = await prefetchWeights(plan, application, trainX);
      if (application !== LESSON_APPLICATION || !plan.features) continue;
      plan.log(
        `prefetch: features: the lesson's frozen DenseNet121 features of ${trainX.shape[0]} training and ${valX.shape[0]} validation images`,
      );
      const model = await lessonModel(plan, data.trainImages, weights);
      try {
        const split = splitFrozenPrefix(model);
        if (!split) throw new Error('prefetch: the lesson model has no frozen prefix (a bug: DenseNet121 was frozen).');
        const folder = path.join(plan.to, 'features');
        for (const [which, x] of [
          ['train', trainX],
          ['validation', valX],
        ] as const) {
          const done = await precomputeFeatures(split.prefix, x, folder, {
            executor: plan.executor,
            label: `Frozen base features (${which})`,
          });
          plan.log(
            `prefetch: features (${which}, ${done.route}): ${done.computed ? 'computed' : 'already there'}: ${done.files.join(', ')}`,
          );
          features.push({ ...done, split: which });
        }
      } finally {
        model.dispose();
      }
    }
  } finally {
    tf.dispose([trainX, valX, ...Object.values(data)].filter((t): t is tf.Tensor => t !== undefined));
  }
  if (!plan.features) plan.log('prefetch: features: skipped (--no-features)');
  else if (!plan.applications.includes(LESSON_APPLICATION))
    plan.log(`prefetch: features: skipped (they are ${LESSON_APPLICATION}'s, the lesson's network, which was not asked for)`);

  await openToReaders(plan.to);
  const files: Record<string, SharedManifestFile> = {};
  for (const name of await filesUnder(plan.to)) {
    const file = path.join(plan.to, ...name.split('/'));
    files[name] = { sha256: await sha256File(file), size: (await fs.stat(file)).size };
  }
  const manifest: SharedManifest = {
    format: SHARED_MANIFEST_FORMAT,
    version: packageVersion(),
    created: new Date().toISOString(),
    prefetched: {
      applications: plan.applications,
      weights: plan.weights,
      data: plan.data === 'download' || plan.data === 'synthetic' ? plan.data : path.resolve(plan.data),
      ...(plan.samples !== undefined ? { samples: plan.samples } : {}),
      features: features.map(({ split, route, key, files }) => ({
        application: LESSON_APPLICATION,
        split,
        route,
        key,
        files: files.map((f) => path.relative(plan.to, f).split(path.sep).join('/')),
      })),
    },
    files,
  };
  const manifestFile = path.join(plan.to, SHARED_MANIFEST);
  await writeFileAtomic(manifestFile, JSON.stringify(manifest, null, 2) + '\n');
  await fs.chmod(manifestFile, 0o644);
  const bytes = Object.values(files).reduce((sum, f) => sum + f.size, 0);
  plan.log(
    `prefetch: done in ${((Date.now() - started) / 1000).toFixed(1)} s: ${Object.keys(files).length} files, ${(bytes / 1e6).toFixed(1)} MB, listed in ${manifestFile}. ` +
      (plan.to === DEFAULT_SHARED_CACHE ? "Learners' kernels find it there." : `Learners' kernels need TSLAB_DL_SHARED_CACHE=${plan.to}.`),
  );
  return { folder: plan.to, manifest, features };
}

/** tslab-dl's version, from its package.json (found upwards from this module, in lib/ or dist/lib/). */
function packageVersion(): string {
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fsSync.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      if (pkg.name === 'tslab-dl') return String(pkg.version);
    } catch {
      // Not here: look further up.
    }
  }
  return 'unknown';
}
