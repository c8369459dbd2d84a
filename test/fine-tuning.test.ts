/**
 * Fine-tuning the Keras way: after the head, unfreeze the top of the base (setTrainable, or
 * layer.trainable = true), recompile with a small learning rate, train. The frozen bottom stays
 * bit-identical and runs once per image; the unfrozen top trains (on wasm, which needs
 * lib/backends/wasm-gradient-kernels.ts); its BatchNormalization stays in inference mode, as Keras' guide
 * has it, so its moving statistics do not move while gamma and beta do.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  buildHead,
  clearFeatureMemory,
  DenseNet121,
  featureStats,
  fit,
  ready,
  setRandomSeed,
  setTrainable,
  sparseCategoricalCrossentropy,
  tfjsFit,
  upscale,
} from '../lib';
import { lessonLikeModel } from './support/lesson-like-model';

const silent = { verbose: 0 as const };

function valuesOf(layer: tf.layers.Layer): number[][] {
  return layer.getWeights().map((w) => Array.from(w.dataSync()));
}

function weightNamed(layer: tf.layers.Layer, suffix: string): number[] {
  return Array.from(
    layer.weights
      .find((w) => w.originalName.endsWith(suffix))!
      .read()
      .dataSync(),
  );
}

test('setTrainable unfreezes the top: the bottom is bit-identical and computed once per image, the top trains, its BatchNormalization statistics stay', async () => {
  await ready();
  clearFeatureMemory();
  const x = tf.randomUniform([24, 8, 8, 3], 0, 1, 'float32', 31);
  const y = tf.tensor1d(
    Array.from({ length: 24 }, (_, i) => i % 3),
    'int32',
  );
  const model = lessonLikeModel({ seed: 12, blocks: 3, upscaleTo: 14 });
  await model.fit(x, y, { batchSize: 8, epochs: 1, ...silent });
  const convs = model.layers.filter((l) => l.getClassName() === 'Conv2D');
  const norms = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
  const [bottom, top] = [convs.slice(0, 2), convs[2]];
  const report = setTrainable(model, { from: top.name });
  // The last block's conv (3x3x6x6 = 324) and BatchNormalization (gamma, beta: 12), the head's BN (2 x 6 = 12) and Dense layers (6*5+5 + 5*3+3 = 53).
  assert.equal(report.trainableParams, 324 + 12 + 12 + 53);
  model.compile({ optimizer: tf.train.adam(1e-2), loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  const before = { bottom: bottom.map(valuesOf), norms: norms.map(valuesOf), top: valuesOf(top) };
  const computed = featureStats.imagesComputed;
  const vx = tf.randomUniform([12, 8, 8, 3], 0, 1, 'float32', 34);
  await model.fit(x, y, { batchSize: 8, epochs: 3, validationData: [vx, y.slice(0, 12)], ...silent });
  assert.equal(
    featureStats.imagesComputed - computed,
    24 + 12,
    'the frozen bottom ran once per training and validation image, not per epoch',
  );
  bottom.forEach((layer, i) => assert.deepEqual(valuesOf(layer), before.bottom[i], `${layer.name} unchanged`));
  assert.notDeepEqual(valuesOf(top), before.top, 'the unfrozen convolution trained');
  const topNorm = norms[2];
  assert.notDeepEqual(weightNamed(topNorm, 'gamma'), before.norms[2][0], 'its gamma trained');
  assert.deepEqual(
    [weightNamed(topNorm, 'moving_mean'), weightNamed(topNorm, 'moving_variance')],
    before.norms[2].slice(2),
    'its moving statistics did not move (inference mode)',
  );
  norms.slice(0, 2).forEach((layer, i) => assert.deepEqual(valuesOf(layer), before.norms[i], `${layer.name} unchanged`));
  tf.dispose([x, y, vx]);
});

test('fine-tuning through the planner trains as tfjs does on the whole model (same losses)', async () => {
  await ready();
  clearFeatureMemory();
  const x = tf.randomUniform([16, 8, 8, 3], 0, 1, 'float32', 32);
  const y = tf.tensor1d(
    Array.from({ length: 16 }, (_, i) => (i * 5) % 3),
    'int32',
  );
  const build = () => {
    const model = lessonLikeModel({ seed: 13, blocks: 2, upscaleTo: 12 });
    setTrainable(model, { from: model.layers.filter((l) => l.getClassName() === 'Conv2D')[1].name });
    model.compile({ optimizer: tf.train.adam(1e-2), loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
    return model;
  };
  const [planned, plain] = [build(), build()];
  const options = { batchSize: 8, epochs: 2, shuffle: false, ...silent };
  const a = await fit(planned, x, y, options);
  const b = await tfjsFit(plain, x, y, options);
  (a.history.loss as number[]).forEach((v, i) =>
    assert.ok(Math.abs(v - (b.history.loss as number[])[i]) < 1e-5, `loss ${v} vs ${(b.history.loss as number[])[i]}`),
  );
  tf.dispose([x, y]);
});

test('the top block of DenseNet121 fine-tunes on wasm', async () => {
  await ready();
  clearFeatureMemory();
  setRandomSeed(2);
  const inputs = tf.input({ shape: [16, 16, 3] });
  const base = await DenseNet121({
    includeTop: false,
    pooling: 'max',
    weights: null,
    inputTensor: upscale({ height: 32, width: 32 }).apply(inputs),
    inputShape: [32, 32, 3],
  });
  base.trainable = false;
  const model = tf.model({ inputs, outputs: buildHead(base.output as tf.SymbolicTensor, { hidden: 8, dropout: 0, classes: 3 }) });
  model.compile({ optimizer: 'adam', loss: sparseCategoricalCrossentropy({ fromLogits: true }) });
  const x = tf.randomUniform([8, 16, 16, 3], 0, 1, 'float32', 33);
  const y = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32');
  await model.fit(x, y, { batchSize: 4, epochs: 1, ...silent });
  setTrainable(model, { from: 'conv5_block16_0_bn' });
  model.compile({ optimizer: tf.train.adam(1e-5), loss: sparseCategoricalCrossentropy({ fromLogits: true }) });
  const conv = model.getLayer('conv5_block16_2_conv');
  const before = valuesOf(conv);
  const history = await model.fit(x, y, { batchSize: 4, epochs: 1, ...silent });
  assert.equal(tf.getBackend(), 'wasm');
  assert.ok(Number.isFinite((history.history.loss as number[])[0]));
  assert.notDeepEqual(valuesOf(conv), before, 'the last convolution of the base trained');
  model.dispose();
  tf.dispose([x, y]);
});

test('setTrainable names the layer it cannot find', () => {
  const model = lessonLikeModel({ seed: 1 });
  assert.throws(() => setTrainable(model, { from: 'conv9_block1_0_bn' }), /no layer named "conv9_block1_0_bn"/);
  assert.throws(
    () => setTrainable(model, { from: model.layers[2].name, batchNormalization: 'maybe' as never }),
    /batchNormalization must be/,
  );
});
