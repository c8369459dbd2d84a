/**
 * Temporary files left behind by a killed process (`<name>.part-<pid>-<hex>`, `<name>.tmp-<pid>-<hex>`)
 * are removed when their folder is next used, once older than a day: the download's destination
 * folder, tslab-dl's weights cache and the feature cache. A real process is killed mid-download to
 * leave one; younger files and files that only look alike are kept.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { downloadFile } from '../lib/net/download';
import { writeFileAtomic } from '../lib/core/atomic-write';
import { clearFeatureMemory, featureCacheFolder } from '../lib/features/cache';
import { frozenFeatures } from '../lib/features/extract';
import { splitFrozenPrefix } from '../lib/features/split';
import { removeStaleTemporaryFiles, STALE_AFTER_MS } from '../lib/core/stale-files';
import { getWeightsFile } from '../lib/weights/imagenet';
import { lessonLikeModel } from './support/lesson-like-model';

const ROOT = path.resolve(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-stale-'));
const body = Buffer.alloc(100_000, 7);
let url = '';
let server: http.Server;
let dirCount = 0;
const freshDir = () => {
  const dir = path.join(tmp, `d${++dirCount}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
};

before(async () => {
  server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    // /stall sends a third and then nothing: a download in progress, for a process to be killed in.
    if (req.url === '/stall') res.write(body.subarray(0, 30_000));
    else res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Makes a file `ageMs` old. */
function aged(file: string, ageMs: number, content = 'partial'): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  const when = new Date(Date.now() - ageMs);
  fs.utimesSync(file, when, when);
  return file;
}
const DAYS = (n: number) => n * 24 * 60 * 60 * 1000;

test(
  'a process killed mid-download leaves its .part; the next download into the folder removes it once a day old',
  { timeout: 30_000 },
  async () => {
    const folder = freshDir();
    const dest = path.join(folder, 'file.bin');
    // A real process, killed while its download waits on the stalled server.
    const script = `require(${JSON.stringify(path.join(ROOT, 'lib', 'net', 'download'))}).downloadFile(${JSON.stringify(`${url}/stall`)}, ${JSON.stringify(dest)});`;
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, stdio: 'ignore' });
    const until = Date.now() + 20_000;
    const parts = () => fs.readdirSync(folder).filter((f) => f.startsWith('file.bin.part-'));
    while (parts().length === 0 || fs.statSync(path.join(folder, parts()[0])).size < 30_000) {
      assert.ok(Date.now() < until, 'the child never started writing');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const [left] = parts();
    assert.match(left, new RegExp(`^file\\.bin\\.part-${child.pid}-[0-9a-f]{8}$`), 'the killed process left its .part file');

    // Younger than a day: perhaps another kernel's download in progress; kept.
    await downloadFile(`${url}/file.bin`, path.join(folder, 'other.bin'));
    assert.ok(fs.existsSync(path.join(folder, left)));

    // A day old: removed by the next use of the folder (looked at again after an hour, or at once with force).
    const when = new Date(Date.now() - DAYS(2));
    fs.utimesSync(path.join(folder, left), when, when);
    const removed = await removeStaleTemporaryFiles(folder, { force: true });
    assert.deepEqual(removed, [path.join(folder, left)]);
    assert.deepEqual(fs.readdirSync(folder).sort(), ['other.bin']);
  },
);

test('downloadFile cleans its destination folder on first use: old .part and .tmp files go, everything else stays', async () => {
  const folder = freshDir();
  const stale = [
    aged(path.join(folder, 'a.npy.part-4242-0123abcd'), DAYS(2)),
    aged(path.join(folder, 'b.npy.tmp-7-deadbeef'), STALE_AFTER_MS + 60_000),
  ];
  const kept = [
    aged(path.join(folder, 'young.npy.part-4242-0123abcd'), DAYS(0.5)),
    aged(path.join(folder, 'notes.part'), DAYS(9)),
    aged(path.join(folder, 'x.part-abc'), DAYS(9)),
    aged(path.join(folder, 'data.npy'), DAYS(9)),
  ];
  await downloadFile(`${url}/file.bin`, path.join(folder, 'file.bin'));
  for (const file of stale) assert.equal(fs.existsSync(file), false, `${file} should be removed`);
  for (const file of kept) assert.ok(fs.existsSync(file), `${file} should be kept`);
});

test("getWeightsFile cleans tslab-dl's weights cache, even when the file is found in Keras' cache; Keras' cache is left alone", async () => {
  const kerasCacheDir = freshDir();
  const cacheDir = freshDir();
  fs.writeFileSync(path.join(kerasCacheDir, 'w.h5'), body);
  const ours = aged(path.join(cacheDir, 'w.h5.part-99-00aa11bb'), DAYS(3));
  const keras = aged(path.join(kerasCacheDir, 'w.h5.part-99-00aa11bb'), DAYS(3));
  const found = await getWeightsFile({ fileName: 'w.h5', url: `${url}/w.h5` }, { kerasCacheDir, cacheDir });
  assert.equal(found, path.join(kerasCacheDir, 'w.h5'));
  assert.equal(fs.existsSync(ours), false);
  assert.ok(fs.existsSync(keras));
});

test('the feature cache cleans its folder when an entry is next read or written', async () => {
  const saved = process.env.TSLAB_DL_CACHE;
  process.env.TSLAB_DL_CACHE = freshDir();
  try {
    const stale = aged(path.join(featureCacheFolder(), `${'ab'.repeat(32)}.features.part-1234-0badc0de`), DAYS(2));
    const young = aged(path.join(featureCacheFolder(), `${'cd'.repeat(32)}.features.part-1234-0badc0de`), 60_000);
    clearFeatureMemory();
    const split = splitFrozenPrefix(lessonLikeModel({ seed: 1 }))!;
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 1);
    await frozenFeatures(split.prefix, x, { cache: 'disk', executor: 'tfjs' });
    assert.equal(fs.existsSync(stale), false);
    assert.ok(fs.existsSync(young));
    clearFeatureMemory();
  } finally {
    if (saved === undefined) delete process.env.TSLAB_DL_CACHE;
    else process.env.TSLAB_DL_CACHE = saved;
  }
});

test('writeFileAtomic (the data folders) cleans too; a missing folder is no error', async () => {
  const folder = freshDir();
  const stale = aged(path.join(folder, 'train_images.npy.tmp-31-cafef00d'), DAYS(2));
  await writeFileAtomic(path.join(folder, 'labels.npy'), Buffer.from('x'));
  assert.equal(fs.existsSync(stale), false);
  assert.deepEqual(await removeStaleTemporaryFiles(path.join(folder, 'missing'), { force: true }), []);
});
