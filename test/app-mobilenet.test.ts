// MobileNetV2 as Keras 2 builds it: layer names and settings, correct_pad on odd sizes, Keras'
// checks on alpha and rows and its warning, the ImageNet file picked by alpha and rows (served by
// a local HTTP server), weights saved and loaded back, a wrong file refused, preprocessInput
// against numpy, a frozen base that stays frozen through fit, and the ONNX executor.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { tfjsFit } from '../lib/train/tfjs-methods';
import { DownloadError, ValueError } from '../lib/core/errors';
import { applications } from '../lib/index';
import { MobileNetV2, MobileNetV2Args, preprocessInput } from '../lib/applications/mobilenet-v2';
import { Upscale } from '../lib/layers/upscale';
import { saveWeightsH5 } from '../lib/weights/h5';
import { useWeightsServer } from './support/weights-server';
import { onnxAvailable } from '../lib/onnx';
import { expectOnnxMatchesTfjs } from './support/onnx-equivalence';
import { randomImages, randomizeWeights } from '../bench/onnx-fixtures';

const PYTHON = '/usr/bin/python3';

function snapshot(layers: tf.layers.Layer[]): Map<string, number[]> {
  const values = new Map<string, number[]>();
  for (const layer of layers) for (const w of layer.weights) values.set(w.originalName, Array.from(w.read().dataSync()));
  return values;
}

/**
 * Sets every BatchNormalization's moving statistics from the moments of its input on `x` (layer
 * after layer), keeping random gamma/beta. Random kernels with arbitrary statistics saturate ReLU6
 * (every feature 6, whatever the image: any comparison would pass); with unit-variance outputs a
 * random MobileNetV2 is chaotic (measured: 1e-6 relative noise on the input moves the features by
 * 5e-5, so two float32 implementations, even tfjs' cpu and wasm backends, differ by 3e-4). So the
 * variance is inflated 64x (BN outputs about an eighth of unit scale): features still vary
 * (spread ~0.2) and rounding is not amplified past the criterion (input noise 1e-6 -> 5e-6).
 */
function calibrateBatchNorms(model: tf.LayersModel, x: tf.Tensor): void {
  for (const layer of model.layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
    const probe = tf.model({ inputs: model.inputs, outputs: layer.input as tf.SymbolicTensor });
    tf.tidy(() => {
      const { mean, variance } = tf.moments(probe.predict(x) as tf.Tensor, [0, 1, 2]);
      const [gamma, beta] = layer.getWeights();
      layer.setWeights([gamma, beta, mean, tf.mul(tf.add(variance, tf.mean(variance)), 64)]);
    });
  }
}

/** Runs `fn` and returns what it wrote to stderr (Keras' warnings go there). */
async function stderrOf<T>(fn: () => Promise<T>): Promise<{ result?: T; error?: unknown; stderr: string }> {
  const original = process.stderr.write.bind(process.stderr);
  let text = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { result: await fn(), stderr: text };
  } catch (error) {
    return { error, stderr: text };
  } finally {
    process.stderr.write = original;
  }
}

describe('MobileNetV2 (Keras 2.x)', () => {
  before(async () => {
    await ready();
  });

  test('Keras 2 layer names and order, BN epsilon 1e-3 and momentum 0.999, ReLU6, model names by alpha and rows', async () => {
    const model = await MobileNetV2({ weights: null, includeTop: false, inputShape: [160, 160, 3], pooling: 'avg' });
    const names = model.layers.map((l) => l.name);
    assert.deepEqual(names.slice(1, 22), [
      'Conv1',
      'bn_Conv1',
      'Conv1_relu',
      'expanded_conv_depthwise',
      'expanded_conv_depthwise_BN',
      'expanded_conv_depthwise_relu',
      'expanded_conv_project',
      'expanded_conv_project_BN',
      'block_1_expand',
      'block_1_expand_BN',
      'block_1_expand_relu',
      'block_1_pad',
      'block_1_depthwise',
      'block_1_depthwise_BN',
      'block_1_depthwise_relu',
      'block_1_project',
      'block_1_project_BN',
      'block_2_expand',
      'block_2_expand_BN',
      'block_2_expand_relu',
      'block_2_depthwise',
    ]);
    assert.deepEqual(names.slice(-5), ['block_16_project_BN', 'Conv_1', 'Conv_1_bn', 'out_relu', 'global_average_pooling2d']);
    // Residual adds where Keras has them (stride 1, same width): blocks 2, 4, 5, 7, 8, 9, 11, 12, 14, 15.
    assert.deepEqual(
      names.filter((n) => n.endsWith('_add')),
      [2, 4, 5, 7, 8, 9, 11, 12, 14, 15].map((b) => `block_${b}_add`),
    );
    assert.deepEqual(
      names.filter((n) => n.endsWith('_pad')),
      [1, 3, 6, 13].map((b) => `block_${b}_pad`),
    );
    const bns = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
    assert.equal(bns.length, 52);
    for (const bn of bns) {
      assert.equal(bn.getConfig().epsilon, 1e-3, bn.name);
      assert.equal(bn.getConfig().momentum, 0.999, bn.name);
    }
    const relus = model.layers.filter((l) => l.getClassName() === 'ReLU');
    assert.equal(relus.length, 35);
    for (const relu of relus) assert.equal(relu.getConfig().maxValue, 6, relu.name);
    assert.equal(model.getLayer('Conv1').getConfig().padding, 'same');
    assert.equal(model.getLayer('block_1_depthwise').getConfig().padding, 'valid');
    assert.equal(model.getLayer('block_2_depthwise').getConfig().padding, 'same');
    // Keras' glorot_uniform for the depthwise kernels too (tfjs' default is glorotNormal).
    assert.deepEqual((model.getLayer('block_1_depthwise').getConfig().depthwiseInitializer as { config: object }).config, {
      scale: 1,
      mode: 'fanAvg',
      distribution: 'uniform',
      seed: null,
    });
    assert.equal(model.name, 'mobilenetv2_1.00_160');
    model.dispose();
    const narrow = await MobileNetV2({ weights: null, alpha: 0.35, includeTop: false });
    assert.equal(narrow.name, 'mobilenetv2_0.35_None', "Keras' f'mobilenetv2_{alpha:0.2f}_{rows}' with rows None");
    // alpha 0.35: Conv1 has make_divisible(32 * 0.35, 8) = 16 filters; the last conv stays 1280 (alpha < 1).
    assert.deepEqual(narrow.getLayer('Conv1').outputShape, [null, null, null, 16]);
    assert.deepEqual(narrow.getLayer('block_16_project').outputShape, [null, null, null, 112]);
    narrow.dispose();
  });

  test('feature-map sizes at 75x75: TF same padding and correct_pad pad odd sizes on both sides, even ones after', async () => {
    const model = await MobileNetV2({ weights: null, includeTop: false, inputShape: [75, 75, 3] });
    const side = (name: string) => model.getLayer(name).outputShape[1];
    // 75 -> ceil(75/2) = 38; pad (0, 1): 39 -> 19; pad (1, 1): 21 -> 10; pad (0, 1): 11 -> 5; pad (1, 1): 7 -> 3.
    assert.equal(side('Conv1'), 38);
    assert.deepEqual(model.getLayer('block_1_pad').getConfig().padding, [
      [0, 1],
      [0, 1],
    ]);
    assert.equal(side('block_1_depthwise'), 19);
    assert.deepEqual(model.getLayer('block_3_pad').getConfig().padding, [
      [1, 1],
      [1, 1],
    ]);
    assert.equal(side('block_3_depthwise'), 10);
    assert.equal(side('block_6_depthwise'), 5);
    assert.equal(side('block_13_depthwise'), 3);
    assert.deepEqual(model.outputs[0].shape, [null, 3, 3, 1280]);
    model.dispose();
  });

  test("Keras' checks on alpha (before any download)", async () => {
    const rejects = (args: MobileNetV2Args, message: RegExp) =>
      assert.rejects(MobileNetV2(args), (e: Error) => e instanceof ValueError && message.test(e.message), `expected ${message}`);
    await rejects(
      { alpha: 0.6, includeTop: false },
      /If imagenet weights are being loaded, alpha must be one of `0.35`, `0.50`, `0.75`, `1.0`, `1.3` or `1.4` only; Received `alpha=0.6`/,
    );
    await rejects({ alpha: 0, weights: null }, /`alpha` should be a positive number.*Received: alpha=0/);
    await rejects({ weights: 'imagenet', classes: 10 }, /`classes` should be 1000. Received: classes=10/);
    await rejects({ inputShape: [100, 100, 3] }, /`inputShape` should be \[224, 224, 3\]. Received: inputShape=\[100, 100, 3\]/);
    await rejects({ includeTop: false, inputShape: [31, 64, 3] }, /Input size must be at least 32x32/);
    // Any width with random weights.
    const wide = await MobileNetV2({ weights: null, alpha: 0.6, includeTop: false, inputShape: [32, 32, 3] });
    assert.equal(wide.name, 'mobilenetv2_0.60_32');
    wide.dispose();
  });

  test('preprocessInput is Keras\' "tf" mode (x / 127.5 - 1), as numpy computes it in float32; also under applications.mobilenet_v2', async (t) => {
    const pixels = tf.tensor4d(
      Float32Array.from({ length: 2 * 3 * 2 * 3 }, (_, i) => (i * 37.3) % 256),
      [2, 3, 2, 3],
    );
    const y = preprocessInput(pixels);
    assert.deepEqual(Array.from(applications.mobilenet_v2.preprocessInput(pixels).dataSync()), Array.from(y.dataSync()));
    const ints = preprocessInput(tf.tensor1d([0, 255], 'int32'));
    assert.equal(ints.dtype, 'float32');
    assert.deepEqual(Array.from(ints.dataSync()), [-1, 1]);
    const script =
      'import sys, json, numpy as np; x = np.array(json.load(sys.stdin), dtype=np.float32); x /= 127.5; x -= 1.0; print(json.dumps(x.tolist()))';
    const r = spawnSync(PYTHON, ['-c', script], { input: JSON.stringify(Array.from(pixels.dataSync())), encoding: 'utf8' });
    if (r.status !== 0) return t.skip(`numpy not usable by ${PYTHON}: ${r.stderr.trim().split('\n').pop()}`);
    assert.deepEqual(Array.from(y.dataSync()), JSON.parse(r.stdout));
    tf.dispose([pixels, y, ints]);
  });

  test("weights saved in Keras' layout load back bit for bit; another width's file is refused, naming the layer and shapes, without leaking", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-mobilenet-'));
    try {
      const source = await MobileNetV2({ weights: null, includeTop: false, alpha: 0.5, inputShape: [64, 64, 3] });
      randomizeWeights(source, 5);
      const file = path.join(dir, 'mobilenet_0.5.h5');
      await saveWeightsH5(source, file);
      const copy = await MobileNetV2({ weights: file, includeTop: false, alpha: 0.5, inputShape: [64, 64, 3] });
      assert.deepEqual(snapshot(copy.layers), snapshot(source.layers));
      const x = randomImages([2, 64, 64, 3], 8, -1, 1);
      const [a, b] = [source.predict(x) as tf.Tensor, copy.predict(x) as tf.Tensor];
      assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
      tf.dispose([x, a, b]);
      copy.dispose();
      source.dispose();

      const tensorsBefore = tf.memory().numTensors;
      await assert.rejects(
        MobileNetV2({ weights: file, includeTop: false }),
        (e: Error) =>
          e instanceof ValueError &&
          e.message.startsWith(file) &&
          /shape mismatch in layer #0 \(named `Conv1` in `mobilenetv2_1.00_None`, `Conv1` in the file\).*the model expects \[3, 3, 3, 32\], the file has \[3, 3, 3, 16\]/.test(
            e.message,
          ),
      );
      await assert.rejects(
        MobileNetV2({ weights: file, alpha: 0.5, inputShape: [64, 64, 3] }),
        (e: Error) => e instanceof ValueError && /the file has 104 layers with weights, `mobilenetv2_0.50_64` has 105/.test(e.message),
      );
      assert.equal(tf.memory().numTensors, tensorsBefore, 'the models built before the failed loads were freed');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a frozen MobileNetV2 base stays frozen through fit (weights and BN statistics bit-identical); the head trains', async () => {
    const inputs = tf.input({ shape: [32, 32, 3] });
    const base = await MobileNetV2({ weights: null, includeTop: false, alpha: 0.35, pooling: 'max', inputTensor: inputs });
    randomizeWeights(base, 9);
    base.trainable = false;
    let x = tf.layers.batchNormalization({ name: 'head_bn' }).apply(base.output as tf.SymbolicTensor) as tf.SymbolicTensor;
    x = tf.layers.dense({ units: 8, activation: 'relu', name: 'head_dense' }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs, outputs: tf.layers.dense({ units: 3, name: 'head_out' }).apply(x) as tf.SymbolicTensor });
    assert.ok(base.layers.every((l) => !l.trainable));
    const before = snapshot(base.layers);
    const headBefore = snapshot([model.getLayer('head_dense')]);
    // Far from the BN moving statistics, so batch statistics would differ.
    const images = tf.add(tf.mul(tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 7), 4), 1);
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3);
    model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
    await tfjsFit(model, images, labels, { epochs: 2, batchSize: 4, verbose: 0 });
    const after = snapshot(base.layers);
    assert.equal(after.size, before.size);
    for (const [name, values] of before) assert.deepEqual(after.get(name), values, `${name} unchanged`);
    assert.notDeepEqual(snapshot([model.getLayer('head_dense')]).get('head_dense/kernel'), headBefore.get('head_dense/kernel'));
    tf.dispose([images, labels]);
    model.dispose();
  });

  test("the ONNX executor runs all of MobileNetV2 (96x96, random weights and BN statistics) with tfjs' numbers, behind the lesson's upscale too", async (t) => {
    if (!onnxAvailable()) return t.skip('onnxruntime-node cannot be loaded here');
    const images = tf.input({ shape: [64, 64, 3] });
    const upscaled = new Upscale({ height: 96, width: 96 }).apply(images) as tf.SymbolicTensor;
    const model = await MobileNetV2({ weights: null, includeTop: false, pooling: 'avg', inputTensor: upscaled, inputShape: [96, 96, 3] });
    randomizeWeights(model, 17);
    const x = randomImages([3, 64, 64, 3], 21, -1, 1);
    calibrateBatchNorms(model, x);
    // Upscale + the 153 layers after the input + pooling.
    await expectOnnxMatchesTfjs(t, model, x, { layers: 155, minSpread: 1e-3, runBatchSize: 2 });
    x.dispose();
    model.dispose();
  });
});

describe("MobileNetV2 weights: 'imagenet': the file Keras picks by alpha and rows", () => {
  const ws = useWeightsServer('mobilenet-imagenet', 'mobilenet_v2');

  before(async () => {
    await ready();
  });

  /** Serves random weights for `args` under `name`; returns them. */
  async function serve(name: string, args: MobileNetV2Args): Promise<Map<string, number[]>> {
    const model = await MobileNetV2({ ...args, weights: null });
    randomizeWeights(model, 3);
    const file = path.join(ws.root, name);
    await saveWeightsH5(model, file);
    ws.serveBytes(name, fs.readFileSync(file));
    const values = snapshot(model.layers);
    model.dispose();
    return values;
  }

  test('alpha 0.35 at 96x96 without the top, and alpha 0.5 at 128x128 with it: downloaded, cached and loaded', async () => {
    const notop = '_no_top';
    const expected = await serve(`mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96${notop}.h5`, {
      alpha: 0.35,
      includeTop: false,
      inputShape: [96, 96, 3],
    });
    const model = await MobileNetV2({ alpha: 0.35, includeTop: false, inputShape: [96, 96, 3] });
    assert.deepEqual(ws.requests, ['mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5']);
    assert.deepEqual(snapshot(model.layers), expected);
    assert.ok(fs.existsSync(path.join(process.env.TSLAB_DL_CACHE!, 'models', ws.requests[0])), "kept in tslab-dl's cache");
    model.dispose();

    ws.requests = [];
    const top = await serve('mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_128.h5', { alpha: 0.5, inputShape: [128, 128, 3] });
    // With the top, ImageNet weights accept 128x128 (Keras' default size follows the input's rows).
    const withTop = await MobileNetV2({ alpha: 0.5, inputShape: [128, 128, 3] });
    assert.deepEqual(ws.requests, ['mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.5_128.h5']);
    assert.deepEqual(snapshot(withTop.layers), top);
    assert.equal(withTop.name, 'mobilenetv2_0.50_128');
    withTop.dispose();
  });

  test("the lesson's wiring at 160x160 asks for the 1.0_160 file; a non-square or unlisted size warns and asks for 1.0_224, as Keras does", async () => {
    const tensorsBefore = tf.memory().numTensors;
    const inputs = tf.input({ shape: [64, 64, 3] });
    const up = new Upscale({ height: 160, width: 160 }).apply(inputs) as tf.SymbolicTensor;
    const lesson = await stderrOf(() => MobileNetV2({ includeTop: false, pooling: 'max', inputTensor: up, inputShape: [160, 160, 3] }));
    assert.ok(lesson.error instanceof DownloadError, String(lesson.error));
    assert.match((lesson.error as Error).message, /mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1\.0_160_no_top\.h5/);
    assert.match((lesson.error as Error).message, /MobileNetV2 \(alpha 1\.0, 160x160\) ImageNet weights \(no top\)/);
    assert.doesNotMatch(lesson.stderr, /Warning/);

    for (const args of [{ inputShape: [100, 120, 3] }, { inputShape: [100, 100, 3] }, { inputTensor: up }] as MobileNetV2Args[]) {
      ws.requests = [];
      const { error, stderr } = await stderrOf(() => MobileNetV2({ includeTop: false, ...args }));
      assert.ok(error instanceof DownloadError, String(error));
      assert.deepEqual(ws.requests, ['mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5'], JSON.stringify(args.inputShape));
      assert.match(
        stderr,
        /Warning: `inputShape` is undefined or non-square, or `rows` is not in \[96, 128, 160, 192, 224\]. Weights for input shape \(224, 224\) will be loaded as the default/,
      );
    }
    assert.equal(tf.memory().numTensors, tensorsBefore, 'models whose weights could not be had were freed');
    assert.ok(
      !fs.existsSync(path.join(process.env.TSLAB_DL_CACHE!, 'models')) ||
        fs.readdirSync(path.join(process.env.TSLAB_DL_CACHE!, 'models')).length === 0,
      'nothing cached',
    );
  });
});
