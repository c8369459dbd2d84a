import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { buildHead } from '../lib/train/head';
import { dense } from '../lib/layers/dense';
import { installKerasCompat } from '../lib/compat/install';
import { summary } from '../lib/train';
import { parameterMemory } from '../lib/train/summary';

installKerasCompat();

const countOf = (weights: tf.LayerVariable[]) => weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b as number), 1), 0);

test('the head on 1024 pooled features: 55,856 parameters, 53,808 trainable (counted by hand)', async () => {
  await ready();
  const input = tf.input({ shape: [1024] });
  const model = tf.model({ inputs: input, outputs: buildHead(input, { hidden: 50, dropout: 0.5, classes: 10 }) });
  const batchNorm = 4 * 1024; // gamma, beta (trainable), moving mean, moving variance (not)
  const hidden = 1024 * 50 + 50;
  const output = 50 * 10 + 10;
  assert.equal(countOf(model.weights), batchNorm + hidden + output);
  assert.equal(countOf(model.weights), 55_856);
  assert.equal(countOf(model.trainableWeights), 2 * 1024 + hidden + output);
  assert.equal(countOf(model.trainableWeights), 53_808);
  const s = summary(model, { show: false });
  assert.deepEqual([s.totalParams, s.trainableParams, s.nonTrainableParams], [55_856, 53_808, 2_048]);
  // Sizes as Keras 3 prints them, float32 in binary units: 55,856 x 4 B = 218.19 KiB; 2,048 x 4 B = 8 KiB.
  assert.match(
    s.text(),
    /Total params: 55,856 \(218\.19 KB\)\nTrainable params: 53,808 \(210\.19 KB\)\nNon-trainable params: 2,048 \(8\.00 KB\)/,
  );
  assert.deepEqual(
    s.layers.map((l) => l.type),
    ['InputLayer', 'Flatten', 'BatchNormalization', 'Dense', 'Dropout', 'Dense'],
  );
  model.dispose();
});

test("the head's layers have Keras' settings: BN momentum 0.99 / epsilon 1e-3, relu, dropout rate, logits out", async () => {
  await ready();
  const input = tf.input({ shape: [1024] });
  const model = tf.model({ inputs: input, outputs: buildHead(input, { hidden: 20, dropout: 0.25, classes: 4 }) });
  const [, , bn, hidden, dropout, out] = model.layers.map((l) => l.getConfig());
  assert.equal(bn.momentum, 0.99);
  assert.equal(bn.epsilon, 1e-3);
  assert.equal(hidden.units, 20);
  assert.equal(hidden.activation, 'relu');
  assert.equal(dropout.rate, 0.25);
  assert.equal(out.units, 4);
  assert.equal(out.activation, 'linear');
  for (const layer of [hidden, out]) {
    // tfjs serialises glorotUniform as VarianceScaling(scale 1, fanAvg, uniform), its definition.
    assert.deepEqual((layer.kernelInitializer as { config: object }).config, {
      scale: 1,
      mode: 'fanAvg',
      distribution: 'uniform',
      seed: null,
    });
    assert.equal((layer.biasInitializer as { className: string }).className, 'Zeros');
  }
  model.dispose();
});

test('dense() draws glorot_uniform kernels within ±sqrt(6 / (fan_in + fan_out)) and zero biases', async () => {
  await ready();
  const layer = dense({ units: 50 });
  layer.apply(tf.input({ shape: [1024] }));
  const [kernel, bias] = layer.getWeights();
  const limit = Math.sqrt(6 / (1024 + 50));
  const w = kernel.dataSync();
  let max = 0;
  let sum = 0;
  let sumSquares = 0;
  for (const v of w) {
    max = Math.max(max, Math.abs(v));
    sum += v;
    sumSquares += v * v;
  }
  assert.ok(max <= limit, `max |w| ${max} exceeds the glorot_uniform limit ${limit}`);
  assert.ok(max > 0.99 * limit, `max |w| ${max} should reach close to the limit (uniform, 51,200 draws)`);
  // Uniform(-l, l): mean 0, variance l^2 / 3 (glorotNormal would have variance 2 / (fan_in + fan_out) = 2/3 of that).
  assert.ok(Math.abs(sum / w.length) < 0.002);
  const variance = sumSquares / w.length;
  assert.ok(Math.abs(variance / ((limit * limit) / 3) - 1) < 0.03, `variance ratio ${variance / ((limit * limit) / 3)}`);
  assert.deepEqual(Array.from(bias.dataSync()), new Array(50).fill(0));
});

test('buildHead checks its arguments', () => {
  const input = tf.input({ shape: [8] });
  assert.throws(() => buildHead(tf.zeros([2, 8]) as unknown as tf.SymbolicTensor), /must be a symbolic tensor.*Received a tf\.Tensor/);
  assert.throws(() => buildHead(input, { hidden: 0 }), /hidden.*positive integer.*0/);
  assert.throws(() => buildHead(input, { classes: 2.5 }), /classes.*positive integer/);
  assert.throws(() => buildHead(input, { dropout: 1 }), /dropout.*\[0, 1\).*1/);
});

const DENSENET = path.join(__dirname, '..', 'lib', 'applications', 'densenet.ts');

test("the lesson's model (upscale -> frozen DenseNet121, weights null -> head): 7,093,360 params, 53,808 trainable", async (t) => {
  await ready();
  if (!fs.existsSync(DENSENET)) {
    t.skip('lib/applications/densenet.ts is not in this checkout yet');
    return;
  }
  const { DenseNet121 } = require('../lib/applications/densenet');
  const { upscale } = require('../lib/layers/upscale');
  const inputs = tf.input({ shape: [64, 64, 3] });
  const upscaled = upscale({ height: 160, width: 160, method: 'bilinear' }).apply(inputs) as tf.SymbolicTensor;
  const base: tf.LayersModel = await DenseNet121({
    includeTop: false,
    pooling: 'max',
    weights: null,
    inputTensor: upscaled,
    inputShape: [160, 160, 3],
  });
  base.trainable = false;
  const model = tf.model({ inputs, outputs: buildHead(base.output as tf.SymbolicTensor, { hidden: 50, dropout: 0.5, classes: 10 }) });
  const s = summary(model, { show: false });
  assert.equal(s.totalParams, 7_093_360);
  assert.equal(s.trainableParams, 53_808);
  assert.equal(s.nonTrainableParams, 7_093_360 - 53_808);
  // tfjs' own model.summary() prints the same totals, as the lesson's Keras output shows them
  // (sizes by hand: 7,093,360 x 4 bytes = 27.06 MiB, 53,808 x 4 = 210.19 KiB, 7,039,552 x 4 = 26.85 MiB).
  const printed: string[] = [];
  model.summary(undefined, undefined, (line: string) => printed.push(line));
  const totals = printed.filter((line) => / params: /.test(line));
  assert.deepEqual(totals, [
    'Total params: 7,093,360 (27.06 MB)',
    'Trainable params: 53,808 (210.19 KB)',
    'Non-trainable params: 7,039,552 (26.85 MB)',
  ]);

  // model.summary() as the learner types it: one output in Keras' layout, names not cut.
  const calls: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  (process.stdout as unknown as { write: (chunk: string) => boolean }).write = (chunk: string) => (calls.push(chunk), true);
  try {
    model.summary();
  } finally {
    (process.stdout as unknown as { write: typeof write }).write = write;
  }
  assert.equal(calls.length, 1, 'one write, not one per line');
  const lines = calls[0].split('\n');
  assert.match(lines[2], /^Layer \(type\) +Output Shape +Param # +Connected to$/);
  const row = (name: string) => lines.find((l) => l.startsWith(`${name} `))?.replace(/ +/g, ' ');
  // Keras' rows, by hand: 7x7x3x64 = 9,408 weights; 4 x 64 BatchNormalization values; 1024 x 50 + 50.
  assert.equal(row('conv1/conv'), `conv1/conv (Conv2D) (None, 80, 80, 64) 9,408 ${upscaledName(model)}`);
  assert.equal(row('conv1/bn'), 'conv1/bn (BatchNormalization) (None, 80, 80, 64) 256 conv1/conv[0][0]');
  assert.equal(
    row('conv5_block16_concat'),
    'conv5_block16_concat (Concatenate) (None, 5, 5, 1024) 0 conv5_block15_concat[0][0], conv5_block16_2_conv[0][0]',
  );
  assert.match(row('max_pool') ?? '', /^max_pool \(GlobalMaxPooling2D\) \(None, 1024\) 0 relu\[0\]\[0\]$/);
  assert.equal(lines.filter((l) => / params: /.test(l)).length, 3);
  assert.ok(lines.length > 434, 'every layer listed');
  model.dispose();
});

/** The first DenseNet121 layer reads the zero padding after the upscale: "zero_padding2d...[0][0]". */
function upscaledName(model: tf.LayersModel): string {
  const padding = model.layers.find((l) => l.getClassName() === 'ZeroPadding2D')!;
  return `${padding.name}[0][0]`;
}

test("parameter sizes switch units where Keras 3's readable_memory_size does (1024 bytes)", () => {
  assert.equal(parameterMemory(0), '0.00 B');
  assert.equal(parameterMemory(255), '1020.00 B');
  assert.equal(parameterMemory(256), '1.00 KB');
  assert.equal(parameterMemory(262_144), '1.00 MB');
  assert.equal(parameterMemory(268_435_456), '1.00 GB');
});
