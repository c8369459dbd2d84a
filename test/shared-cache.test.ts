/**
 * The shared cache from a learner's side: an instructor's prefetch (synthetic data, stand-in
 * weights) fills a folder; the lesson's cells, run in this process as the notebook writes them,
 * take the data, the stand-in weights and the frozen features from it (counted), and leave it
 * byte for byte as it was. Entries that were tampered with (a feature payload, a feature file
 * rewritten with a self-consistent header, the weights, the data) are refused with a warning
 * naming the file, and the learner's kernel falls back to its own cache and recomputes.
 */
import { after, before, beforeEach, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { clearFeatureMemory, featureStats, keras, lessonMode, loadDollarStreet, prefetch, sharedCacheStats, upscale } from '../lib';
import { resetSharedCacheVerdicts, sharedFileSync, SharedManifest } from '../lib/core/shared-cache';
import { toDisk } from '../lib/features/cache';
import { frozenFeatures } from '../lib/features/extract';
import { splitFrozenPrefix } from '../lib/features/split';
import { closedUrl } from './support/closed-url';
import { snapshotLines } from './support/tree-snapshot';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-shared-'));
const shared = path.join(tmp, 'shared');
const home = path.join(tmp, 'home');
const userCache = path.join(tmp, 'user-cache');
const SAMPLES = 12;
const ENV = [
  'TSLAB_DL_CACHE',
  'TSLAB_DL_SHARED_CACHE',
  'KERAS_HOME',
  'TSLAB_DL_WEIGHTS',
  'TSLAB_DL_ZENODO_URL',
  'TSLAB_DL_WEIGHTS_BASE_URL',
  'TSLAB_DL_SAMPLES',
];
const savedEnv = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
const savedCwd = process.cwd();

/** A copy of the shared cache (mtimes kept) to tamper with. */
function copyOfShared(name: string): string {
  const copy = path.join(tmp, name);
  fs.cpSync(shared, copy, { recursive: true, preserveTimestamps: true });
  return copy;
}

const manifestOf = (root: string): SharedManifest => JSON.parse(fs.readFileSync(path.join(root, 'manifest.json'), 'utf8'));

let printed: string[] = [];
let warnings: string[] = [];

/** The lesson notebook's cells 6-8 for `images`: seed 2, the input, the upscale, DenseNet121 with 'imagenet' weights, frozen. */
async function frozenLessonBase(images: tf.Tensor): Promise<{ inputs: tf.SymbolicTensor; base: tf.LayersModel }> {
  keras.utils.setRandomSeed(2);
  const inputs = keras.Input(images.shape.slice(1));
  const upscaled = upscale({ height: 160, width: 160, method: 'bilinear' }).apply(inputs) as tf.SymbolicTensor;
  const base = await keras.applications.DenseNet121({
    includeTop: false,
    pooling: 'max',
    weights: 'imagenet',
    inputTensor: upscaled,
    inputShape: [160, 160, 3],
  });
  base.trainable = false;
  return { inputs, base };
}

/** The lesson notebook's cells 2-14 (epochs: 2), as a learner's kernel runs them. */
async function lessonCells(): Promise<{ notes: string[] }> {
  const data = await loadDollarStreet('data/dataset_dollarstreet/');
  const { trainLabels, valLabels } = data;
  const trainImages = data.trainImages.div(255);
  const valImages = data.valImages.div(255);
  const { inputs, base } = await frozenLessonBase(trainImages);
  let out = base.output as tf.SymbolicTensor;
  out = keras.layers.Flatten().apply(out) as tf.SymbolicTensor;
  out = keras.layers.BatchNormalization().apply(out) as tf.SymbolicTensor;
  out = keras.layers.Dense(50, { activation: 'relu' }).apply(out) as tf.SymbolicTensor;
  out = keras.layers.Dropout(0.5).apply(out) as tf.SymbolicTensor;
  out = keras.layers.Dense(10).apply(out) as tf.SymbolicTensor;
  const model = keras.models.Model({ inputs, outputs: out });
  model.compile({ optimizer: 'adam', loss: keras.losses.SparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  const from = printed.length;
  await model.fit(trainImages, trainLabels, { batchSize: 32, epochs: 2, validationData: [valImages, valLabels] });
  await model.evaluate(valImages, valLabels);
  const notes = printed.slice(from).filter((line) => line.startsWith('Frozen prefix'));
  model.dispose();
  tf.dispose([trainImages, valImages, ...Object.values(data)]);
  return { notes };
}

/** featureStats and sharedCacheStats since `before` (a copy taken earlier). */
function delta<T extends Record<string, number>>(now: T, before: T): T {
  return Object.fromEntries(Object.entries(now).map(([k, v]) => [k, v - before[k]])) as T;
}

describe('the shared cache, read by a learner', { timeout: 600_000 }, () => {
  before(async () => {
    fs.mkdirSync(home);
    const closed = await closedUrl();
    Object.assign(process.env, {
      TSLAB_DL_CACHE: userCache,
      KERAS_HOME: path.join(tmp, 'keras'),
      TSLAB_DL_ZENODO_URL: closed,
      TSLAB_DL_WEIGHTS_BASE_URL: `${closed}/`,
    });
    delete process.env.TSLAB_DL_SHARED_CACHE;
    delete process.env.TSLAB_DL_SAMPLES;
    await prefetch({ to: shared, data: 'synthetic', samples: SAMPLES, weights: 'stand-in', log: () => {} });
    // The learner's kernel: lesson mode, stand-in weights, the shared cache, a home without data.
    process.env.TSLAB_DL_WEIGHTS = 'stand-in';
    process.env.TSLAB_DL_SHARED_CACHE = shared;
    process.chdir(home);
    mock.method(console, 'log', (...args: unknown[]) => void printed.push(args.join(' ')));
    mock.method(console, 'warn', (...args: unknown[]) => void warnings.push(args.join(' ')));
    await lessonMode();
  });

  beforeEach(() => {
    printed = [];
    warnings = [];
    clearFeatureMemory();
    resetSharedCacheVerdicts();
    process.env.TSLAB_DL_SHARED_CACHE = shared;
    fs.rmSync(userCache, { recursive: true, force: true });
    fs.rmSync(path.join(home, 'data'), { recursive: true, force: true });
  });

  after(async () => {
    await lessonMode({ on: false });
    mock.restoreAll();
    process.chdir(savedCwd);
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('the prefetch lists every file with its sha256 and size, 0644 files in 0755 folders', () => {
    const manifest = manifestOf(shared);
    const names = Object.keys(manifest.files).sort();
    assert.equal(names.filter((n) => n.startsWith('data/dataset_dollarstreet/')).length, 5, names.join(', '));
    assert.equal(names.filter((n) => /^models\/standin\/densenet121_standin_[0-9a-f]{16}_notop\.h5$/.test(n)).length, 1, names.join(', '));
    assert.equal(names.filter((n) => /^features\/[0-9a-f]{64}\.features$/.test(n)).length, 2, names.join(', '));
    for (const name of names) {
      const bytes = fs.readFileSync(path.join(shared, name));
      assert.deepEqual(manifest.files[name], { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length }, name);
    }
    for (const line of snapshotLines(shared)) assert.match(line, / (644|755) /, line);
    assert.equal(manifest.prefetched.weights, 'stand-in');
    assert.equal(manifest.prefetched.samples, SAMPLES);
  });

  test("the lesson's cells take data, stand-in weights and features from the shared cache, and leave it as it was", async () => {
    const before = snapshotLines(shared);
    const features0 = { ...featureStats };
    const shared0 = { ...sharedCacheStats };
    const { notes } = await lessonCells();
    const features = delta(featureStats, features0);
    const files = delta(sharedCacheStats, shared0);
    assert.equal(features.computed, 0, "no feature computed in the learner's kernel");
    assert.equal(features.sharedHits, 2, 'train and validation features from the shared cache');
    assert.equal(features.sharedRefused, 0);
    assert.equal(files.dataHits, 1);
    assert.equal(files.standInHits, 1);
    assert.equal(files.filesRefused, 0);
    assert.deepEqual(warnings, []);
    assert.match(notes.join('\n'), /^Frozen prefix \(429 layers\) computed once \(from the shared cache\)/);
    assert.ok(printed.some((l) => l.includes(`reading the instructor's copy in ${path.join(shared, 'data', 'dataset_dollarstreet')}`)));
    assert.deepEqual(snapshotLines(shared), before, 'the shared folder is unchanged: listing, modes, sizes, mtimes, hashes');
    assert.ok(!fs.existsSync(path.join(userCache, 'features')), 'nothing recomputed into the per-user cache');
    assert.ok(!fs.existsSync(path.join(home, 'data')), 'no data made or downloaded in the home folder');
    // Warm: each shared file was hashed once; a second run (memory cleared) hashes none again.
    clearFeatureMemory();
    const hashed = sharedCacheStats.filesHashed;
    const computed = featureStats.computed;
    await lessonCells();
    assert.equal(sharedCacheStats.filesHashed, hashed, 'verdicts are kept per file while size and mtime stay');
    assert.equal(featureStats.computed, computed);
  });

  /** The lesson's frozen prefix and scaled training images, built as the lesson builds them (from the shared cache). */
  async function lessonPrefix(): Promise<{ prefix: tf.LayersModel; x: tf.Tensor; dispose(): void }> {
    const data = await loadDollarStreet('data/dataset_dollarstreet/');
    const x = data.trainImages.div(255);
    const { inputs, base } = await frozenLessonBase(x);
    const model = keras.models.Model({
      inputs,
      outputs: keras.layers.Dense(10).apply(keras.layers.Flatten().apply(base.output) as tf.SymbolicTensor) as tf.SymbolicTensor,
    });
    const split = splitFrozenPrefix(model)!;
    return { prefix: split.prefix, x, dispose: () => (model.dispose(), tf.dispose([x, ...Object.values(data)])) };
  }

  /** The train features' entry of the prefetch (the larger of the two). */
  function trainEntry(root: string): string {
    const entries = Object.entries(manifestOf(root).files).filter(([n]) => n.startsWith('features/'));
    return entries.sort((a, b) => b[1].size - a[1].size)[0][0];
  }

  for (const variant of ['payload bytes changed', 'a self-consistent entry that does not match the manifest'] as const) {
    test(`a tampered shared feature entry (${variant}) is refused, recomputed, counted, and the per-user cache gets it`, async () => {
      const copy = copyOfShared(`tampered-features-${variant.length}`);
      const name = trainEntry(copy);
      const file = path.join(copy, name);
      const key = path.basename(name, '.features');
      if (variant === 'payload bytes changed') {
        const bytes = fs.readFileSync(file);
        bytes[bytes.length - 5] ^= 0xff;
        fs.writeFileSync(file, bytes);
      } else {
        // Its own header check passes (toDisk writes the payload's sha256): only the manifest tells.
        const [n] = JSON.parse(fs.readFileSync(file).subarray(0, fs.readFileSync(file).indexOf(0x0a)).toString()).shape;
        const fake = tf.ones([n, 1024]);
        toDisk(key, fake, path.join(copy, 'features'));
        fake.dispose();
      }
      const tampered = snapshotLines(copy);
      process.env.TSLAB_DL_SHARED_CACHE = copy;
      const lesson = await lessonPrefix();
      try {
        const stats0 = { ...featureStats };
        const result = await frozenFeatures(lesson.prefix, lesson.x, { cache: 'disk' });
        const stats = delta(featureStats, stats0);
        assert.equal(result.source, 'computed');
        assert.equal(stats.computed, 1);
        assert.equal(stats.sharedRefused, 1);
        assert.equal(stats.sharedHits, 0);
        assert.equal(warnings.length, 1, warnings.join('\n'));
        assert.ok(warnings[0].includes(file), warnings[0]);
        assert.match(warnings[0], /manifest\.json says|corrupt/);
        assert.match(warnings[0], /npx tslab-dl prefetch/);
        assert.ok(fs.existsSync(path.join(userCache, 'features', `${key}.features`)), 'the recomputed entry is in the per-user cache');
        // The recomputed features are the prefetch's (the intact original's values).
        const original = fs.readFileSync(path.join(shared, name));
        const payload = original.subarray(original.indexOf(0x0a) + 1);
        const expected = new Float32Array(payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.byteLength));
        const got = (await result.features.data()) as Float32Array;
        let worst = 0;
        for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(expected[i] - got[i]));
        assert.ok(worst < 1e-4, `largest difference ${worst}`);
        assert.deepEqual(snapshotLines(copy), tampered, 'the refused entry is left where it is, untouched');
        // A second lookup: from memory, no second warning.
        clearFeatureMemory();
        await frozenFeatures(lesson.prefix, lesson.x, { cache: 'disk' });
        assert.equal(warnings.length, 1);
      } finally {
        lesson.dispose();
      }
    });
  }

  test('tampered stand-in weights and data files are refused: the learner makes or fetches their own', async () => {
    const copy = copyOfShared('tampered-weights-data');
    const manifest = manifestOf(copy);
    const weights = Object.keys(manifest.files).find((n) => n.startsWith('models/standin/'))!;
    const labels = 'data/dataset_dollarstreet/train_labels.npy';
    for (const name of [weights, labels]) {
      const bytes = fs.readFileSync(path.join(copy, name));
      bytes[bytes.length - 1] ^= 0x01;
      fs.writeFileSync(path.join(copy, name), bytes);
    }
    const tampered = snapshotLines(copy);
    process.env.TSLAB_DL_SHARED_CACHE = copy;
    process.env.TSLAB_DL_SAMPLES = String(SAMPLES);
    try {
      const stats0 = { ...sharedCacheStats };
      const lesson = await lessonPrefix();
      lesson.dispose();
      const stats = delta(sharedCacheStats, stats0);
      assert.equal(stats.dataHits, 0);
      assert.equal(stats.standInHits, 0);
      assert.equal(stats.filesRefused, 2);
      assert.ok(
        warnings.some((w) => w.includes(path.join(copy, labels)) && /sha256 is [0-9a-f]{64}, manifest\.json says/.test(w)),
        warnings.join('\n'),
      );
      assert.ok(
        warnings.some((w) => w.includes(path.join(copy, weights))),
        warnings.join('\n'),
      );
      // Offline: the learner's own synthetic twin, and stand-in weights made in the per-user cache.
      assert.ok(fs.existsSync(path.join(home, 'data', `dataset_dollarstreet_synthetic_${SAMPLES}`, 'train_labels.npy')));
      assert.equal(fs.readdirSync(path.join(userCache, 'models', 'standin')).length, 1);
      assert.deepEqual(snapshotLines(copy), tampered, 'nothing in the shared cache deleted or rewritten');
    } finally {
      delete process.env.TSLAB_DL_SAMPLES;
    }
  });

  test('a file not in the manifest, or listed and missing, is refused; no entry at all is a plain miss', () => {
    const copy = copyOfShared('unlisted');
    fs.writeFileSync(path.join(copy, 'features', 'extra.features'), 'x');
    const listed = Object.keys(manifestOf(copy).files).find((n) => n.startsWith('features/'))!;
    fs.rmSync(path.join(copy, listed));
    const unlisted = sharedFileSync('features/extra.features', { root: copy });
    assert.equal(unlisted.status, 'refused');
    assert.match(warnings.at(-1)!, /not listed in manifest\.json/);
    assert.equal(sharedFileSync(listed, { root: copy }).status, 'refused');
    assert.match(warnings.at(-1)!, /listed in manifest\.json but missing/);
    const count = warnings.length;
    assert.deepEqual(sharedFileSync('features/none.features', { root: copy }), { status: 'absent' });
    assert.equal(warnings.length, count);
    fs.rmSync(path.join(copy, 'manifest.json'));
    resetSharedCacheVerdicts();
    assert.equal(
      sharedFileSync('data/dataset_dollarstreet/train_images.npy', { root: copy }).status,
      'refused',
      'no manifest: nothing is trusted',
    );
    assert.match(warnings.at(-1)!, /manifest\.json is missing/);
  });
});
