/**
 * The frozen-prefix split and the feature cache: the prefix ends where the first trainable or
 * stochastic layer starts, head(prefix(x)) is the model, and cached features are recomputed
 * exactly when a base weight, an input pixel or a layer changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { installKerasCompat } from '../lib/compat/install';
import { upscale } from '../lib/layers/upscale';
import { flatten } from '../lib/layers/flatten';
import { splitFrozenPrefix } from '../lib/features/split';
import { frozenFeatures, featureStats } from '../lib/features/extract';
import { clearFeatureMemory, featureCacheFolder } from '../lib/features/cache';
import { onnxAvailable, onnxRuntimeInfo } from '../lib/onnx';

installKerasCompat();

function lessonLikeModel(size = 12) {
  const inputs = tf.input({ shape: [8, 8, 3] });
  let x = upscale({ height: size, width: size }).apply(inputs) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 4, kernelSize: 3, useBias: false }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ epsilon: 1.001e-5 }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU().apply(x) as tf.SymbolicTensor;
  const features = tf.layers.globalMaxPooling2d({}).apply(x) as tf.SymbolicTensor;
  const base = tf.model({ inputs, outputs: features });
  base.trainable = false;
  let h = flatten().apply(features) as tf.SymbolicTensor;
  h = tf.layers.batchNormalization({}).apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({ units: 5, activation: 'relu' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.dropout({ rate: 0.5 }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3 }).apply(h) as tf.SymbolicTensor;
  return { model: tf.model({ inputs, outputs: out }), base };
}

test('the prefix ends at the last frozen layer and head(prefix(x)) equals the model', () => {
  const { model } = lessonLikeModel();
  const split = splitFrozenPrefix(model)!;
  assert.ok(split, 'a frozen base should give a split');
  // upscale, conv, bn, relu, global max pool, flatten: frozen; BN of the head: trainable.
  assert.equal(split.prefixLayerCount, 6);
  assert.deepEqual(split.prefix.outputs[0].shape, [null, 4]);
  assert.deepEqual(
    split.head.layers.map((l) => l.getClassName()),
    ['InputLayer', 'BatchNormalization', 'Dense', 'Dropout', 'Dense'],
  );
  const x = tf.randomUniform([4, 8, 8, 3], 0, 1, 'float32', 1);
  const whole = model.predict(x) as tf.Tensor;
  const twoSteps = split.head.predict(split.prefix.predict(x) as tf.Tensor) as tf.Tensor;
  assert.deepEqual(Array.from(twoSteps.dataSync()), Array.from(whole.dataSync()));
  // The head shares the model's variables: same objects, not copies.
  const headDense = split.head.layers[2];
  assert.ok(model.layers.includes(headDense));
});

test('a model without a frozen prefix is not split; unfreezing the base changes the split', () => {
  const { model, base } = lessonLikeModel();
  assert.ok(splitFrozenPrefix(model));
  base.trainable = true;
  const split = splitFrozenPrefix(model);
  // With the base trainable only the upscale layer is frozen: the prefix is that one layer.
  assert.equal(split?.prefixLayerCount, 1);
  const inputs = tf.input({ shape: [4] });
  const plain = tf.model({ inputs, outputs: tf.layers.dense({ units: 2 }).apply(inputs) as tf.SymbolicTensor });
  assert.equal(splitFrozenPrefix(plain), undefined);
});

test('features are computed once per weights and input, and recomputed when either changes', async () => {
  clearFeatureMemory();
  const { model } = lessonLikeModel();
  const split = splitFrozenPrefix(model)!;
  const x = tf.randomUniform([10, 8, 8, 3], 0, 1, 'float32', 2);
  const before = { ...featureStats };
  const first = await frozenFeatures(split.prefix, x, { batchSize: 4, executor: 'tfjs' });
  assert.equal(first.source, 'computed');
  assert.deepEqual(first.features.shape, [10, 4]);
  const again = await frozenFeatures(split.prefix, x, { batchSize: 4, executor: 'tfjs' });
  assert.equal(again.source, 'memory');
  assert.equal(featureStats.computed - before.computed, 1);

  // One input pixel changed.
  const buffer = x.bufferSync();
  buffer.set(buffer.get(3, 2, 1, 0) + 0.25, 3, 2, 1, 0);
  const x2 = buffer.toTensor();
  assert.equal((await frozenFeatures(split.prefix, x2, { executor: 'tfjs' })).source, 'computed');

  // One base weight changed.
  const conv = split.prefix.layers.find((l) => l.getClassName() === 'Conv2D')!;
  const [kernel] = conv.getWeights();
  const changed = kernel.bufferSync();
  changed.set(changed.get(0, 0, 0, 0) + 1e-3, 0, 0, 0, 0);
  conv.setWeights([changed.toTensor()]);
  const afterWeight = await frozenFeatures(split.prefix, x, { executor: 'tfjs' });
  assert.equal(afterWeight.source, 'computed');
  assert.equal(featureStats.computed - before.computed, 3);

  // The features are the prefix's outputs, batch size notwithstanding.
  const direct = split.prefix.predict(x) as tf.Tensor;
  assert.ok(tf.max(tf.abs(tf.sub(direct, afterWeight.features))).dataSync()[0] < 1e-6);
});

test('a different upscale size is a different prefix: no stale features', async () => {
  clearFeatureMemory();
  const x = tf.randomUniform([3, 8, 8, 3], 0, 1, 'float32', 3);
  const a = splitFrozenPrefix(lessonLikeModel(12).model)!;
  const b = splitFrozenPrefix(lessonLikeModel(16).model)!;
  // Same weights in both bases, so only the upscale size differs.
  b.prefix.setWeights(a.prefix.getWeights());
  const before = featureStats.computed;
  await frozenFeatures(a.prefix, x, { executor: 'tfjs' });
  const second = await frozenFeatures(b.prefix, x, { executor: 'tfjs' });
  assert.equal(second.source, 'computed');
  assert.equal(featureStats.computed - before, 2);
});

test('the disk cache survives a new session and a corrupt entry is recomputed, never used', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-features-'));
  const saved = process.env.TSLAB_DL_CACHE;
  process.env.TSLAB_DL_CACHE = dir;
  const warnings: string[] = [];
  const originalWarn = console.warn;
  console.warn = (m: string) => warnings.push(m);
  try {
    clearFeatureMemory();
    const { model } = lessonLikeModel();
    const split = splitFrozenPrefix(model)!;
    const x = tf.randomUniform([5, 8, 8, 3], 0, 1, 'float32', 4);
    const computed = await frozenFeatures(split.prefix, x, { cache: 'disk', executor: 'tfjs' });
    const expected = Array.from(computed.features.dataSync());
    const [entry] = fs.readdirSync(featureCacheFolder());
    assert.match(entry, /^[0-9a-f]{64}\.features$/);

    clearFeatureMemory(); // as in a new kernel session
    const fromDisk = await frozenFeatures(split.prefix, x, { cache: 'disk', executor: 'tfjs' });
    assert.equal(fromDisk.source, 'disk');
    assert.deepEqual(Array.from(fromDisk.features.dataSync()), expected);

    // Flip one payload byte: the checksum catches it.
    clearFeatureMemory();
    const file = path.join(featureCacheFolder(), entry);
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 3] ^= 0xff;
    fs.writeFileSync(file, bytes);
    const recomputed = await frozenFeatures(split.prefix, x, { cache: 'disk', executor: 'tfjs' });
    assert.equal(recomputed.source, 'computed');
    assert.deepEqual(Array.from(recomputed.features.dataSync()), expected);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /corrupt \(checksum mismatch\)/);

    // A truncated entry too.
    clearFeatureMemory();
    fs.truncateSync(file, fs.readFileSync(file).indexOf(0x0a) + 1 + 10);
    assert.equal((await frozenFeatures(split.prefix, x, { cache: 'disk', executor: 'tfjs' })).source, 'computed');
    assert.match(warnings[1], /10 payload bytes, expected 80/);
    assert.deepEqual(
      fs.readdirSync(featureCacheFolder()).filter((f) => f.includes('.part')),
      [],
    );
  } finally {
    console.warn = originalWarn;
    if (saved === undefined) delete process.env.TSLAB_DL_CACHE;
    else process.env.TSLAB_DL_CACHE = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bad options are rejected by name', async () => {
  const { model } = lessonLikeModel();
  const split = splitFrozenPrefix(model)!;
  const x = tf.zeros([1, 8, 8, 3]);
  await assert.rejects(
    frozenFeatures(split.prefix, x, { executor: 'gpu' as never }),
    /executor must be 'auto', 'onnx', 'onnx-cuda', 'onnx-webgpu', 'onnx-cpu' or 'tfjs'\. Received "gpu"/,
  );
  await assert.rejects(
    frozenFeatures(split.prefix, x, { cache: 'ram' as never }),
    /cache must be 'memory', 'disk' or false. Received "ram"/,
  );
});

test("executor 'auto' runs the prefix on ONNX Runtime when installed, with tfjs' numbers", async (t) => {
  if (!onnxAvailable()) {
    t.skip(`onnxruntime-node is not usable here: ${onnxRuntimeInfo().reason}`);
    return;
  }
  clearFeatureMemory();
  const { model } = lessonLikeModel();
  const split = splitFrozenPrefix(model)!;
  // Random moving statistics, so that inference-mode BatchNormalization does something.
  const bn = split.prefix.layers.find((l) => l.getClassName() === 'BatchNormalization')!;
  const [gamma, beta] = bn.getWeights();
  bn.setWeights([gamma, beta, tf.randomNormal([4], 0, 1, 'float32', 5), tf.randomUniform([4], 0.5, 2, 'float32', 6)]);
  const x = tf.randomUniform([6, 8, 8, 3], 0, 1, 'float32', 7);
  const onnx = await frozenFeatures(split.prefix, x, { executor: 'auto', cache: false });
  const reference = await frozenFeatures(split.prefix, x, { executor: 'tfjs', cache: false });
  assert.equal(onnx.executor, 'onnx');
  assert.equal(reference.executor, 'tfjs');
  const relative = tf.tidy(() => tf.div(tf.norm(tf.sub(onnx.features, reference.features)), tf.norm(reference.features)).dataSync()[0]);
  assert.ok(relative < 1e-4, `relative error ${relative}`);
  onnx.release();
  reference.release();
});
