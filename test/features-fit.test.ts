/**
 * fit / evaluate / predict on cached frozen-prefix features give the numbers of the whole model
 * run every epoch (Keras' way), with dropout disabled and no shuffling.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  fit,
  evaluate,
  predict,
  buildHead,
  sparseCategoricalCrossentropy,
  featureStats,
  clearFeatureMemory,
  setRandomSeed,
  splitFrozenPrefix,
} from '../lib';
import { lessonLikeModel } from './support/lesson-like-model';

test('cached and uncached training give the same losses, metrics and weights', async () => {
  clearFeatureMemory();
  const x = tf.randomUniform([40, 8, 8, 3], 0, 1, 'float32', 11);
  const y = tf.tensor1d(
    Array.from({ length: 40 }, (_, i) => i % 3),
    'int32',
  );
  const vx = tf.randomUniform([12, 8, 8, 3], 0, 1, 'float32', 12);
  const vy = tf.tensor1d(
    Array.from({ length: 12 }, (_, i) => (i + 1) % 3),
    'int32',
  );
  const uncachedModel = lessonLikeModel({ seed: 5 });
  const cachedModel = lessonLikeModel({ seed: 5 });
  assert.deepEqual(
    cachedModel.getWeights().map((w) => Array.from(w.dataSync())),
    uncachedModel.getWeights().map((w) => Array.from(w.dataSync())),
    'both models start from the same weights',
  );
  const options = { batchSize: 8, epochs: 3, shuffle: false, validationData: [vx, vy] as [tf.Tensor, tf.Tensor], verbose: 0 as const };
  const computedBefore = featureStats.computed;
  const uncached = await fit(uncachedModel, x, y, { ...options, cache: false });
  assert.equal(featureStats.computed, computedBefore, 'cache: false runs the whole model');
  const cached = await fit(cachedModel, x, y, { ...options, cache: 'memory' });
  assert.equal(featureStats.computed - computedBefore, 2, 'training and validation features computed once each');
  for (const key of ['loss', 'accuracy', 'val_loss', 'val_accuracy']) {
    const a = uncached.history[key] as number[];
    const b = cached.history[key] as number[];
    assert.equal(a.length, 3);
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-5, `${key}[${i}]: ${v} uncached vs ${b[i]} cached`));
  }
  // The full model's own weights were trained (the head shares them), identically.
  cachedModel.getWeights().forEach((w, i) => {
    const diff = tf.max(tf.abs(tf.sub(w, uncachedModel.getWeights()[i]))).dataSync()[0];
    assert.ok(diff < 1e-5, `weight ${cachedModel.weights[i].name} differs by ${diff}`);
  });

  // evaluate and predict re-use the cached features and agree with the whole model.
  const computedAfterFit = featureStats.computed;
  const viaCache = await evaluate(cachedModel, vx, vy, { verbose: 0 });
  const whole = await evaluate(cachedModel, vx, vy, { verbose: 0, cache: false });
  assert.equal(featureStats.computed, computedAfterFit, 'validation features came from the cache');
  assert.ok(Math.abs(viaCache.loss - whole.loss) < 1e-5);
  const p1 = await predict(cachedModel, vx);
  const p2 = cachedModel.predict(vx) as tf.Tensor;
  assert.ok(tf.max(tf.abs(tf.sub(p1, p2))).dataSync()[0] < 1e-5);
});

test('a base with a stochastic layer inside is cut in two tensors, cached, and trains as the whole model', async () => {
  clearFeatureMemory();
  // Like EfficientNet's drop-connect: a Dropout inside a frozen base stays stochastic in training
  // (Keras), so the frozen prefix ends at its input and at the frozen branch beside it.
  const build = async () => {
    setRandomSeed(7);
    const inputs = tf.input({ shape: [8, 8, 3] });
    let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false }).apply(inputs) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({}).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reLU().apply(x) as tf.SymbolicTensor;
    const dropped = tf.layers.dropout({ rate: 0 }).apply(x) as tf.SymbolicTensor;
    const branch = tf.layers.conv2d({ filters: 4, kernelSize: 1 }).apply(x) as tf.SymbolicTensor;
    const merged = tf.layers.add().apply([dropped, branch]) as tf.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({}).apply(merged) as tf.SymbolicTensor;
    const base = tf.model({ inputs, outputs: pooled });
    base.trainable = false;
    const model = tf.model({ inputs, outputs: buildHead(pooled, { hidden: 5, dropout: 0, classes: 3 }) });
    model.compile({ optimizer: 'adam', loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
    return model;
  };
  const x = tf.randomUniform([24, 8, 8, 3], 0, 1, 'float32', 21);
  const y = tf.tensor1d(
    Array.from({ length: 24 }, (_, i) => i % 3),
    'int32',
  );
  const uncachedModel = await build();
  const cachedModel = await build();
  assert.equal(splitFrozenPrefix(cachedModel)?.prefix.outputs.length, 2, 'the prefix ends in two tensors');
  const options = { batchSize: 8, epochs: 2, shuffle: false, validationData: [x, y] as [tf.Tensor, tf.Tensor], verbose: 0 as const };
  const before = featureStats.computed;
  const uncached = await fit(uncachedModel, x, y, { ...options, cache: false });
  const cached = await fit(cachedModel, x, y, { ...options, cache: 'memory' });
  assert.equal(featureStats.computed - before, 1, 'the two-tensor prefix ran once (training and validation images are the same tensor)');
  for (const key of ['loss', 'val_loss']) {
    (uncached.history[key] as number[]).forEach((v, i) =>
      assert.ok(Math.abs(v - (cached.history[key] as number[])[i]) < 1e-5, `${key}[${i}]: ${v} vs ${(cached.history[key] as number[])[i]}`),
    );
  }
  // predict goes through the same two-input head.
  const p1 = await predict(cachedModel, x, { verbose: 0 });
  const p2 = cachedModel.predict(x) as tf.Tensor;
  assert.ok(tf.max(tf.abs(tf.sub(p1, p2))).dataSync()[0] < 1e-5);
});
