/**
 * fit of a model with random layers before its frozen base (data augmentation, noise): the base
 * cannot be cached, so it runs for every batch on the prefix engine (ONNX Runtime), outside the
 * gradient tape, while tfjs trains the head. Same numbers as tfjs training the whole model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  buildHead,
  clearFeatureMemory,
  featureStats,
  fit,
  onnxAvailable,
  ready,
  setRandomSeed,
  sparseCategoricalCrossentropy,
  tfjsFit,
  tfjsPredict,
  upscale,
} from '../lib';

function noisyModel(seed: number): tf.LayersModel {
  setRandomSeed(seed);
  const inputs = tf.input({ shape: [8, 8, 3] });
  const noisy = tf.layers.gaussianNoise({ stddev: 0.2 }).apply(inputs) as tf.SymbolicTensor;
  let x = upscale({ height: 12, width: 12 }).apply(noisy) as tf.SymbolicTensor;
  for (let i = 0; i < 2; i++) {
    x = tf.layers.conv2d({ filters: 6, kernelSize: 3, useBias: false }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ epsilon: 1.001e-5 }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.reLU().apply(x) as tf.SymbolicTensor;
  }
  const features = tf.layers.globalMaxPooling2d({}).apply(x) as tf.SymbolicTensor;
  const base = tf.model({ inputs, outputs: features });
  base.trainable = false;
  const model = tf.model({ inputs, outputs: buildHead(features, { hidden: 5, dropout: 0, classes: 3 }) });
  model.compile({ optimizer: 'adam', loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  return model;
}

test('random layers before a frozen base: the base runs every batch on the prefix engine, and trains as tfjs does', async () => {
  await ready();
  clearFeatureMemory();
  const x = tf.randomUniform([20, 8, 8, 3], 0, 1, 'float32', 41);
  const y = tf.tensor1d(
    Array.from({ length: 20 }, (_, i) => i % 3),
    'int32',
  );
  const vx = tf.randomUniform([6, 8, 8, 3], 0, 1, 'float32', 42);
  const vy = tf.tensor1d([0, 1, 2, 0, 1, 2], 'int32');
  const options = { batchSize: 5, epochs: 3, validationData: [vx, vy] as [tf.Tensor, tf.Tensor], verbose: 0 as const };
  const planned = noisyModel(3);
  const plain = noisyModel(3);
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => void lines.push(args.join(' '));
  const images = featureStats.imagesComputed;
  let a: tf.History;
  try {
    setRandomSeed(7);
    a = await fit(planned, x, y, { ...options, verbose: 1 });
  } finally {
    console.log = log;
  }
  assert.equal(
    featureStats.imagesComputed - images,
    3 * 20 + 6,
    'the base ran on every augmented training image each epoch, on the validation images once',
  );
  assert.match(
    lines.join('\n'),
    new RegExp(
      `Random layers before the frozen base: the base \\(\\d+ layers\\) runs on ${onnxAvailable() ? 'ONNX Runtime, CPU' : 'tfjs'} for every batch`,
    ),
  );
  setRandomSeed(7);
  const b = await tfjsFit(plain, x, y, options);
  for (const key of ['loss', 'accuracy', 'val_loss', 'val_accuracy']) {
    (a.history[key] as number[]).forEach((v, i) =>
      assert.ok(Math.abs(v - (b.history[key] as number[])[i]) < 1e-4, `${key}[${i}]: ${v} vs ${(b.history[key] as number[])[i]}`),
    );
  }
  const tensors = tf.memory().numTensors;
  await fit(planned, x, y, { ...options, epochs: 1 });
  await fit(planned, x, y, { ...options, epochs: 3 });
  assert.equal(tf.memory().numTensors, tensors, 'nothing kept but the validation features in the cache');
  assert.ok(
    planned.getWeights().every((w) => !w.isDisposed),
    "the plan gave back its models without freeing the caller's weights",
  );
  // model.fit takes the same path; model.predict runs the random layers as the identity, as Keras does.
  const images2 = featureStats.imagesComputed;
  await planned.fit(x, y, { batchSize: 5, epochs: 2, verbose: 0 });
  assert.equal(featureStats.imagesComputed - images2, 40);
  const [p, q] = [planned.predict(vx) as tf.Tensor, tfjsPredict(planned, vx) as tf.Tensor];
  assert.ok(tf.max(tf.abs(tf.sub(p, q))).dataSync()[0] < 1e-5);
  tf.dispose([x, y, vx, vy, p, q]);
});
