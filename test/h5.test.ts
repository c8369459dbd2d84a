// Keras legacy .h5 weight files: files written by h5py (an independent writer) load into tfjs
// models, files written by saveWeightsH5 read back with h5py, and broken or mismatched files
// fail with errors that name the file, the layer and the shapes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { DataFileError, ValueError } from '../lib/core/errors';
import { HDF5_OBJECT_HEADER_LIMIT, loadWeightsH5, readWeightsH5, saveWeightsH5, splitForHeaderLimit } from '../lib/weights/h5';
import { DenseNet121, DenseNet169 } from '../lib/applications/densenet';
import { installKerasCompat } from '../lib/compat/install';

installKerasCompat();

const PYTHON = '/usr/bin/python3';
const FIXTURES = path.join(__dirname, 'python', 'h5_fixtures.py');

function h5pyMissing(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import numpy, h5py'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `numpy/h5py not importable by ${PYTHON}: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`;
}

function python(...args: string[]): string {
  const r = spawnSync(PYTHON, [FIXTURES, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

interface H5pyView {
  attrs: string[];
  attr_types: Record<string, string>;
  layer_names: string[];
  layers: { name: string; weights: { name: string; shape: number[]; dtype: string; sum: number; first: number[] }[] }[];
}

/** The small model of h5_fixtures.py: input [6, 6, 2] -> conv 3x3x4 -> bn -> flatten -> dense 3. */
function smallModel(denseUnits = 3): tf.LayersModel {
  const input = tf.input({ shape: [6, 6, 2], name: 'input_1' });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: denseUnits, name: 'dense' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x, name: 'small' });
}

function layerWeights(model: tf.LayersModel): tf.LayerVariable[] {
  return model.layers.flatMap((layer) => layer.weights);
}

/** What h5_fixtures.py stores in the j-th weight: (arange(n) % 17) * 0.1 + j, in float32. */
function fixtureValues(j: number, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => (i % 17) * 0.1 + j);
}

describe('Keras legacy HDF5 weights', () => {
  const missing = h5pyMissing();
  let dir: string;
  before(async () => {
    await ready();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-h5-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const variant of ['fixed', 'vlen', 'split', 'model', 'float64']) {
    test(`loads a file written by h5py (${variant})`, async (t) => {
      if (missing) return t.skip(missing);
      const file = path.join(dir, `small-${variant}.h5`);
      python('write', file, variant);
      const model = smallModel();
      const report = await loadWeightsH5(model, file);
      assert.deepEqual(report, { file, layers: 3, weights: 8, renamed: [] });
      // Layer by layer (model.weights lists trainable weights before the BN moving statistics).
      layerWeights(model).forEach((w, j) => {
        assert.deepEqual(Array.from(w.read().dataSync()), Array.from(fixtureValues(j, w.read().size)), `weight ${w.originalName}`);
      });
      const saved = await readWeightsH5(file);
      assert.deepEqual(saved.layerNames, ['input_1', 'conv', 'bn', 'flatten', 'dense']);
      assert.deepEqual(
        saved.layers[1].weights.map((w) => w.name),
        ['bn/gamma:0', 'bn/beta:0', 'bn/moving_mean:0', 'bn/moving_variance:0'],
      );
      model.dispose();
    });
  }

  test('saveWeightsH5 writes what h5py reads as a Keras file, and loads back bit for bit', async (t) => {
    if (missing) return t.skip(missing);
    const model = smallModel();
    const file = path.join(dir, 'saved.h5');
    await saveWeightsH5(model, file);
    const view = JSON.parse(python('read', file)) as H5pyView;
    assert.deepEqual(
      view.layer_names,
      model.layers.map((l) => l.name),
    );
    assert.ok(view.attrs.includes('backend') && view.attrs.includes('keras_version'));
    assert.match(view.attr_types.layer_names, /^\|S\d+$/, 'layer_names are fixed-length byte strings, as Keras writes them');
    const conv = view.layers.find((l) => l.name === 'conv')!;
    assert.deepEqual(
      conv.weights.map((w) => [w.name, w.shape, w.dtype]),
      [
        ['conv/kernel:0', [3, 3, 2, 4], 'float32'],
        ['conv/bias:0', [4], 'float32'],
      ],
    );
    const kernel = model.getLayer('conv').getWeights()[0];
    const expectedSum = Array.from(await kernel.data()).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(conv.weights[0].sum - expectedSum) < 1e-4, `kernel sum ${conv.weights[0].sum} vs ${expectedSum}`);
    assert.equal(view.layers.find((l) => l.name === 'flatten')!.weights.length, 0);

    const copy = smallModel();
    await loadWeightsH5(copy, file);
    copy.weights.forEach((w, j) => assert.deepEqual(w.read().dataSync(), model.weights[j].read().dataSync()));
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes('.tmp')),
      [],
      'no temporary file is left',
    );
    model.dispose();
    copy.dispose();
  });

  test('long layer_names are split into layer_names0, layer_names1, ... like Keras', async (t) => {
    if (missing) return t.skip(missing);
    // 700 layers with 100-character names: 70,000 bytes > 64,512, so two parts.
    const input = tf.input({ shape: [2], name: 'input_1' });
    let x: tf.SymbolicTensor = input;
    for (let i = 0; i < 699; i++)
      x = tf.layers
        .activation({ activation: 'linear', name: `layer_${String(i).padStart(4, '0')}_`.padEnd(100, 'x') })
        .apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: x });
    const file = path.join(dir, 'long.h5');
    await saveWeightsH5(model, file);
    const view = JSON.parse(python('read', file)) as H5pyView;
    assert.ok(
      view.attrs.includes('layer_names0') && view.attrs.includes('layer_names1') && !view.attrs.includes('layer_names2'),
      view.attrs.join(' '),
    );
    assert.deepEqual(
      view.layer_names,
      model.layers.map((l) => l.name),
    );
    assert.deepEqual(
      (await readWeightsH5(file)).layerNames,
      model.layers.map((l) => l.name),
    );
    const parts = splitForHeaderLimit(model.layers.map((l) => l.name));
    assert.deepEqual(
      parts.map((p) => p.length),
      [350, 350],
    );
    assert.ok(parts.every((p) => p.length * 100 <= HDF5_OBJECT_HEADER_LIMIT));
  });

  test('a Keras 3 .weights.h5 file is refused with a clear message', async (t) => {
    if (missing) return t.skip(missing);
    const file = path.join(dir, 'keras3.weights.h5');
    python('write', file, 'keras3');
    await assert.rejects(
      readWeightsH5(file),
      (e: Error) => e instanceof DataFileError && e.message.startsWith(file) && /Keras 3 `\.weights\.h5`/.test(e.message),
    );
  });

  test('an HDF5 file that is not a Keras weights file', async (t) => {
    if (missing) return t.skip(missing);
    const file = path.join(dir, 'other.h5');
    const r = spawnSync(PYTHON, ['-c', `import h5py; f = h5py.File(${JSON.stringify(file)}, 'w'); f['data'] = [1, 2, 3]; f.close()`]);
    assert.equal(r.status, 0);
    await assert.rejects(readWeightsH5(file), /other\.h5: has no `layer_names` attribute.*top-level entries: data/);
  });

  test('missing, empty, truncated and garbage files: errors name the file and say what to do', async () => {
    const good = path.join(dir, 'good.h5');
    const model = smallModel();
    await saveWeightsH5(model, good);
    const bytes = fs.readFileSync(good);

    const truncated = path.join(dir, 'truncated.h5');
    fs.writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assert.rejects(
      loadWeightsH5(model, truncated),
      (e: Error) =>
        e instanceof DataFileError &&
        e.message.startsWith(truncated) &&
        /truncated: \d+ bytes on disk, but the file says it has \d+.*download it again/.test(e.message),
    );

    const garbage = path.join(dir, 'garbage.h5');
    fs.writeFileSync(garbage, Buffer.from('<html>404 Not Found</html>'.repeat(40)));
    await assert.rejects(
      loadWeightsH5(model, garbage),
      (e: Error) => e instanceof DataFileError && /garbage\.h5: is not an HDF5 file/.test(e.message),
    );

    const empty = path.join(dir, 'empty.h5');
    fs.writeFileSync(empty, '');
    await assert.rejects(loadWeightsH5(model, empty), /empty\.h5: is empty \(0 bytes\)/);

    await assert.rejects(loadWeightsH5(model, path.join(dir, 'nowhere.h5')), /nowhere\.h5: no such file/);

    // A flipped byte in the middle of the data: HDF5 has no data checksums, but metadata damage is caught.
    const damaged = path.join(dir, 'damaged.h5');
    const copy = Buffer.from(bytes);
    copy.fill(0xff, 100, 600);
    fs.writeFileSync(damaged, copy);
    await assert.rejects(loadWeightsH5(model, damaged), (e: Error) => e instanceof DataFileError && e.message.startsWith(damaged));
    model.dispose();
  });

  test('layers are matched by position, as in Keras: other names load, and the report lists them', async () => {
    const file = path.join(dir, 'renamed.h5');
    const source = smallModel();
    await saveWeightsH5(source, file);
    const input = tf.input({ shape: [6, 6, 2] });
    let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv_a' }).apply(input) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ name: 'bn_a' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: 3, name: 'dense' }).apply(x) as tf.SymbolicTensor;
    const target = tf.model({ inputs: input, outputs: x });
    const report = await loadWeightsH5(target, file);
    assert.deepEqual(report.renamed, [
      { model: 'conv_a', file: 'conv' },
      { model: 'bn_a', file: 'bn' },
    ]);
    assert.deepEqual(
      layerWeights(target).map((w) => Array.from(w.read().dataSync())),
      layerWeights(source).map((w) => Array.from(w.read().dataSync())),
    );
    source.dispose();
    target.dispose();
  });

  test('a nested model saved while frozen (trainable-first order changes) loads into an unfrozen copy weight by weight', async () => {
    const build = () => {
      const inner = tf.input({ shape: [5] });
      let h = tf.layers.dense({ units: 4, name: 'd1' }).apply(inner) as tf.SymbolicTensor;
      h = tf.layers.batchNormalization({ name: 'bn1' }).apply(h) as tf.SymbolicTensor;
      h = tf.layers.batchNormalization({ name: 'bn2' }).apply(h) as tf.SymbolicTensor;
      const base = tf.model({ inputs: inner, outputs: h, name: 'base' });
      const outer = tf.input({ shape: [5] });
      return { base, model: tf.model({ inputs: outer, outputs: base.apply(outer) as tf.SymbolicTensor, name: 'outer' }) };
    };
    const source = build();
    source.model.layers
      .flatMap((l) => (l as tf.LayersModel).layers ?? [l])
      .forEach((layer, i) => layer.setWeights(layer.getWeights().map((w, j) => tf.fill(w.shape, 10 * i + j + 1))));
    source.base.trainable = false;
    const file = path.join(dir, 'nested-frozen.h5');
    await saveWeightsH5(source.model, file);
    const target = build();
    await loadWeightsH5(target.model, file);
    for (const name of ['d1', 'bn1', 'bn2']) {
      assert.deepEqual(
        target.base
          .getLayer(name)
          .getWeights()
          .map((w) => w.dataSync()[0]),
        source.base
          .getLayer(name)
          .getWeights()
          .map((w) => w.dataSync()[0]),
        name,
      );
    }
    source.model.dispose();
    target.model.dispose();
  });

  test('a file for another model: counts, first mismatch and shapes in the error; the model is unchanged', async () => {
    const file = path.join(dir, 'small3.h5');
    const source = smallModel(3);
    await saveWeightsH5(source, file);
    const target = smallModel(5);
    const before = target.weights.map((w) => Array.from(w.read().dataSync()));
    await assert.rejects(
      loadWeightsH5(target, file),
      (e: Error) =>
        e instanceof ValueError &&
        e.message.includes(file) &&
        /shape mismatch in layer #2 \(named `dense` in `small`, `dense` in the file\) for weight `dense\/kernel` \(`dense\/kernel:0` in the file\): the model expects \[64, 5\], the file has \[64, 3\]/.test(
          e.message,
        ),
    );
    target.weights.forEach((w, j) => assert.deepEqual(Array.from(w.read().dataSync()), before[j], 'nothing was assigned'));
    source.dispose();
    target.dispose();
  });

  test('DenseNet121 weights into DenseNet169: refused, naming both counts and the first differing layer, without leaking tensors', async () => {
    const file = path.join(dir, 'densenet121-notop.h5');
    const d121 = await DenseNet121({ weights: null, includeTop: false });
    await saveWeightsH5(d121, file);
    d121.dispose();
    const tensorsBefore = tf.memory().numTensors;
    await assert.rejects(
      DenseNet169({ weights: file, includeTop: false }),
      (e: Error) =>
        e instanceof ValueError &&
        e.message.includes('the file has 241 layers with weights, `densenet169` has 337') &&
        /First mismatch at layer #\d+: the model has `conv4_block25_0_bn` .*, the file has `pool4_bn`/.test(e.message),
    );
    assert.equal(tf.memory().numTensors, tensorsBefore, 'the failed model freed its variables');
    // The no-top file into a model with its top: one layer with weights short.
    await assert.rejects(
      DenseNet121({ weights: file, includeTop: true }),
      /the file has 241 layers with weights, `densenet121` has 242.*First mismatch at layer #241: the model has `predictions` \(2 weight\(s\): \[1024, 1000\] \[1000\]\), the file has no more layers/,
    );
    assert.equal(tf.memory().numTensors, tensorsBefore);
  });
});
