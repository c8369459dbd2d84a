/**
 * The synthetic stand-in: same layout as the real files (checked by numpy),
 * deterministic for a seed, balanced, learnable (a nearest-centroid classifier
 * computed by numpy beats chance clearly), fast, and loadable round trip.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { ValueError } from '../lib/core/errors';
import { loadDollarStreet } from '../lib/data/dollarstreet';
import { generateSyntheticDollarStreet, makeSyntheticDollarStreet, readSyntheticManifest, SyntheticResult } from '../lib/data/synthetic';

const PYTHON = process.env.TSLAB_DL_PYTHON ?? '/usr/bin/python3';

function numpyMissing(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : `${PYTHON} cannot import numpy (apt-get install python3-numpy)`;
}

const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-synthetic-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('the full-size set (878 + 293 images of 64x64, seed 2)', () => {
  const folder = path.join(tmp, 'full');
  let made: SyntheticResult;
  before(async () => {
    await ready();
    made = await makeSyntheticDollarStreet(folder);
    console.log(`generated and wrote 878 + 293 synthetic images in ${made.seconds.toFixed(2)} s`);
  });

  test('is generated and written in well under a few seconds', () => {
    assert.ok(made.seconds < 3, `took ${made.seconds} s`);
  });

  test('writes the four files atomically (no temporary files left) and a manifest', async () => {
    assert.deepEqual(fs.readdirSync(folder).sort(), [
      'synthetic.json',
      'test_images.npy',
      'test_labels.npy',
      'train_images.npy',
      'train_labels.npy',
    ]);
    const manifest = await readSyntheticManifest(folder);
    assert.ok(manifest);
    assert.deepEqual([manifest.train, manifest.test, manifest.size, manifest.seed], [878, 293, 64, 2]);
    assert.equal(manifest.classes.length, 10);
    assert.equal(manifest.fileBytes['train_images.npy'], fs.statSync(path.join(folder, 'train_images.npy')).size);
  });

  test('numpy reads the real layout: uint8 images (n, 64, 64, 3) in 0..255, int64 labels, balanced classes; nearest centroid beats chance clearly', (t) => {
    const missing = numpyMissing();
    if (missing) return t.skip(missing);
    const run = spawnSync(PYTHON, [path.join(__dirname, 'python', 'data_nearest_centroid.py'), folder], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    assert.deepEqual(report.dtypes, ['|u1', '<i8', '|u1', '<i8']);
    assert.deepEqual(report.shapes, [[878, 64, 64, 3], [878], [293, 64, 64, 3], [293]]);
    for (const counts of [report.train_counts, report.val_counts]) {
      const total = counts.reduce((a: number, b: number) => a + b, 0);
      for (const c of counts) assert.ok(Math.abs(c - total / 10) <= 1, `unbalanced: ${counts}`);
    }
    assert.ok(report.pixel_range[0] <= 5 && report.pixel_range[1] >= 250, `pixel range ${report.pixel_range}`);
    console.log(`nearest-centroid validation accuracy on the synthetic set: ${(report.accuracy * 100).toFixed(1)}% (chance 10%)`);
    assert.ok(report.accuracy >= 0.2, `nearest centroid reached only ${report.accuracy}`);
  });

  test('loads back with the shapes, dtypes and values written', async () => {
    const started = Date.now();
    const data = await loadDollarStreet(folder);
    console.log(`loadDollarStreet on the full synthetic set: ${Date.now() - started} ms`);
    const expected = generateSyntheticDollarStreet();
    assert.deepEqual(data.trainImages.shape, [878, 64, 64, 3]);
    assert.deepEqual(data.valImages.shape, [293, 64, 64, 3]);
    assert.deepEqual(
      [data.trainImages.dtype, data.trainLabels.dtype, data.valImages.dtype, data.valLabels.dtype],
      ['float32', 'int32', 'float32', 'int32'],
    );
    assert.deepEqual(Array.from(data.trainImages.dataSync()), Array.from(expected.train.images));
    assert.deepEqual(Array.from(data.valImages.dataSync()), Array.from(expected.test.images));
    assert.deepEqual(Array.from(data.trainLabels.dataSync()), Array.from(expected.train.labels, Number));
    assert.deepEqual(Array.from(data.valLabels.dataSync()), Array.from(expected.test.labels, Number));
    tf.dispose(Object.values(data));
  });
});

describe('determinism', () => {
  const small = { train: 30, test: 20, size: 32 };

  test('the same seed gives the same bytes; another seed does not', () => {
    const a = generateSyntheticDollarStreet({ ...small, seed: 5 });
    const b = generateSyntheticDollarStreet({ ...small, seed: 5 });
    const c = generateSyntheticDollarStreet({ ...small, seed: 6 });
    assert.equal(md5(a.train.images), md5(b.train.images));
    assert.equal(md5(a.test.images), md5(b.test.images));
    assert.deepEqual(a.train.labels, b.train.labels);
    assert.notEqual(md5(a.train.images), md5(c.train.images));
  });

  test('the validation split does not depend on the number of training images', () => {
    const a = generateSyntheticDollarStreet({ ...small, train: 10 });
    const b = generateSyntheticDollarStreet({ ...small, train: 50 });
    assert.equal(md5(a.test.images), md5(b.test.images));
  });

  test('makeSyntheticDollarStreet writes identical files for identical options', async () => {
    const one = await makeSyntheticDollarStreet(path.join(tmp, 'one'), { ...small, seed: 9 });
    const two = await makeSyntheticDollarStreet(path.join(tmp, 'two'), { ...small, seed: 9 });
    for (let i = 0; i < 4; i++) assert.equal(md5(fs.readFileSync(one.files[i])), md5(fs.readFileSync(two.files[i])));
  });

  test('every class is present and different classes look different (mean colour of the drawn object)', () => {
    const { train } = generateSyntheticDollarStreet({ train: 200, test: 10, size: 32, seed: 1 });
    const sums = Array.from({ length: 10 }, () => [0, 0, 0, 0]);
    for (let i = 0; i < train.count; i++) {
      const k = Number(train.labels[i]);
      for (let p = 0; p < 32 * 32; p++) for (let c = 0; c < 3; c++) sums[k][c] += train.images[i * 32 * 32 * 3 + p * 3 + c];
      sums[k][3] += 32 * 32;
    }
    const means = sums.map(([r, g, b, n]) => [r / n, g / n, b / n]);
    for (let a = 0; a < 10; a++) {
      assert.ok(sums[a][3] > 0, `class ${a} never drawn`);
      for (let b = a + 1; b < 10; b++) {
        const distance = Math.hypot(means[a][0] - means[b][0], means[a][1] - means[b][1], means[a][2] - means[b][2]);
        assert.ok(distance > 1, `classes ${a} and ${b} have the same mean colour`);
      }
    }
  });
});

describe('options', () => {
  test('invalid options name the option and the value', async () => {
    await assert.rejects(
      makeSyntheticDollarStreet(path.join(tmp, 'bad'), { train: 0 }),
      (e: Error) => e instanceof ValueError && /`train` must be an integer >= 1\. Received 0/.test(e.message),
    );
    assert.throws(() => generateSyntheticDollarStreet({ size: 8 }), /`size` must be an integer >= 16\. Received 8/);
    assert.throws(() => generateSyntheticDollarStreet({ seed: -1 }), /`seed` must be an integer in 0\.\.4294967295\. Received -1/);
    assert.throws(() => generateSyntheticDollarStreet({ test: 2.5 }), /`test` must be an integer >= 1\. Received 2\.5/);
    assert.equal(fs.existsSync(path.join(tmp, 'bad')), false, 'nothing is written for invalid options');
  });

  test('other sizes keep the layout', async () => {
    const made = await makeSyntheticDollarStreet(path.join(tmp, 'size48'), { train: 12, test: 7, size: 48, seed: 0 });
    const data = await loadDollarStreet(made.folder);
    assert.deepEqual(data.trainImages.shape, [12, 48, 48, 3]);
    assert.deepEqual(data.valLabels.shape, [7]);
    tf.dispose(Object.values(data));
  });
});
