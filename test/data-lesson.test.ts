/**
 * Choosing the lesson's data: real files when present; otherwise the synthetic
 * stand-in, made once and announced with a loud banner; incomplete real data and
 * a synthetic folder that holds other files are errors, not silent fallbacks.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { KERNEL_HOOK } from '../lib/notebook/kernel-hook';
import { DataFileError, ValueError } from '../lib/core/errors';
import { dollarStreetSource, loadLessonData, resolveLessonData } from '../lib/data/lesson-data';
import { encodeNpy } from '../lib/data/npy';
import { makeSyntheticDollarStreet } from '../lib/data/synthetic';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-lesson-data-'));
const small = { train: 20, test: 10, size: 16, seed: 3 };
before(async () => {
  await ready();
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  delete (globalThis as any)[KERNEL_HOOK];
});

/** Runs `fn`, returning what it printed on stdout (console.log and display both write there). */
async function capture<T>(fn: () => Promise<T>): Promise<{ result: T; out: string }> {
  const printed: string[] = [];
  const write = process.stdout.write;
  // Record and pass through: the test runner reports results on the same stream.
  process.stdout.write = ((chunk: string, ...rest: any[]) => (
    printed.push(String(chunk)),
    write.call(process.stdout, chunk, ...rest)
  )) as typeof process.stdout.write;
  try {
    const result = await fn();
    return { result, out: printed.join('') };
  } finally {
    process.stdout.write = write;
  }
}

/** A folder with the four files, written by our writer (as if downloaded). */
function realFolder(name: string, leaveOut: string[] = []): string {
  const folder = path.join(tmp, name);
  fs.mkdirSync(folder, { recursive: true });
  const files: { [file: string]: Buffer } = {
    'train_images.npy': encodeNpy(new Uint8Array(4 * 8 * 8 * 3).fill(200), [4, 8, 8, 3]),
    'train_labels.npy': encodeNpy(new BigInt64Array([0n, 1n, 2n, 3n]), [4]),
    'test_images.npy': encodeNpy(new Uint8Array(2 * 8 * 8 * 3).fill(100), [2, 8, 8, 3]),
    'test_labels.npy': encodeNpy(new BigInt64Array([4n, 5n]), [2]),
  };
  for (const [file, bytes] of Object.entries(files)) if (!leaveOut.includes(file)) fs.writeFileSync(path.join(folder, file), bytes);
  return folder;
}

describe('dollarStreetSource', () => {
  test('tells real, synthetic, partial and missing folders apart', async () => {
    assert.equal((await dollarStreetSource(realFolder('source-real'))).kind, 'real');
    const partial = await dollarStreetSource(realFolder('source-partial', ['test_labels.npy']));
    assert.equal(partial.kind, 'partial');
    assert.deepEqual(partial.missing, ['test_labels.npy']);
    assert.equal((await dollarStreetSource(path.join(tmp, 'nowhere'))).kind, 'missing');
    const synthetic = path.join(tmp, 'source-synthetic');
    await makeSyntheticDollarStreet(synthetic, small);
    const s = await dollarStreetSource(synthetic);
    assert.equal(s.kind, 'synthetic');
    assert.equal(s.manifest?.seed, 3);
  });
});

describe('loadLessonData', () => {
  test('uses the real files when present, quietly but saying where from', async () => {
    const folder = realFolder('real');
    const { result, out } = await capture(() => loadLessonData({ folder, syntheticFolder: path.join(tmp, 'unused') }));
    assert.equal(result.source, 'real');
    assert.equal(result.folder, folder);
    assert.doesNotMatch(out, /SYNTHETIC/);
    assert.match(out, /Using the real Dollar Street 10/);
    assert.deepEqual(result.trainImages.shape, [4, 8, 8, 3]);
    assert.equal(fs.existsSync(path.join(tmp, 'unused')), false, 'no synthetic set is made');
    tf.dispose([result.trainImages, result.trainLabels, result.valImages, result.valLabels]);
  });

  test('falls back to the synthetic stand-in with a loud banner, and makes it only once', async () => {
    const folder = path.join(tmp, 'absent');
    const syntheticFolder = path.join(tmp, 'synthetic-twin');
    const first = await capture(() => loadLessonData({ folder, syntheticFolder, synthetic: small }));
    assert.equal(first.result.source, 'synthetic');
    assert.equal(first.result.folder, syntheticFolder);
    assert.match(first.out, /USING SYNTHETIC STAND-IN DATA: the Dollar Street 10 files are not in /);
    assert.match(first.out, /accuracies will NOT match the lesson's/);
    assert.match(first.out, /fetchDollarStreet\(/);
    assert.match(first.out, /zenodo\.org\/records\/10970014/);
    assert.match(first.out, /Made the synthetic stand-in/);
    assert.deepEqual(first.result.trainImages.shape, [20, 16, 16, 3]);
    tf.dispose([first.result.trainImages, first.result.trainLabels, first.result.valImages, first.result.valLabels]);

    const mtime = fs.statSync(path.join(syntheticFolder, 'train_images.npy')).mtimeMs;
    const second = await capture(() => resolveLessonData({ folder, syntheticFolder, synthetic: small }));
    assert.doesNotMatch(second.out, /Made the synthetic stand-in/);
    assert.match(second.out, /USING SYNTHETIC STAND-IN DATA/, 'the banner is shown every time');
    assert.equal(fs.statSync(path.join(syntheticFolder, 'train_images.npy')).mtimeMs, mtime);

    const other = await capture(() => resolveLessonData({ folder, syntheticFolder, synthetic: { ...small, seed: 4 } }));
    assert.match(other.out, /Made the synthetic stand-in/, 'other options make it again');
  });

  test('in a notebook the banner is a red HTML box', async () => {
    const shown: any[] = [];
    (globalThis as any)[KERNEL_HOOK] = { display: (data: unknown) => shown.push(data), interruptRequested: false };
    await capture(() =>
      resolveLessonData({ folder: path.join(tmp, 'absent'), syntheticFolder: path.join(tmp, 'synthetic-twin'), synthetic: small }),
    );
    const banner = shown.find((b) => /SYNTHETIC/.test(b['text/plain']));
    assert.ok(banner, 'a banner was displayed');
    assert.match(banner['text/html'], /border:3px solid #c00/);
    assert.match(banner['text/html'], /USING SYNTHETIC STAND-IN DATA/);
  });

  test('a folder holding the synthetic set is announced as synthetic too', async () => {
    const folder = path.join(tmp, 'pointed-at-synthetic');
    await makeSyntheticDollarStreet(folder, small);
    const { result, out } = await capture(() => resolveLessonData({ folder }));
    assert.equal(result.source, 'synthetic');
    assert.match(out, /USING SYNTHETIC STAND-IN DATA: .* holds the synthetic stand-in, not the real files/);
  });

  test('incomplete real data is an error naming the missing file, not a silent fallback', async () => {
    const folder = realFolder('incomplete', ['test_images.npy', 'test_labels.npy']);
    await assert.rejects(resolveLessonData({ folder, syntheticFolder: path.join(tmp, 'never') }), (e: unknown) => {
      assert.ok(e instanceof DataFileError);
      assert.equal(e.file, path.join(folder, 'test_images.npy'));
      assert.match(e.message, /is missing, while train_images\.npy, train_labels\.npy are present: the real data is incomplete/);
      assert.match(e.message, /fetchDollarStreet/);
      return true;
    });
    assert.equal(fs.existsSync(path.join(tmp, 'never')), false);
  });

  test('a synthetic folder that holds other .npy files is never overwritten', async () => {
    const occupied = realFolder('occupied');
    const before = fs.readFileSync(path.join(occupied, 'train_images.npy'));
    await assert.rejects(
      resolveLessonData({ folder: path.join(tmp, 'absent-2'), syntheticFolder: occupied }),
      (e: unknown) => e instanceof ValueError && /holds \.npy files that were not made by makeSyntheticDollarStreet/.test(e.message),
    );
    assert.ok(fs.readFileSync(path.join(occupied, 'train_images.npy')).equals(before));
  });
});
