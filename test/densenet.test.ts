// DenseNet121/169/201 have Keras' structure: parameter counts from Keras' applications table,
// Keras 2 layer names and order, Keras' argument checks, and the lesson's inputTensor wiring.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { ValueError } from '../lib/core/errors';
import { DenseNet121, DenseNet169, DenseNet201, DenseNetArgs } from '../lib/applications/densenet';
import { upscale } from '../lib/layers/upscale';
import { installKerasCompat } from '../lib/compat/install';
import { applications } from '../lib';
import { keras } from '../lib/keras';

installKerasCompat();

const MODELS = [
  // Totals with the top: Keras' applications table (keras.io/api/applications); without the top:
  // Keras' model.summary() of DenseNet121(include_top=False), as quoted in the lesson
  // (7,037,504 of which 83,648 non-trainable); layer counts: len(model.layers) in Keras.
  { name: 'DenseNet121', build: DenseNet121, blocks: [6, 12, 24, 16], notop: 7_037_504, top: 8_062_504, layersNotop: 427 },
  { name: 'DenseNet169', build: DenseNet169, blocks: [6, 12, 32, 32], notop: 12_642_880, top: 14_307_880, layersNotop: 595 },
  { name: 'DenseNet201', build: DenseNet201, blocks: [6, 12, 48, 32], notop: 18_321_984, top: 20_242_984, layersNotop: 707 },
];

/** BN moving statistics, counted by hand from the architecture: 2 x the channels of every BN layer. */
function movingStatistics(blocks: number[]): number {
  let channels = 64;
  let bnChannels = 64; // conv1/bn
  blocks.forEach((n, b) => {
    for (let i = 0; i < n; i++) {
      bnChannels += channels + 128; // _0_bn on the block input, _1_bn after the 1x1 conv (4 x 32)
      channels += 32;
    }
    bnChannels += channels; // pool{b}_bn, or the final bn after the last block
    if (b < 3) channels /= 2;
  });
  return 2 * bnChannels;
}

function count(weights: tf.LayerVariable[]): number {
  return weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b as number), 1), 0);
}

describe('DenseNet architecture (Keras 2.x)', () => {
  before(async () => {
    await ready();
  });

  for (const m of MODELS) {
    test(`${m.name}: parameter counts with and without the top, as Keras publishes them`, async () => {
      const notop = await m.build({ weights: null, includeTop: false });
      assert.equal(notop.countParams(), m.notop);
      assert.equal(count(notop.nonTrainableWeights), movingStatistics(m.blocks));
      assert.equal(notop.layers.length, m.layersNotop);
      assert.equal(notop.name, m.name.toLowerCase());
      notop.dispose();
      const top = await m.build({ weights: null });
      assert.equal(top.countParams(), m.top);
      assert.equal(top.layers.length, m.layersNotop + 2, 'avg_pool and predictions');
      assert.deepEqual(top.outputs[0].shape, [null, 1000]);
      top.dispose();
    });
  }

  test("DenseNet121 without top: 83,648 non-trainable parameters (the lesson's figure)", async () => {
    const model = await DenseNet121({ weights: null, includeTop: false });
    assert.equal(count(model.nonTrainableWeights), 83_648);
    assert.equal(count(model.trainableWeights), 6_953_856);
    model.dispose();
  });

  test('Keras 2 layer names and order, BN epsilon 1.001e-5, and the feature-map sizes at 160x160', async () => {
    const model = await DenseNet121({ weights: null, includeTop: false, pooling: 'max', inputShape: [160, 160, 3] });
    const names = model.layers.map((l) => l.name);
    assert.deepEqual(names.slice(1, 17), [
      'zero_padding2d',
      'conv1/conv',
      'conv1/bn',
      'conv1/relu',
      'zero_padding2d_1',
      'pool1',
      'conv2_block1_0_bn',
      'conv2_block1_0_relu',
      'conv2_block1_1_conv',
      'conv2_block1_1_bn',
      'conv2_block1_1_relu',
      'conv2_block1_2_conv',
      'conv2_block1_concat',
      'conv2_block2_0_bn',
      'conv2_block2_0_relu',
      'conv2_block2_1_conv',
    ]);
    assert.deepEqual(names.slice(-4), ['conv5_block16_concat', 'bn', 'relu', 'max_pool']);
    for (const block of ['pool2', 'pool3', 'pool4']) {
      const at = names.indexOf(`${block}_bn`);
      assert.deepEqual(names.slice(at, at + 4), [`${block}_bn`, `${block}_relu`, `${block}_conv`, `${block}_pool`]);
    }
    const bns = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
    assert.equal(bns.length, 121);
    for (const bn of bns) assert.equal(bn.getConfig().epsilon, 1.001e-5, bn.name);
    const shape = (name: string) => model.getLayer(name).outputShape;
    assert.deepEqual(shape('conv1/relu'), [null, 80, 80, 64]);
    assert.deepEqual(shape('pool1'), [null, 40, 40, 64]);
    assert.deepEqual(shape('pool2_pool'), [null, 20, 20, 128]);
    assert.deepEqual(shape('pool3_pool'), [null, 10, 10, 256]);
    assert.deepEqual(shape('pool4_pool'), [null, 5, 5, 512]);
    assert.deepEqual(shape('relu'), [null, 5, 5, 1024]);
    assert.deepEqual(shape('max_pool'), [null, 1024]);
    assert.equal(model.getLayer('conv1/conv').getConfig().useBias, false);
    // Keras' glorot_uniform (tfjs' default is glorotNormal), which tfjs serialises as VarianceScaling.
    assert.deepEqual((model.getLayer('conv1/conv').getConfig().kernelInitializer as { config: object }).config, {
      scale: 1,
      mode: 'fanAvg',
      distribution: 'uniform',
      seed: null,
    });
    model.dispose();
  });

  test("default input shapes follow Keras' obtain_input_shape", async () => {
    const notop = await DenseNet121({ weights: null, includeTop: false });
    assert.deepEqual(notop.inputs[0].shape, [null, null, null, 3]);
    assert.deepEqual(notop.outputs[0].shape, [null, null, null, 1024]);
    notop.dispose();
    const avg = await DenseNet121({ weights: null, includeTop: false, pooling: 'avg', inputShape: [96, 128, 3] });
    assert.deepEqual(avg.inputs[0].shape, [null, 96, 128, 3]);
    assert.deepEqual(avg.outputs[0].shape, [null, 1024]);
    assert.equal(avg.layers[avg.layers.length - 1].name, 'avg_pool');
    avg.dispose();
    const top = await DenseNet121({ weights: null, classes: 7, classifierActivation: null });
    assert.deepEqual(top.inputs[0].shape, [null, 224, 224, 3]);
    assert.deepEqual(top.outputs[0].shape, [null, 7]);
    assert.equal(top.getLayer('predictions').getConfig().activation, 'linear');
    top.dispose();
  });

  test("Keras' argument checks and messages (before any download)", async () => {
    const rejects = (args: DenseNetArgs, message: RegExp) =>
      assert.rejects(DenseNet121(args), (e: Error) => e instanceof ValueError && message.test(e.message), `expected ${message}`);
    await rejects(
      { weights: 'imagenett' },
      /The `weights` argument should be either `null`.*Received: weights="imagenett" \(no file exists at that path/,
    );
    await rejects(
      { weights: 'imagenet', classes: 10 },
      /If using `weights: 'imagenet'` with `includeTop` as true, `classes` should be 1000. Received: classes=10/,
    );
    await rejects(
      { inputShape: [160, 160, 3] },
      /`includeTop: true` and loading `imagenet` weights, `inputShape` should be \[224, 224, 3\]. Received: inputShape=\[160, 160, 3\]/,
    );
    await rejects({ includeTop: false, inputShape: [16, 64, 3] }, /Input size must be at least 32x32; Received: inputShape=\[16, 64, 3\]/);
    await rejects({ includeTop: false, inputShape: [64, 64, 1] }, /The input must have 3 channels; Received `inputShape=\[64, 64, 1\]`/);
    await rejects({ includeTop: false, inputShape: [64, 64] }, /`inputShape` must be an array of three integers.*\[64, 64\]/);
    await rejects(
      { weights: null, inputShape: [null, null, 3] },
      /If `includeTop` is true, you should specify a static `inputShape`. Received: inputShape=\[null, null, 3\]/,
    );
    await rejects(
      { includeTop: false, pooling: 'maximum' as never },
      /`pooling` should be 'avg', 'max' or undefined. Received: pooling="maximum"/,
    );
    await rejects({ classifierActivation: 'relu' }, /Only `null` and `softmax` activations are allowed.*classifierActivation="relu"/);
    await rejects(
      { includeTop: false, inputTensor: tf.zeros([1, 64, 64, 3]) as never },
      /`inputTensor` should be a symbolic tensor.*Received: Tensor/,
    );
    const inputs = tf.input({ shape: [64, 64, 3] });
    await rejects(
      { includeTop: false, weights: null, inputTensor: inputs, inputShape: [160, 160, 3] },
      /`inputTensor` has shape \[64, 64, 3\] per image but `inputShape` is \[160, 160, 3\]/,
    );
    // Random weights allow any activation and any class count.
    const ok = await DenseNet121({ weights: null, classes: 5, classifierActivation: 'sigmoid', inputShape: [32, 32, 3] });
    assert.deepEqual(ok.outputs[0].shape, [null, 5]);
    ok.dispose();
  });

  test("the lesson's wiring: inputTensor from an upscale layer, frozen base, head; the model takes the original inputs", async () => {
    const inputs = tf.input({ shape: [64, 64, 3] });
    const up = upscale({ height: 160, width: 160 }).apply(inputs) as tf.SymbolicTensor;
    const base = await DenseNet121({ includeTop: false, pooling: 'max', weights: null, inputTensor: up, inputShape: [160, 160, 3] });
    assert.equal(base.inputs.length, 1);
    assert.equal(base.inputs[0], inputs, "Keras' get_source_inputs: the base takes the 64x64 input");
    assert.equal(base.layers[1].getClassName(), 'Upscale');
    assert.equal(base.countParams(), 7_037_504);
    base.trainable = false;
    let x = base.output as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({}).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: 50, activation: 'relu' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.dropout({ rate: 0.5 }).apply(x) as tf.SymbolicTensor;
    const outputs = tf.layers.dense({ units: 10 }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs, outputs });
    // The lesson's model.summary(): 7,093,360 total params, 53,808 trainable.
    assert.equal(model.countParams(), 7_093_360);
    assert.equal(count(model.trainableWeights), 53_808);
    const images = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 2);
    const logits = model.predict(images) as tf.Tensor;
    assert.deepEqual(logits.shape, [2, 10]);
    assert.ok(Array.from(logits.dataSync()).every(Number.isFinite));
    tf.dispose([images, logits]);
    model.dispose();
  });
});

test("applications.densenet.preprocessInput is Keras' 'torch' mode (by hand), also as keras.applications.densenet", () => {
  const pixel = tf.tensor4d([[[[0, 127.5, 255]]]]);
  // (x / 255 - mean) / std per channel: (0 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (1 - 0.406) / 0.225.
  const expected = [-0.485 / 0.229, 0.044 / 0.224, 0.594 / 0.225];
  for (const preprocess of [applications.densenet.preprocessInput, keras.applications.densenet.preprocessInput]) {
    const out = preprocess(pixel);
    Array.from(out.dataSync()).forEach((v: number, i) =>
      assert.ok(Math.abs(v - expected[i]) < 1e-5, `channel ${i}: ${v} vs ${expected[i]}`),
    );
    out.dispose();
  }
  pixel.dispose();
});
