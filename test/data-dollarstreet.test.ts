/**
 * loadDollarStreet: folders numpy wrote in many dtypes and both byte orders load
 * with the values numpy reads; every validation error names its file and leaves
 * no tensor allocated.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { DataFileError } from '../lib/core/errors';
import { DOLLAR_STREET_CLASSES, DollarStreetData, loadDollarStreet } from '../lib/data/dollarstreet';
import { sparseNpy } from './support/sparse-npy';
import { encodeNpy, NpyData } from '../lib/data/npy';

const PYTHON = process.env.TSLAB_DL_PYTHON ?? '/usr/bin/python3';

function numpyMissing(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : `${PYTHON} cannot import numpy (apt-get install python3-numpy)`;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-dollarstreet-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
before(async () => {
  await ready();
});

function disposeAll(data: DollarStreetData): void {
  for (const t of Object.values(data)) (t as tf.Tensor).dispose();
}

test('DOLLAR_STREET_CLASSES lists the ten classes in label order', () => {
  assert.deepEqual(
    [...DOLLAR_STREET_CLASSES],
    [
      'day bed',
      'dishrag',
      'plate',
      'running shoe',
      'soap dispenser',
      'street sign',
      'table lamp',
      'tile roof',
      'toilet seat',
      'washing machine',
    ],
  );
});

describe('folders written by numpy', () => {
  const missing = numpyMissing();
  // Image and label dtypes paired so that every one of each appears, in both byte orders.
  const pairs: [string, string][] = [
    ['|u1', '<i8'],
    ['<i4', '>i8'],
    ['>i4', '<i4'],
    ['<i8', '|u1'],
    ['>i8', '>i4'],
    ['<f4', '<f4'],
    ['>f4', '>f8'],
    ['<f8', '<u8'],
    ['>f8', '<i2'],
    ['<u2', '<f8'],
  ];
  let written: { [folder: string]: { [file: string]: { shape: number[]; dtype: string; values: number[] } } } = {};

  before(() => {
    if (missing) return;
    const specs = pairs.map(([images, labels], i) => ({
      folder: path.join(tmp, `numpy-${i}`),
      images,
      labels,
      train: 6 + i,
      val: 3 + (i % 3),
      height: 5,
      width: 4,
    }));
    const run = spawnSync(PYTHON, [path.join(__dirname, 'python', 'data_dollarstreet_fixture.py')], {
      input: JSON.stringify(specs),
      encoding: 'utf8',
    });
    if (run.status !== 0) throw new Error(run.stderr);
    written = JSON.parse(run.stdout);
  });

  test('images load as float32 [n, h, w, 3] and labels as int32 [n], equal to what numpy reads', async (t) => {
    if (missing) return t.skip(missing);
    for (const [i, [imageDtype, labelDtype]] of pairs.entries()) {
      const folder = path.join(tmp, `numpy-${i}`);
      const want = written[folder];
      const before = tf.memory().numTensors;
      const data = await loadDollarStreet(folder);
      assert.equal(tf.memory().numTensors, before + 4, 'exactly four tensors are made');
      const checks: [tf.Tensor, string, 'float32' | 'int32'][] = [
        [data.trainImages, 'train_images.npy', 'float32'],
        [data.trainLabels, 'train_labels.npy', 'int32'],
        [data.valImages, 'test_images.npy', 'float32'],
        [data.valLabels, 'test_labels.npy', 'int32'],
      ];
      for (const [tensor, file, dtype] of checks) {
        const label = `${file} written as ${file.includes('images') ? imageDtype : labelDtype}`;
        assert.equal(tensor.dtype, dtype, label);
        assert.deepEqual(tensor.shape, want[file].shape, label);
        const values = tensor.dataSync();
        const expected = want[file].values;
        assert.equal(values.length, expected.length, label);
        for (let k = 0; k < expected.length; k++) {
          if (values[k] !== Math.fround(expected[k])) assert.fail(`${label}[${k}]: loaded ${values[k]}, numpy has ${expected[k]}`);
        }
      }
      disposeAll(data);
      assert.equal(tf.memory().numTensors, before);
    }
  });
});

describe('validation errors name the file, say what to do, and leave no tensor behind', () => {
  const n = 6;
  const size = 8;
  const pixels = (count: number, h = size, w = size, c = 3) => {
    const a = new Uint8Array(count * h * w * c);
    for (let i = 0; i < a.length; i++) a[i] = (i * 37) % 256;
    return a;
  };
  const labels = (count: number) => new BigInt64Array(Array.from({ length: count }, (_, i) => BigInt(i % 10)));

  /** A valid folder, with some files replaced by `overrides` (bytes, or undefined to leave the file out). */
  function folderWith(name: string, overrides: { [file: string]: Uint8Array | undefined } = {}): string {
    const folder = path.join(tmp, name);
    fs.mkdirSync(folder, { recursive: true });
    const files: { [file: string]: Uint8Array | undefined } = {
      'train_images.npy': encodeNpy(pixels(n), [n, size, size, 3]),
      'train_labels.npy': encodeNpy(labels(n), [n]),
      'test_images.npy': encodeNpy(pixels(4), [4, size, size, 3]),
      'test_labels.npy': encodeNpy(labels(4), [4]),
      ...overrides,
    };
    for (const [file, bytes] of Object.entries(files)) if (bytes) fs.writeFileSync(path.join(folder, file), bytes);
    return folder;
  }

  async function expectError(folder: string, file: string, ...patterns: RegExp[]): Promise<void> {
    const before = tf.memory().numTensors;
    await assert.rejects(loadDollarStreet(folder), (e: unknown) => {
      assert.ok(e instanceof DataFileError, `expected a DataFileError, got ${e}`);
      assert.equal(e.file, path.join(folder, file));
      assert.ok(e.message.startsWith(path.join(folder, file) + ': '), e.message);
      for (const pattern of patterns) assert.match(e.message, pattern);
      return true;
    });
    assert.equal(tf.memory().numTensors, before, 'no tensor is left allocated');
  }

  test('a valid folder loads (the baseline the other cases break)', async () => {
    const data = await loadDollarStreet(folderWith('valid'));
    assert.deepEqual(data.trainImages.shape, [n, size, size, 3]);
    assert.deepEqual(Array.from(data.trainLabels.dataSync()), [0, 1, 2, 3, 4, 5]);
    disposeAll(data);
  });

  test('missing files: where to download them, fetchDollarStreet, and the synthetic stand-in', async () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    await expectError(
      empty,
      'train_images.npy',
      /is missing \(and train_labels\.npy, test_images\.npy, test_labels\.npy\)/,
      /https:\/\/zenodo\.org\/records\/10970014/,
      /await fetchDollarStreet\(/,
      /makeSyntheticDollarStreet/,
    );
    await expectError(folderWith('one-missing', { 'test_labels.npy': undefined }), 'test_labels.npy', /^[^(]*is missing\. Download/);
  });

  test('a file that is not .npy, or is truncated, is named with the way to download it again', async () => {
    await expectError(
      folderWith('html', { 'test_images.npy': Buffer.from('<html>rate limited</html>') }),
      'test_images.npy',
      /is not a NumPy \.npy file/,
      /fetchDollarStreet\(.*\{ force: true \}\)/,
    );
    const full = encodeNpy(pixels(n), [n, size, size, 3]);
    await expectError(
      folderWith('truncated', { 'train_images.npy': full.subarray(0, full.length - 100) }),
      'train_images.npy',
      /is truncated: its header announces shape \(6, 8, 8, 3\)/,
    );
  });

  test('a valid train_images.npy over 2 GiB is too large, not damaged: its size, the limit, how to split it; no "download it again"', async () => {
    const folder = folderWith('huge');
    sparseNpy(path.join(folder, 'train_images.npy'), '|u1', [180000, 64, 64, 3]);
    await expectError(
      folder,
      'train_images.npy',
      /: is a valid \.npy file \(shape \(180000, 64, 64, 3\) of '\|u1'\), but too large to read into memory at once: it is 2\.1 GiB \(2211840128 bytes\), and Node\.js reads at most 2 GiB \(2147483647 bytes\) into one buffer/,
      /Split it into files of at most 174762 rows \(of 180000\)/,
    );
    await assert.rejects(loadDollarStreet(folder), (e: Error) => !/cannot be read|Download it again/.test(e.message));
  });

  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  test('a symbolic link loop as the data folder is ELOOP, naming the link, not "missing"', async () => {
    const loop = path.join(tmp, 'loop-self');
    fs.symlinkSync(loop, loop); // points at itself
    await expectError(
      loop,
      'train_images.npy',
      new RegExp(`: cannot be opened: ELOOP: a symbolic link loop: ${escape(loop)} points to ${escape(loop)}, which leads back to it\\. `),
      /Point the link at the folder that really holds the files \(`ls -l .*loop-self` shows where it points\), or replace it with that folder\./,
    );
    await assert.rejects(loadDollarStreet(loop), (e: Error) => !/is missing|download/i.test(e.message));
    // Two links pointing at each other, one level down.
    const a = path.join(tmp, 'loop-a');
    const b = path.join(tmp, 'loop-b');
    fs.symlinkSync(b, a);
    fs.symlinkSync(a, b);
    await expectError(
      a,
      'train_images.npy',
      new RegExp(`ELOOP: a symbolic link loop: ${escape(a)} points to ${escape(b)}, which leads back to it`),
    );
  });

  test('one file that is a symbolic link loop, or a folder, is named as such', async () => {
    const folder = folderWith('file-loop', { 'train_labels.npy': undefined });
    fs.symlinkSync(path.join(folder, 'train_labels.npy'), path.join(folder, 'train_labels.npy'));
    await expectError(
      folder,
      'train_labels.npy',
      /cannot be opened: ELOOP: a symbolic link loop: .*train_labels\.npy points to .*train_labels\.npy, which leads back to it/,
    );
    const dir = folderWith('file-dir', { 'test_images.npy': undefined });
    fs.mkdirSync(path.join(dir, 'test_images.npy'));
    await expectError(dir, 'test_images.npy', /: is a folder, not a file: the \.npy file should be at this path itself\./);
  });

  test('images that are not rank 4 with 3 channels', async () => {
    await expectError(
      folderWith('grey', { 'train_images.npy': encodeNpy(pixels(n, size, size, 1), [n, size, size]) }),
      'train_images.npy',
      /should hold colour images of shape \(n, height, width, 3\).*holds shape \(6, 8, 8\)/,
      /greyscale/,
    );
    await expectError(
      folderWith('rgba', { 'test_images.npy': encodeNpy(pixels(4, size, size, 4), [4, size, size, 4]) }),
      'test_images.npy',
      /holds shape \(4, 8, 8, 4\)/,
      /RGBA/,
    );
    await expectError(
      folderWith('channels-first', { 'train_images.npy': encodeNpy(pixels(n), [n, 3, size, size]) }),
      'train_images.npy',
      /channels-first/,
    );
  });

  test('image and label counts that differ', async () => {
    await expectError(
      folderWith('count', { 'train_labels.npy': encodeNpy(labels(n - 1), [n - 1]) }),
      'train_labels.npy',
      /holds 5 labels, but train_images\.npy holds 6 images/,
    );
  });

  test('labels outside 0..9, or not integers', async () => {
    const outside = labels(4);
    outside[2] = 10n;
    await expectError(
      folderWith('label-10', { 'test_labels.npy': encodeNpy(outside, [4]) }),
      'test_labels.npy',
      /label 10 at index 2 is outside 0\.\.9/,
    );
    const negative = new Int32Array([0, 1, -1, 3, 4, 5]);
    await expectError(
      folderWith('label-negative', { 'train_labels.npy': encodeNpy(negative, [n]) }),
      'train_labels.npy',
      /label -1 at index 2 is outside 0\.\.9/,
    );
    const fractional = new Float32Array([0, 1, 2, 2.5, 4, 5]);
    await expectError(
      folderWith('label-fraction', { 'train_labels.npy': encodeNpy(fractional, [n]) }),
      'train_labels.npy',
      /label 2\.5 at index 3 is not an integer/,
    );
    await expectError(
      folderWith('label-shape', { 'train_labels.npy': encodeNpy(new Int32Array(2 * n), [n, 2]) }),
      'train_labels.npy',
      /should hold one class index per image, shape \(n,\), but holds shape \(6, 2\)/,
    );
  });

  test('training and validation images of different sizes', async () => {
    await expectError(
      folderWith('sizes', { 'test_images.npy': encodeNpy(pixels(4, size, 6), [4, size, 6, 3]) }),
      'test_images.npy',
      /holds 8x6 images, but train_images\.npy holds 8x8 images/,
    );
  });

  test('an unsupported dtype is named', async () => {
    // A bool array: our writer does not write bools, so patch the type string of a uint8 file ('|u1' -> '|b1').
    const bytes = encodeNpy(new Uint8Array(n), [n]);
    const at = bytes.indexOf("'|u1'");
    bytes.write("'|b1'", at, 'latin1');
    await expectError(folderWith('bool', { 'train_labels.npy': bytes }), 'train_labels.npy', /dtype '\|b1' \(bool\)/, /Supported: uint8/);
  });

  test('a non-finite pixel is refused', async () => {
    const images = new Float32Array(pixels(n));
    images[17] = NaN;
    await expectError(
      folderWith('nan', { 'train_images.npy': encodeNpy(images, [n, size, size, 3]) }),
      'train_images.npy',
      /non-finite pixel value \(NaN\) at flat index 17/,
    );
  });

  test('64-bit integer pixels convert exactly as Number() would, whatever their sign and size', async () => {
    const specials = [-1n, -(2n ** 33n) - 7n, 2n ** 32n + 1n, 2n ** 53n + 3n, -(2n ** 62n), 255n, 0n];
    const signed = new BigInt64Array(n * size * size * 3).map((_, i) => specials[i % specials.length]);
    const unsigned = new BigUint64Array(4 * size * size * 3).map((_, i) => [2n ** 64n - 1n, 2n ** 32n, 7n][i % 3]);
    const folder = folderWith('int64-values', {
      'train_images.npy': encodeNpy(signed, [n, size, size, 3]),
      'test_images.npy': encodeNpy(unsigned, [4, size, size, 3]),
    });
    const write = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write; // the out-of-range warning is expected
    let data: DollarStreetData;
    try {
      data = await loadDollarStreet(folder);
    } finally {
      process.stderr.write = write;
    }
    assert.deepEqual(
      Array.from(data!.trainImages.dataSync()),
      Array.from(signed, (v) => Math.fround(Number(v))),
    );
    assert.deepEqual(
      Array.from(data!.valImages.dataSync()),
      Array.from(unsigned, (v) => Math.fround(Number(v))),
    );
    disposeAll(data!);
  });

  test('pixels already scaled to 0..1 load, with a warning', async () => {
    const scaled = new Float32Array(pixels(n)).map((v) => v / 255);
    const folder = folderWith('scaled', { 'train_images.npy': encodeNpy(scaled, [n, size, size, 3]) });
    const written: string[] = [];
    const write = process.stderr.write;
    // Record and pass through: the test runner reports results on the same stream.
    process.stderr.write = ((chunk: string, ...rest: any[]) => (
      written.push(String(chunk)),
      write.call(process.stderr, chunk, ...rest)
    )) as typeof process.stderr.write;
    let data: DollarStreetData;
    try {
      data = await loadDollarStreet(folder);
    } finally {
      process.stderr.write = write;
    }
    assert.match(written.join(''), /train_images\.npy: pixel values lie in 0\.\.1, as if already scaled to 0\.\.1/);
    disposeAll(data!);
  });
});

// The encodeNpy data types used above, checked here so a wrong type fails loudly rather than testing nothing.
test('fixture helpers write the dtypes the cases rely on', () => {
  const descr = (data: NpyData, shape: number[]) => /'descr': '([^']+)'/.exec(encodeNpy(data, shape).toString('latin1'))![1];
  assert.equal(descr(new BigInt64Array(1), [1]), '<i8');
  assert.equal(descr(new Float32Array(1), [1]), '<f4');
});
