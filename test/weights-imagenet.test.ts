// weights: 'imagenet' file resolution: Keras' cache first, then tslab-dl's cache, then a
// verified download (here from a local HTTP server on 127.0.0.1); failures say what failed, the
// URL, the file name and where to put a copy, and leave nothing in the cache.
import { before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { DownloadError } from '../lib/core/errors';
import { getWeightsFile, kerasCacheDir, tslabCacheDir, weightsUrl, WeightsFileSpec } from '../lib/weights/imagenet';
import { loadWeightsH5, saveWeightsH5 } from '../lib/weights/h5';
import { DenseNet121 } from '../lib/applications/densenet';
import { useWeightsServer } from './support/weights-server';
import { installKerasCompat } from '../lib/compat/install';

installKerasCompat();

const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');

/** Every file under `dir`, recursively (to prove nothing was left behind). */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}

describe("weights: 'imagenet' files (caches and verified downloads)", () => {
  const ws = useWeightsServer('imagenet', 'models');
  let weightsBytes: Buffer;
  let spec: WeightsFileSpec;

  before(async () => {
    await ready();
    // A small real weights file to serve.
    const input = tf.input({ shape: [4] });
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2, name: 'dense' }).apply(input) as tf.SymbolicTensor });
    const file = path.join(ws.root, 'small.h5');
    await saveWeightsH5(model, file);
    model.dispose();
    weightsBytes = fs.readFileSync(file);
    fs.rmSync(file);
    spec = {
      fileName: 'small_weights_notop.h5',
      url: 'https://storage.googleapis.com/example/small_weights_notop.h5',
      md5: md5(weightsBytes),
      description: 'test weights',
    };
  });

  beforeEach(() => {
    ws.routes.clear();
  });

  test('cache folders and the download URL follow KERAS_HOME, TSLAB_DL_CACHE and TSLAB_DL_WEIGHTS_BASE_URL', () => {
    assert.equal(kerasCacheDir(), path.join(process.env.KERAS_HOME!, 'models'));
    assert.equal(tslabCacheDir(), path.join(process.env.TSLAB_DL_CACHE!, 'models'));
    assert.equal(weightsUrl(spec), `${ws.base}small_weights_notop.h5`);
    assert.equal(weightsUrl(spec, ''), spec.url);
  });

  test("a copy in Keras' cache is used without downloading", async () => {
    fs.mkdirSync(kerasCacheDir(), { recursive: true });
    const kerasCopy = path.join(kerasCacheDir(), spec.fileName);
    fs.writeFileSync(kerasCopy, weightsBytes);
    assert.equal(await getWeightsFile(spec), kerasCopy);
    assert.deepEqual(ws.requests, []);
  });

  test("a copy in tslab-dl's cache is used without downloading", async () => {
    fs.mkdirSync(tslabCacheDir(), { recursive: true });
    const ours = path.join(tslabCacheDir(), spec.fileName);
    fs.writeFileSync(ours, weightsBytes);
    assert.equal(await getWeightsFile(spec), ours);
    assert.deepEqual(ws.requests, []);
  });

  test("otherwise it is downloaded into tslab-dl's cache, verified, and loads", async () => {
    ws.serveBytes(spec.fileName, weightsBytes);
    const file = await getWeightsFile(spec);
    assert.equal(file, path.join(tslabCacheDir(), spec.fileName));
    assert.deepEqual(ws.requests, [spec.fileName]);
    assert.equal(md5(fs.readFileSync(file)), spec.md5);
    assert.deepEqual(filesUnder(tslabCacheDir()), [file], 'only the finished file, no partial download');
    const input = tf.input({ shape: [4] });
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2, name: 'dense' }).apply(input) as tf.SymbolicTensor });
    assert.equal((await loadWeightsH5(model, file)).weights, 2);
    model.dispose();
    // Second time: from the cache.
    ws.requests = [];
    assert.equal(await getWeightsFile(spec), file);
    assert.deepEqual(ws.requests, []);
  });

  test("a corrupted copy in Keras' cache is ignored (left alone) and a fresh copy downloaded", async () => {
    fs.mkdirSync(kerasCacheDir(), { recursive: true });
    const kerasCopy = path.join(kerasCacheDir(), spec.fileName);
    fs.writeFileSync(kerasCopy, weightsBytes.subarray(0, 100));
    ws.routes.set(spec.fileName, (res) => res.writeHead(200).end(weightsBytes));
    assert.equal(await getWeightsFile(spec), path.join(tslabCacheDir(), spec.fileName));
    assert.equal(fs.readFileSync(kerasCopy).length, 100, "the user's file in Keras' cache is not touched");
  });

  test('a wrong checksum: DownloadError naming the URL, both md5s, the file and where to put a copy; nothing cached', async () => {
    const wrong = Buffer.from(weightsBytes);
    wrong[wrong.length - 1] ^= 0xff;
    ws.routes.set(spec.fileName, (res) => res.writeHead(200).end(wrong));
    await assert.rejects(getWeightsFile(spec), (e: Error) => {
      assert.ok(e instanceof DownloadError);
      assert.equal(e.url, `${ws.base}small_weights_notop.h5`);
      assert.match(e.message, /Could not get test weights \(file small_weights_notop\.h5\)/);
      assert.match(e.message, new RegExp(`checksum does not match: expected md5 ${spec.md5}, got ${md5(wrong)}`));
      assert.ok(e.message.includes(path.join(kerasCacheDir(), spec.fileName)), 'names the Keras-cache location for a manual copy');
      return true;
    });
    assert.deepEqual(filesUnder(process.env.TSLAB_DL_CACHE!), []);
  });

  test('HTTP 404, a dropped connection, and an unreachable server: each its error, nothing cached', async () => {
    await assert.rejects(getWeightsFile(spec), /HTTP 404/);
    ws.routes.set(spec.fileName, (res) => {
      res.writeHead(200, { 'content-length': weightsBytes.length });
      res.write(weightsBytes.subarray(0, 1000));
      setTimeout(() => res.destroy(), 20);
    });
    await assert.rejects(
      getWeightsFile(spec),
      (e: Error) => e instanceof DownloadError && /after 1000 bytes|dropped|ended after/.test(e.message),
    );
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(
      getWeightsFile(spec, { baseUrl: `http://127.0.0.1:${port}/` }),
      (e: Error) =>
        e instanceof DownloadError &&
        e.message.includes(`http://127.0.0.1:${port}/small_weights_notop.h5`) &&
        /could not connect/.test(e.message),
    );
    assert.deepEqual(filesUnder(process.env.TSLAB_DL_CACHE!), []);
  });

  test("DenseNet121({ weights: 'imagenet' }) offline: the error names the official file and Keras' cache; no tensors leak", async () => {
    ws.routes.clear(); // the server knows no DenseNet file: 404, as a proxy or a mirror without it would answer
    const tensorsBefore = tf.memory().numTensors;
    const file = 'densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5';
    await assert.rejects(DenseNet121({ includeTop: false, pooling: 'max', inputShape: [160, 160, 3] }), (e: Error) => {
      assert.ok(e instanceof DownloadError, String(e));
      assert.equal(e.url, `${ws.base}${file}`);
      assert.match(e.message, /DenseNet121 ImageNet weights \(no top\)/);
      assert.ok(e.message.includes(path.join(kerasCacheDir(), file)));
      assert.match(e.message, /30ee3e1110167f948a6b9946edeeb738/, 'the md5 Keras publishes, so a manual copy can be checked');
      return true;
    });
    assert.deepEqual(ws.requests, [file]);
    assert.equal(tf.memory().numTensors, tensorsBefore, 'the model built before the download failed was freed');
    assert.deepEqual(filesUnder(process.env.TSLAB_DL_CACHE!), []);
  });

  test("DenseNet121({ weights: 'imagenet' }) with a file that fails Keras' md5: refused, nothing cached", async () => {
    const file = 'densenet121_weights_tf_dim_ordering_tf_kernels.h5';
    ws.routes.set(file, (res) => res.writeHead(200).end(weightsBytes));
    await assert.rejects(
      DenseNet121(),
      (e: Error) =>
        e instanceof DownloadError && /expected md5 9d60b8095a5708f2dcce2bca79d332c7/.test(e.message) && e.message.includes(file),
    );
    assert.deepEqual(filesUnder(process.env.TSLAB_DL_CACHE!), []);
  });
});
