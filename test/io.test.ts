// saveModel / loadModel: tfjs' standard model.json + weights.bin on the local disk, on any
// backend, atomically; a model with the upscale layer and a frozen base round-trips exactly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { DataFileError, ValueError } from '../lib/core/errors';
import { loadModel, saveModel } from '../lib/weights/model-files';
import { upscale } from '../lib/layers/upscale';
import { installKerasCompat } from '../lib/compat/install';

installKerasCompat();

/** The lesson's shape in miniature: inputs -> upscale -> frozen conv/BN base -> max pool -> head. */
function lessonLikeModel(): { model: tf.LayersModel; base: tf.LayersModel } {
  const inputs = tf.input({ shape: [12, 9, 3] });
  const up = upscale({ height: 20, width: 20 }).apply(inputs) as tf.SymbolicTensor;
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, useBias: false, name: 'conv1/conv' }).apply(up) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ epsilon: 1.001e-5, name: 'conv1/bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu', name: 'conv1/relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalMaxPooling2d({ name: 'max_pool' }).apply(x) as tf.SymbolicTensor;
  const base = tf.model({ inputs, outputs: x, name: 'base' });
  base.trainable = false;
  let h = tf.layers.batchNormalization({ name: 'head_bn' }).apply(base.output as tf.SymbolicTensor) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: 5, activation: 'relu', name: 'head_dense' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: 3, name: 'logits' }).apply(h) as tf.SymbolicTensor;
  const model = tf.model({ inputs, outputs: h, name: 'lesson_like' });
  // Non-trivial BN statistics, so a lost moving mean/variance would show in the predictions.
  const bn = model.getLayer('conv1/bn');
  bn.setWeights([
    tf.tensor1d([1.2, 0.8, 1.1, 0.9]),
    tf.tensor1d([0.1, 0.2, -0.1, 0]),
    tf.tensor1d([0.3, -0.2, 0.1, 0.05]),
    tf.tensor1d([1.5, 0.7, 2, 1.1]),
  ]);
  return { model, base };
}

describe('saveModel / loadModel', () => {
  let dir: string;
  before(async () => {
    await ready();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-io-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a model with the upscale layer and a frozen base saves and loads back with identical predictions', async () => {
    const { model } = lessonLikeModel();
    const target = path.join(dir, 'lesson-model');
    const x = tf.randomUniform([3, 12, 9, 3], 0, 1, 'float32', 11);
    const before = model.predict(x) as tf.Tensor;
    const result = await saveModel(model, target);
    assert.ok((result.modelArtifactsInfo.weightDataBytes ?? 0) > 0);
    assert.deepEqual(fs.readdirSync(target).sort(), ['model.json', 'weights.bin']);
    assert.deepEqual(fs.readdirSync(dir), ['lesson-model'], 'no temporary folder is left');

    const json = JSON.parse(fs.readFileSync(path.join(target, 'model.json'), 'utf8'));
    assert.equal(json.format, 'layers-model');
    assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
    const layers = json.modelTopology.config.layers as { class_name: string; config: Record<string, unknown> }[];
    const up = layers.find((l) => l.class_name === 'Upscale')!;
    assert.equal(up.config.height, 20);
    assert.equal(up.config.method, 'bilinear');
    assert.equal(layers.find((l) => l.config.name === 'conv1/bn')!.config.trainable, false, 'the frozen flag is saved');

    const loaded = await loadModel(target);
    const after = loaded.predict(x) as tf.Tensor;
    assert.deepEqual(Array.from(after.dataSync()), Array.from(before.dataSync()));
    assert.equal(loaded.getLayer('conv1/bn').trainable, false);
    assert.equal(loaded.getLayer('head_bn').trainable, true);
    assert.equal(loaded.countParams(), model.countParams());
    tf.dispose([x, before, after]);
    model.dispose();
    loaded.dispose();
  });

  test("the folder is tfjs' standard format: tf.loadLayersModel reads it over http", async () => {
    const { model } = lessonLikeModel();
    const target = path.join(dir, 'served');
    await saveModel(model, target);
    const server = http.createServer((req, res) => {
      const file = path.join(target, path.basename(req.url ?? ''));
      if (!fs.existsSync(file)) return void res.writeHead(404).end();
      res.writeHead(200).end(fs.readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const loaded = await tf.loadLayersModel(`http://127.0.0.1:${port}/model.json`);
      const x = tf.randomUniform([2, 12, 9, 3], 0, 1, 'float32', 12);
      const a = model.predict(x) as tf.Tensor;
      const b = loaded.predict(x) as tf.Tensor;
      assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
      tf.dispose([x, a, b]);
      loaded.dispose();
    } finally {
      server.close();
      model.dispose();
    }
  });

  test('saving again replaces the earlier model atomically; a folder holding other things is refused', async () => {
    const target = path.join(dir, 'replace');
    const first = lessonLikeModel().model;
    await saveModel(first, target);
    const second = lessonLikeModel().model;
    second.getLayer('logits').setWeights([tf.ones([5, 3]), tf.ones([3])]);
    await saveModel(second, target);
    const loaded = await loadModel(path.join(target, 'model.json'));
    assert.deepEqual(Array.from(loaded.getLayer('logits').getWeights()[1].dataSync()), [1, 1, 1]);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.startsWith('replace')),
      ['replace'],
    );

    const notes = path.join(dir, 'notes');
    fs.mkdirSync(notes);
    fs.writeFileSync(path.join(notes, 'todo.txt'), 'keep me');
    await assert.rejects(
      saveModel(first, notes),
      (e: Error) => e instanceof ValueError && /does not hold a saved model.*Nothing was written/.test(e.message),
    );
    assert.deepEqual(fs.readdirSync(notes), ['todo.txt']);
    [first, second, loaded].forEach((m) => m.dispose());
  });

  test('a failure while saving leaves the earlier model and no temporary folder', async () => {
    const target = path.join(dir, 'failing');
    const { model } = lessonLikeModel();
    await saveModel(model, target);
    const original = fs.readFileSync(path.join(target, 'weights.bin'));
    const broken = lessonLikeModel().model;
    const save = broken.save.bind(broken);
    broken.save = async (handler, config) => {
      await save(handler, config); // the files are written ...
      throw new Error('disk full'); // ... then something fails
    };
    await assert.rejects(saveModel(broken, target), /disk full/);
    assert.deepEqual(fs.readFileSync(path.join(target, 'weights.bin')), original);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.startsWith('failing')),
      ['failing'],
    );
    model.dispose();
    broken.dispose();
  });

  test('loading from a missing folder, a folder without a model, or a truncated model names the file', async () => {
    await assert.rejects(
      loadModel(path.join(dir, 'nothing-here')),
      (e: Error) => e instanceof DataFileError && /nothing-here: no such folder/.test(e.message),
    );
    const empty = path.join(dir, 'empty-folder');
    fs.mkdirSync(empty);
    await assert.rejects(loadModel(empty), /empty-folder: holds no saved model \(no model.json\)/);
    const target = path.join(dir, 'truncated');
    const { model } = lessonLikeModel();
    await saveModel(model, target);
    const weights = path.join(target, 'weights.bin');
    fs.truncateSync(weights, 40);
    await assert.rejects(
      loadModel(target),
      (e: Error) => e instanceof DataFileError && e.message.startsWith(weights) && /40 bytes.*damaged or truncated/.test(e.message),
    );
    model.dispose();
  });

  test('no tensors leak from a save/load round trip beyond the loaded model', async () => {
    const { model } = lessonLikeModel();
    const target = path.join(dir, 'leak');
    await saveModel(model, target);
    const before = tf.memory().numTensors;
    const loaded = await loadModel(target);
    loaded.dispose();
    assert.equal(tf.memory().numTensors, before);
    model.dispose();
  });
});
