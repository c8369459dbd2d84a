// ResNet50, VGG16, InceptionV3 and Xception have Keras' structure: one table of models, each
// checked for Keras' parameter counts (published, and derived independently from torchvision or
// by hand), output shapes at the default size and at 160x160, Keras 2's layer names in the order
// Keras' Functional model puts them (re-implemented in Python on a graph written from Keras'
// source), layer settings, official weight files, Keras' argument checks, the lesson's wiring,
// and preprocessInput against Keras' numpy code.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { encodeNpy } from '../lib/data/npy';
import { ValueError } from '../lib/core/errors';
import { buildHead } from '../lib/train/head';
import { upscale } from '../lib/layers/upscale';
import * as applications from '../lib/applications';
import { ApplicationArgs, ApplicationWeightFiles } from '../lib/applications/build-steps';

const PYTHON = '/usr/bin/python3';
const REFERENCE = path.join(__dirname, 'python', 'app_resnet_vgg_inception_xception_reference.py');
const { parse: parseNpy } = require('npyjs') as { parse(buffer: ArrayBuffer): { data: Float32Array; shape: number[] } };

type Build = (args?: ApplicationArgs) => Promise<tf.LayersModel>;

const conv = (k: number, cin: number, cout: number) => k * k * cin * cout;
const sep = (cin: number, cout: number) => 9 * cin + cin * cout;
/** Xception counted by hand from its blocks: [parameters without BN, BatchNormalization channels]. */
function xceptionByHand(): { notop: number; bnChannels: number } {
  const parts: [number, number][] = [
    [conv(3, 3, 32), 32],
    [conv(3, 32, 64), 64],
    // entry flow: 1x1 strided projection + two separable convolutions per block
    [conv(1, 64, 128) + sep(64, 128) + sep(128, 128), 3 * 128],
    [conv(1, 128, 256) + sep(128, 256) + sep(256, 256), 3 * 256],
    [conv(1, 256, 728) + sep(256, 728) + sep(728, 728), 3 * 728],
    // middle flow: 8 blocks of 3 separable convolutions
    [8 * 3 * sep(728, 728), 8 * 3 * 728],
    // exit flow
    [conv(1, 728, 1024) + sep(728, 728) + sep(728, 1024), 1024 + 728 + 1024],
    [sep(1024, 1536) + sep(1536, 2048), 1536 + 2048],
  ];
  const weights = parts.reduce((n, [w]) => n + w, 0);
  const bnChannels = parts.reduce((n, [, c]) => n + c, 0);
  return { notop: weights + 4 * bnChannels, bnChannels };
}

interface ModelCase {
  name: string;
  build: Build;
  /** The module as the barrel exposes it (applications.resnet50, ...). */
  module: { preprocessInput(x: tf.Tensor): tf.Tensor; WEIGHT_FILES: ApplicationWeightFiles };
  /** Keras' model name and our reference script's name for it. */
  kerasName: string;
  defaultSize: number;
  minSize: number;
  /** Keras' numbers (keras.io/api/applications table, model.summary()): total with and without the top. */
  top: number;
  notop: number;
  nonTrainable: number;
  /** len(model.layers) in Keras without the top (the input layer included). */
  layersNotop: number;
  /** Channels of the last feature map, and its side for a 160x160 input (computed by hand below). */
  channels: number;
  side160: number;
  mode: 'caffe' | 'tf';
  /** The official no-top file and its md5, as keras/src/applications/<model>.py names them. */
  notopFile: string;
  notopMd5: string;
  /** The top file's md5, from Keras' source. */
  topMd5: string;
}

const MODELS: ModelCase[] = [
  {
    // 160 -> pad 3, 7x7/2: 80 -> pad 1, 3x3/2 max pool: 40 -> conv3: 20 -> conv4: 10 -> conv5: 5.
    name: 'ResNet50',
    build: applications.ResNet50,
    module: applications.resnet50,
    kerasName: 'resnet50',
    defaultSize: 224,
    minSize: 32,
    top: 25_636_712,
    notop: 23_587_712,
    nonTrainable: 53_120,
    layersNotop: 175,
    channels: 2048,
    side160: 5,
    mode: 'caffe',
    notopFile: 'https://storage.googleapis.com/tensorflow/keras-applications/resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5',
    notopMd5: '4d473c1dd8becc155b73f8504c6f6626',
    topMd5: '2cb95161c43110f7111970584f804107',
  },
  {
    // 160 halved by five 2x2 max pools: 5.
    name: 'VGG16',
    build: applications.VGG16,
    module: applications.vgg16,
    kerasName: 'vgg16',
    defaultSize: 224,
    minSize: 32,
    top: 138_357_544,
    notop: 14_714_688,
    nonTrainable: 0,
    layersNotop: 19,
    channels: 512,
    side160: 5,
    mode: 'caffe',
    notopFile: 'https://storage.googleapis.com/tensorflow/keras-applications/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
    notopMd5: '6d6bbae143d832006294945121d1f1fc',
    topMd5: '64373286793e3c8b2b4e3219cbf3544b',
  },
  {
    // 160 -> 3x3/2 valid: 79 -> 3x3 valid: 77 -> 3x3/2 max pool: 38 -> 3x3 valid: 36 -> max pool: 17
    // -> mixed3 (3x3/2 valid): 8 -> mixed8: 3.
    name: 'InceptionV3',
    build: applications.InceptionV3,
    module: applications.inception_v3,
    kerasName: 'inception_v3',
    defaultSize: 299,
    minSize: 75,
    top: 23_851_784,
    notop: 21_802_784,
    nonTrainable: 34_432,
    layersNotop: 311,
    channels: 2048,
    side160: 3,
    mode: 'tf',
    notopFile:
      'https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5',
    notopMd5: 'bcbd6486424b2319ff4ef7d526e38f63',
    topMd5: '9a0d58056eeedaa3f26cb7ebd46da564',
  },
  {
    // 160 -> 3x3/2 valid: 79 -> 3x3 valid: 77 -> 'same' 3x3/2 max pools: 39 -> 20 -> 10 -> 5.
    name: 'Xception',
    build: applications.Xception,
    module: applications.xception,
    kerasName: 'xception',
    defaultSize: 299,
    minSize: 71,
    top: 22_910_480,
    notop: 20_861_480,
    nonTrainable: 54_528,
    layersNotop: 132,
    channels: 2048,
    side160: 5,
    mode: 'tf',
    notopFile: 'https://storage.googleapis.com/tensorflow/keras-applications/xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5',
    notopMd5: 'b0042744bf5b25fce3cb969f33bebb97',
    topMd5: '0a58e3b7378bc2990ea3b43d5981f1f6',
  },
];

function count(weights: tf.LayerVariable[]): number {
  return weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b as number), 1), 0);
}

function pythonMissing(modules: string): string | undefined {
  const r = spawnSync(PYTHON, ['-c', `import ${modules}`], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `${modules} not importable by ${PYTHON}: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`;
}

function python(args: string[]): string {
  const r = spawnSync(PYTHON, [REFERENCE, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

interface KerasLayer {
  name: string;
  weights: [string, number[]][];
}

/** Keras' model.layers (names, weight names and shapes) from the reference script. */
function kerasLayers(kerasName: string, extra: string[]): KerasLayer[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tslab-dl-${kerasName}-layers-`));
  try {
    python([kerasName, dir, '75', '1', '--layers-only', ...extra]);
    return JSON.parse(fs.readFileSync(path.join(dir, 'layers.json'), 'utf8'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('ResNet50, VGG16, InceptionV3, Xception: Keras 2 architectures', () => {
  const torchMissing = pythonMissing('numpy, h5py, torch, torchvision');
  let torchvisionCounts: Record<string, { top: number; notop: number; nonTrainable: number }> | undefined;

  before(async () => {
    await ready();
    if (!torchMissing) torchvisionCounts = JSON.parse(python(['--counts']));
  });

  for (const m of MODELS) {
    describe(m.name, () => {
      test("parameter counts with and without the top: Keras' numbers, and an independent count", async (t) => {
        const notop = await m.build({ weights: null, includeTop: false });
        assert.equal(notop.countParams(), m.notop);
        assert.equal(count(notop.nonTrainableWeights), m.nonTrainable, 'BatchNormalization moving statistics');
        assert.equal(notop.layers.length, m.layersNotop);
        assert.equal(notop.name, m.kerasName);
        notop.dispose();
        const top = await m.build({ weights: null });
        assert.equal(top.countParams(), m.top);
        assert.equal(top.layers.length, m.layersNotop + (m.name === 'VGG16' ? 4 : 2), 'the top layers');
        top.dispose();
        if (m.name === 'Xception') {
          const hand = xceptionByHand();
          assert.equal(hand.notop, m.notop, 'counted by hand from the blocks');
          assert.equal(2 * hand.bnChannels, m.nonTrainable);
          assert.equal(hand.notop + 2048 * 1000 + 1000, m.top);
        } else if (torchMissing) {
          t.diagnostic(`torchvision cross-check skipped: ${torchMissing}`);
        } else {
          // torchvision's parameters + BN moving statistics, + conv biases (ResNet) / - BN gammas (InceptionV3).
          assert.deepEqual(torchvisionCounts![m.name], { top: m.top, notop: m.notop, nonTrainable: m.nonTrainable });
        }
      });

      test('output shapes: default size with the top, any size without, 160x160 pooled and not', async () => {
        const top = await m.build({ weights: null });
        assert.deepEqual(top.inputs[0].shape, [null, m.defaultSize, m.defaultSize, 3]);
        assert.deepEqual(top.outputs[0].shape, [null, 1000]);
        assert.equal(top.getLayer('predictions').getConfig().activation, 'softmax');
        top.dispose();
        const any = await m.build({ weights: null, includeTop: false });
        assert.deepEqual(any.inputs[0].shape, [null, null, null, 3]);
        assert.deepEqual(any.outputs[0].shape, [null, null, null, m.channels]);
        any.dispose();
        const map160 = await m.build({ weights: null, includeTop: false, inputShape: [160, 160, 3] });
        assert.deepEqual(map160.outputs[0].shape, [null, m.side160, m.side160, m.channels]);
        const x = tf.randomUniform([1, 160, 160, 3], 0, 1, 'float32', 3);
        const y = map160.predict(x) as tf.Tensor;
        assert.deepEqual(y.shape, [1, m.side160, m.side160, m.channels], 'the computed shape agrees');
        tf.dispose([x, y]);
        map160.dispose();
        for (const pooling of ['avg', 'max'] as const) {
          const pooled = await m.build({ weights: null, includeTop: false, pooling, inputShape: [160, 160, 3] });
          assert.deepEqual(pooled.outputs[0].shape, [null, m.channels]);
          const last = pooled.layers[pooled.layers.length - 1].getClassName();
          assert.equal(last, pooling === 'avg' ? 'GlobalAveragePooling2D' : 'GlobalMaxPooling2D');
          pooled.dispose();
        }
        const logits = await m.build({ weights: null, classes: 7, classifierActivation: null });
        assert.deepEqual(logits.outputs[0].shape, [null, 7]);
        assert.equal(logits.getLayer('predictions').getConfig().activation, 'linear');
        logits.dispose();
      });

      test("Keras 2 layer names, in the order of Keras' Functional model, with Keras' weight names and shapes", async (t) => {
        if (torchMissing) return t.skip(torchMissing);
        for (const [extra, args] of [
          [['--pooling', 'max'], { includeTop: false, pooling: 'max' }],
          [['--top', '--classes', '1000'], { inputShape: [75, 75, 3] }],
        ] as [string[], ApplicationArgs][]) {
          const expected = kerasLayers(m.kerasName, extra);
          const model = await m.build({ weights: null, ...args });
          // The input layer aside (Keras: input_1), every name in the same place.
          assert.deepEqual(
            model.layers.slice(1).map((l) => l.name),
            expected.slice(1).map((l) => l.name),
            extra.join(' '),
          );
          model.layers.forEach((layer, i) => {
            const weights = layer.weights.map((w) => [`${w.originalName}:0`, w.shape]);
            assert.deepEqual(weights, expected[i].weights, `weights of ${layer.name}`);
          });
          model.dispose();
        }
      });

      test('official weight files: URL, file name and md5 of the top and no-top files', () => {
        const files = m.module.WEIGHT_FILES;
        assert.equal(files.notop.url, m.notopFile);
        assert.equal(files.notop.md5, m.notopMd5);
        assert.equal(files.top.url, m.notopFile.replace('_notop.h5', '.h5'));
        assert.equal(files.top.md5, m.topMd5);
      });

      test("Keras' argument checks, with the model's default and minimum sizes", async () => {
        const rejects = (args: ApplicationArgs, message: RegExp) =>
          assert.rejects(m.build(args), (e: Error) => e instanceof ValueError && message.test(e.message), `expected ${message}`);
        const d = m.defaultSize;
        await rejects({ weights: 'imagenett' }, /The `weights` argument should be either `null`.*Received: weights="imagenett"/);
        await rejects({ weights: 'imagenet', classes: 10 }, /`classes` should be 1000. Received: classes=10/);
        await rejects(
          { inputShape: [160, 160, 3] },
          new RegExp(`\`inputShape\` should be \\[${d}, ${d}, 3\\]. Received: inputShape=\\[160, 160, 3\\]`),
        );
        await rejects(
          { includeTop: false, inputShape: [m.minSize - 1, 160, 3] },
          new RegExp(`Input size must be at least ${m.minSize}x${m.minSize}; Received: inputShape=\\[${m.minSize - 1}, 160, 3\\]`),
        );
        await rejects({ includeTop: false, inputShape: [160, 160, 1] }, /The input must have 3 channels/);
        await rejects(
          { includeTop: false, pooling: 'sum' as never },
          /`pooling` should be 'avg', 'max' or undefined. Received: pooling="sum"/,
        );
        await rejects({ classifierActivation: 'relu' }, /Only `null` and `softmax` activations are allowed/);
        const small = tf.input({ shape: [m.minSize - 1, m.minSize - 1, 3] });
        await rejects(
          { includeTop: false, weights: null, inputTensor: small },
          new RegExp(
            `Input size must be at least ${m.minSize}x${m.minSize}; Received: \`inputTensor\` of shape \\[${m.minSize - 1}, ${m.minSize - 1}, 3\\].*upscale`,
          ),
        );
        // The smallest accepted size builds.
        const ok = await m.build({ weights: null, includeTop: false, inputShape: [m.minSize, m.minSize, 3], pooling: 'avg' });
        assert.deepEqual(ok.outputs[0].shape, [null, m.channels]);
        ok.dispose();
      });

      test("the lesson's wiring: 64x64 images -> upscale(160) -> frozen base -> head; the model takes the 64x64 input", async () => {
        const inputs = tf.input({ shape: [64, 64, 3] });
        const up = upscale({ height: 160, width: 160 }).apply(inputs) as tf.SymbolicTensor;
        const base = await m.build({ includeTop: false, pooling: 'max', weights: null, inputTensor: up, inputShape: [160, 160, 3] });
        assert.equal(base.inputs[0], inputs, "Keras' get_source_inputs: the base takes the 64x64 input");
        assert.equal(base.layers[1].getClassName(), 'Upscale');
        assert.equal(base.countParams(), m.notop);
        base.trainable = false;
        const model = tf.model({ inputs, outputs: buildHead(base.output as tf.SymbolicTensor, { hidden: 50, dropout: 0.5, classes: 10 }) });
        // The head on C pooled features: BN (4C, 2C trainable) + Dense(C->50) + Dense(50->10).
        const c = m.channels;
        assert.equal(model.countParams(), m.notop + 4 * c + c * 50 + 50 + 50 * 10 + 10);
        assert.equal(count(model.trainableWeights), 2 * c + c * 50 + 50 + 50 * 10 + 10);
        const images = tf.randomUniform([2, 64, 64, 3], 0, 1, 'float32', 2);
        const logits = model.predict(images) as tf.Tensor;
        assert.deepEqual(logits.shape, [2, 10]);
        assert.ok(Array.from(logits.dataSync()).every(Number.isFinite));
        tf.dispose([images, logits]);
        model.dispose();
      });
    });
  }

  test('layer settings Keras fixes: BN epsilon and scale, conv biases, initialisers, SeparableConv2D weights', async () => {
    const resnet = await applications.ResNet50({ weights: null, includeTop: false });
    const bnConfigs = (model: tf.LayersModel) =>
      model.layers.filter((l) => l.getClassName() === 'BatchNormalization').map((l) => l.getConfig());
    assert.ok(bnConfigs(resnet).every((c) => c.epsilon === 1.001e-5 && c.scale === true));
    assert.equal(resnet.getLayer('conv2_block1_1_conv').getConfig().useBias, true, "Keras' ResNet convolutions have biases");
    assert.deepEqual(resnet.getLayer('conv2_block1_1_conv').getConfig().strides, [1, 1]);
    // Keras v1: the stride on the first 1x1 convolution and the shortcut, not on the 3x3.
    assert.deepEqual(resnet.getLayer('conv3_block1_1_conv').getConfig().strides, [2, 2]);
    assert.deepEqual(resnet.getLayer('conv3_block1_0_conv').getConfig().strides, [2, 2]);
    assert.deepEqual(resnet.getLayer('conv3_block1_2_conv').getConfig().strides, [1, 1]);
    assert.deepEqual((resnet.getLayer('conv1_conv').getConfig().kernelInitializer as { config: object }).config, {
      scale: 1,
      mode: 'fanAvg',
      distribution: 'uniform',
      seed: null,
    });
    resnet.dispose();

    const inception = await applications.InceptionV3({ weights: null, includeTop: false });
    const inceptionBns = bnConfigs(inception);
    assert.equal(inceptionBns.length, 94);
    assert.ok(inceptionBns.every((c) => c.epsilon === 1e-3 && c.scale === false && c.center === true));
    assert.deepEqual(
      inception.getLayer('batch_normalization').weights.map((w) => w.originalName),
      ['batch_normalization/beta', 'batch_normalization/moving_mean', 'batch_normalization/moving_variance'],
      'no gamma',
    );
    assert.ok(inception.layers.filter((l) => l.getClassName() === 'Conv2D').every((l) => l.getConfig().useBias === false));
    assert.equal(inception.getLayer('average_pooling2d').getConfig().padding, 'same');
    inception.dispose();

    const xception = await applications.Xception({ weights: null, includeTop: false });
    assert.ok(bnConfigs(xception).every((c) => c.epsilon === 1e-3 && c.scale === true));
    const sepconv = xception.getLayer('block2_sepconv1');
    assert.equal(sepconv.getClassName(), 'SeparableConv2D');
    // Keras' order and shapes: depthwise_kernel [3, 3, in, 1], then pointwise_kernel [1, 1, in, out].
    assert.deepEqual(
      sepconv.weights.map((w) => [w.originalName, w.shape]),
      [
        ['block2_sepconv1/depthwise_kernel', [3, 3, 64, 1]],
        ['block2_sepconv1/pointwise_kernel', [1, 1, 64, 128]],
      ],
    );
    const init = sepconv.getConfig() as {
      depthwiseInitializer: { className: string; config: object };
      pointwiseInitializer: { className: string; config: object };
    };
    for (const i of [init.depthwiseInitializer, init.pointwiseInitializer]) {
      assert.deepEqual(i.config, { scale: 1, mode: 'fanAvg', distribution: 'uniform', seed: null }, 'glorot_uniform');
    }
    xception.dispose();

    const vgg = await applications.VGG16({ weights: null });
    assert.equal(vgg.getLayer('block1_conv1').getConfig().activation, 'relu');
    assert.deepEqual(vgg.getLayer('fc1').weights[0].shape, [7 * 7 * 512, 4096]);
    vgg.dispose();
  });

  test("preprocessInput: exactly Keras' imagenet_utils.preprocess_input (caffe for ResNet50/VGG16, tf for InceptionV3/Xception)", async (t) => {
    const missing = pythonMissing('numpy');
    if (missing) return t.skip(missing);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-preprocess-'));
    try {
      // Float pixel values 0..255 with fractions, in a (2, 3, 4, 3) batch.
      const x = tf.randomUniform([2, 3, 4, 3], 0, 255, 'float32', 11);
      const values = x.dataSync() as Float32Array;
      fs.writeFileSync(path.join(dir, 'x.npy'), encodeNpy(values, [2, 3, 4, 3]));
      for (const m of MODELS) {
        const out = path.join(dir, `${m.mode}.npy`);
        if (!fs.existsSync(out)) python(['preprocess', m.mode, path.join(dir, 'x.npy'), out]);
        const bytes = fs.readFileSync(out);
        const expected = parseNpy(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
        const before = tf.memory().numTensors;
        const y = m.module.preprocessInput(x);
        assert.equal(y.dtype, 'float32');
        assert.deepEqual(y.shape, [2, 3, 4, 3]);
        assert.deepEqual(Array.from(y.dataSync()), Array.from(expected.data), `${m.name}: bit for bit`);
        y.dispose();
        assert.equal(tf.memory().numTensors, before, 'no intermediate tensor left');
      }
      // By hand: caffe turns RGB into BGR and subtracts the BGR mean pixel; tf maps 0 -> -1, 255 -> 1.
      const pixel = tf.tensor4d([[[[10, 20, 30]]]]);
      assert.deepEqual(
        Array.from(applications.resnet50.preprocessInput(pixel).dataSync()),
        Array.from(new Float32Array([30 - 103.939, 20 - 116.779, 10 - 123.68])),
      );
      assert.deepEqual(Array.from(applications.xception.preprocessInput(tf.tensor1d([0, 127.5, 255])).dataSync()), [-1, 0, 1]);
      // Integer images are cast to float32 first, as Keras does.
      const ints = applications.inception_v3.preprocessInput(tf.tensor1d([0, 51, 255], 'int32'));
      assert.equal(ints.dtype, 'float32');
      assert.deepEqual(Array.from(ints.dataSync()), Array.from(new Float32Array([-1, Math.fround(51 / 127.5) - 1, 1])));
      tf.dispose([x, pixel, ints]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
