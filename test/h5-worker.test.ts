// h5wasm runs in a worker thread that ends when done: reading a weights file leaves no HDF5 memory
// behind in the calling process, and errors raised in the worker arrive as the same class, with the
// same message and `file`, as when h5wasm ran in the calling thread.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { DataFileError } from '../lib/core/errors';
import { readWeightsH5, saveWeightsH5 } from '../lib/weights/h5';

// The compiled library (npm test builds it first): from the TypeScript sources under tsx, h5wasm
// runs in the calling thread (lib/weights/run-h5-worker.ts says why).
const H5 = path.join(__dirname, '..', 'dist', 'lib', 'weights', 'h5.js');
const SELECTION = path.join(__dirname, '..', 'dist', 'lib', 'backends', 'selection.js');
const MIB = 2 ** 20;

/** A one-layer model whose weights take `units` * 1000 * 4 bytes. */
function denseModel(units: number): tf.LayersModel {
  return tf.sequential({ layers: [tf.layers.dense({ inputShape: [1000], units, name: 'dense' })] });
}

describe('h5wasm in a worker thread', () => {
  let dir: string;
  before(async () => {
    await ready();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-h5-worker-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('reading a 15 MiB file leaves no more resident memory than its values, and the process ends by itself', async () => {
    const small = path.join(dir, 'small.h5');
    const big = path.join(dir, 'big.h5');
    const [m1, m2] = [denseModel(2), denseModel(4000)];
    await saveWeightsH5(m1, small);
    await saveWeightsH5(m2, big);
    m1.dispose();
    m2.dispose();
    const truncated = path.join(dir, 'truncated.h5');
    fs.writeFileSync(truncated, fs.readFileSync(small).subarray(0, 2000));
    // A fresh process, so that nothing else has touched HDF5 in it. The small read first loads
    // what every read loads once (code, the worker machinery), so the big read is measured alone.
    const child = String.raw`
      const h5 = require(${JSON.stringify(H5)});
      require(${JSON.stringify(SELECTION)}).ready().then(async () => {
        await h5.readWeightsH5(${JSON.stringify(small)});
        global.gc(); global.gc();
        const before = process.memoryUsage();
        const read = await h5.readWeightsH5(${JSON.stringify(big)});
        global.gc(); global.gc();
        const now = process.memoryUsage();
        const bytes = read.layers.flatMap((l) => l.weights).reduce((n, w) => n + w.values.byteLength, 0);
        const failure = await h5.readWeightsH5(${JSON.stringify(truncated)}).catch((e) => e);
        console.log(JSON.stringify({ bytes, rss: now.rss - before.rss, external: now.external - before.external,
          failure: { name: failure.name, file: failure.file, message: failure.message } }));
      });`;
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', child], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `the child did not end by itself: ${r.signal ?? ''} ${r.stderr}`);
    const grown = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      bytes: number;
      rss: number;
      external: number;
      failure: { name: string; file: string; message: string };
    };
    // An error raised in the worker thread arrives as the DataFileError the calling thread used to throw.
    assert.deepEqual(grown.failure.name, 'DataFileError');
    assert.equal(grown.failure.file, truncated);
    assert.match(grown.failure.message, /^.*truncated\.h5: the HDF5 file is truncated: 2000 bytes on disk/);
    assert.equal(grown.bytes, 4000 * 1000 * 4 + 4000 * 4);
    // With h5wasm in the calling thread its heap stayed: the RSS grew by 37 MiB for 15.3 MiB of
    // values (22 MiB more). In a worker it grew by 4 MiB more than the values at most.
    const extra = (grown.rss - grown.bytes) / MIB;
    assert.ok(extra < 10, `RSS grew ${(grown.rss / MIB).toFixed(1)} MiB for ${(grown.bytes / MIB).toFixed(1)} MiB of values`);
    assert.ok((grown.external - grown.bytes) / MIB < 10, `external grew ${(grown.external / MIB).toFixed(1)} MiB`);
  });

  test('errors raised inside the worker arrive as the same class, message and file', async () => {
    const good = path.join(dir, 'good.h5');
    const model = denseModel(3);
    await saveWeightsH5(model, good);
    model.dispose();
    const bytes = fs.readFileSync(good);

    const truncated = path.join(dir, 'truncated.h5');
    fs.writeFileSync(truncated, bytes.subarray(0, 2000));
    const error = await readWeightsH5(truncated).then(
      () => assert.fail('a truncated file was read'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof DataFileError, String(error));
    assert.equal(error.name, 'DataFileError');
    assert.equal(error.file, truncated);
    assert.equal(
      error.message,
      `${truncated}: the HDF5 file is truncated: 2000 bytes on disk, but the file says it has ${bytes.length}. ` +
        'The download or copy was probably interrupted: delete it and download it again.',
    );

    // Big enough (>= 512 bytes) to be left to the HDF5 library, which runs in the worker.
    const html = path.join(dir, 'page.h5');
    fs.writeFileSync(html, '<html>404 Not Found</html>'.repeat(40));
    await assert.rejects(readWeightsH5(html), (e: unknown) => {
      assert.ok(e instanceof DataFileError);
      assert.equal(e.file, html);
      assert.equal(
        e.message,
        `${html}: is not an HDF5 file (no HDF5 signature). Keras weight files are HDF5 files ending in .h5: check that this is the right file, or delete it and download it again.`,
      );
      return true;
    });
  });

  test('the values arrive as Float32Arrays equal to what was saved', async () => {
    const file = path.join(dir, 'values.h5');
    const model = denseModel(5);
    const kernel = model.getLayer('dense').getWeights()[0];
    await saveWeightsH5(model, file);
    const read = await readWeightsH5(file);
    const values = read.layers[0].weights[0].values;
    assert.ok(values instanceof Float32Array);
    assert.deepEqual(values, kernel.dataSync());
    assert.deepEqual(read.layers[0].weights[0].shape, [1000, 5]);
    model.dispose();
  });
});
