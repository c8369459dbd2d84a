/**
 * A feature-cache folder that cannot be written does not fail the fit: the features computed stay
 * in memory, one warning names the folder, the reason and TSLAB_DL_CACHE, and no tensor leaks.
 * Root ignores permission bits, so the real cases put a regular file where the folder should be
 * (that stops root too); EACCES, EROFS and ENOSPC are injected into `fs` (and EACCES is also made
 * for real with chmod when the tests do not run as root). TSLAB_DL_CACHE is restored after each test.
 */
import { after, afterEach, beforeEach, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PathLike } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { fit } from '../lib';
import { ready } from '../lib/backends/selection';
import { clearFeatureMemory, featureCacheFolder, resetUnwritableFolders } from '../lib/features/cache';
import { featureStats, frozenFeatures } from '../lib/features/extract';
import { splitFrozenPrefix } from '../lib/features/split';
import { lessonLikeModel } from './support/lesson-like-model';

// The module object itself: lib/features/cache.ts reads its functions through it, so mocks reach it.
const fs: typeof import('node:fs') = require('node:fs');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-unwritable-'));
const saved = process.env.TSLAB_DL_CACHE;
let warnings: string[] = [];
let dirCount = 0;
const freshDir = () => {
  const dir = path.join(tmp, `d${++dirCount}`);
  fs.mkdirSync(dir);
  return dir;
};

beforeEach(async () => {
  await ready();
  warnings = [];
  mock.method(console, 'warn', (...args: unknown[]) => void warnings.push(args.join(' ')));
  clearFeatureMemory();
  resetUnwritableFolders();
});
afterEach(() => {
  mock.restoreAll();
  if (saved === undefined) delete process.env.TSLAB_DL_CACHE;
  else process.env.TSLAB_DL_CACHE = saved;
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function data() {
  const x = tf.randomUniform([12, 8, 8, 3], 0, 1, 'float32', 21);
  const y = tf.tensor1d(
    Array.from({ length: 12 }, (_, i) => i % 3),
    'int32',
  );
  return { x, y };
}

/** The features of a fresh lesson-like model's frozen base, on the disk cache; checks that nothing leaks. */
async function computeOnDisk(): Promise<void> {
  const model = lessonLikeModel({ seed: 3 });
  const split = splitFrozenPrefix(model)!;
  const x = tf.randomUniform([6, 8, 8, 3], 0, 1, 'float32', 22);
  const tensors = tf.memory().numTensors;
  const computed = featureStats.computed;
  const features = await frozenFeatures(split.prefix, x, { cache: 'disk', executor: 'tfjs' });
  assert.equal(features.source, 'computed');
  assert.equal(featureStats.computed - computed, 1);
  assert.deepEqual(features.features.shape, [6, 6]);
  // Kept in memory: asking again does not compute again.
  assert.equal((await frozenFeatures(split.prefix, x, { cache: 'disk', executor: 'tfjs' })).source, 'memory');
  features.release();
  clearFeatureMemory();
  assert.equal(tf.memory().numTensors, tensors, 'every tensor computed is freed again');
  x.dispose();
  model.dispose();
}

/** The one warning: the folder, the reason, and the variable that moves the cache. */
function expectOneWarning(folder: string, reason: RegExp): void {
  assert.equal(warnings.length, 1, `warnings: ${JSON.stringify(warnings)}`);
  const [warning] = warnings;
  assert.ok(!warning.includes('\n'), 'one line');
  assert.ok(warning.startsWith(`tslab-dl: cannot write the feature cache in ${folder} (`), warning);
  assert.match(warning, reason);
  assert.match(warning, /the features stay in memory only, so a new kernel session computes them again/);
  assert.match(warning, /set TSLAB_DL_CACHE to a writable folder \(the cache goes to \$TSLAB_DL_CACHE\/features\), e\.g\. TSLAB_DL_CACHE=/);
}

test('TSLAB_DL_CACHE naming a regular file (stops root too): model.fit completes on features kept in memory, one warning', async () => {
  const file = path.join(freshDir(), 'not-a-folder');
  fs.writeFileSync(file, 'a file');
  process.env.TSLAB_DL_CACHE = file;
  const { x, y } = data();
  const model = lessonLikeModel({ seed: 4 });
  const history = await fit(model, x, y, { batchSize: 4, epochs: 2, verbose: 0, cache: 'disk' });
  assert.equal(history.history.loss.length, 2);
  expectOneWarning(featureCacheFolder(), /\(ENOTDIR: a file is where a folder should be\)/);
  assert.equal(fs.readFileSync(file, 'utf8'), 'a file', 'the file is left alone');
  // A second fit: the features come from memory, and the warning is not repeated.
  const computed = featureStats.computed;
  await fit(model, x, y, { batchSize: 4, epochs: 1, verbose: 0, cache: 'disk' });
  assert.equal(featureStats.computed, computed);
  assert.equal(warnings.length, 1);
  // (That the features computed are freed with the cache is checked on frozenFeatures below: fit
  // itself keeps its optimizer's state, whatever the cache does.)
  clearFeatureMemory();
  model.dispose();
  tf.dispose([x, y]);
});

test('a regular file where the features folder should be (EEXIST): computed once, kept in memory, nothing leaks', async () => {
  const base = freshDir();
  fs.writeFileSync(path.join(base, 'features'), 'in the way');
  process.env.TSLAB_DL_CACHE = base;
  await computeOnDisk();
  expectOneWarning(path.join(base, 'features'), /\((EEXIST|ENOTDIR): a file is where a folder should be\)/);
});

test('EACCES (injected: permission denied on the folder)', async () => {
  process.env.TSLAB_DL_CACHE = freshDir();
  const folder = featureCacheFolder();
  mock.method(fs, 'mkdirSync', () => {
    throw Object.assign(new Error(`EACCES: permission denied, mkdir '${folder}'`), { code: 'EACCES', path: folder });
  });
  await computeOnDisk();
  expectOneWarning(folder, /\(EACCES: permission denied\)/);
});

test('EACCES for real: a folder without write permission (not as root, which ignores it)', async (t) => {
  if (process.getuid?.() === 0) return t.skip('running as root: permission bits do not stop root (the injected case covers EACCES)');
  const base = freshDir();
  fs.mkdirSync(path.join(base, 'features'));
  fs.chmodSync(path.join(base, 'features'), 0o555);
  process.env.TSLAB_DL_CACHE = base;
  try {
    await computeOnDisk();
    expectOneWarning(path.join(base, 'features'), /\(EACCES: permission denied/);
  } finally {
    fs.chmodSync(path.join(base, 'features'), 0o755);
  }
});

test('EROFS (injected: a read-only file system)', async () => {
  process.env.TSLAB_DL_CACHE = freshDir();
  const folder = featureCacheFolder();
  const open = fs.openSync;
  mock.method(fs, 'openSync', (file: PathLike, ...rest: unknown[]) => {
    if (String(file).startsWith(folder))
      throw Object.assign(new Error(`EROFS: read-only file system, open '${file}'`), { code: 'EROFS', path: String(file) });
    return (open as (...args: unknown[]) => number)(file, ...rest);
  });
  await computeOnDisk();
  expectOneWarning(folder, /\(EROFS: a read-only file system at .*\.features\.part-\d+-[0-9a-f]{8}\)/);
});

test('ENOSPC (injected: the disk fills up mid-write): no partial entry is left', async () => {
  process.env.TSLAB_DL_CACHE = freshDir();
  const folder = featureCacheFolder();
  const write = fs.writeSync;
  let writes = 0;
  mock.method(fs, 'writeSync', (fd: number, ...rest: unknown[]) => {
    // The header line goes through; the payload does not fit.
    if (++writes > 1) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return (write as (...args: unknown[]) => number)(fd, ...rest);
  });
  await computeOnDisk();
  expectOneWarning(folder, /\(ENOSPC: no space left on the device\)/);
  assert.deepEqual(fs.readdirSync(folder), [], 'no entry and no .part file');
});
