/**
 * The ONNX executor (which the feature cache runs frozen bases on) translates every layer of
 * ResNet50, VGG16, InceptionV3 and Xception and computes what tfjs computes: random weights
 * (random BatchNormalization statistics too, which a fresh model has at 0 and 1), random images,
 * relative error < 1e-4 against model.predict on the wasm backend. Small inputs keep it quick on
 * two cores; the lesson's upscale -> ResNet50 graph runs at 160x160.
 */
import { after, before, describe, it, TestContext } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { setBackend } from '../lib/backends/selection';
import { InceptionV3, ResNet50, VGG16, Xception } from '../lib/applications';
import { ApplicationArgs } from '../lib/applications/build-steps';
import { Upscale } from '../lib/layers/upscale';
import { onnxAvailable, onnxRuntimeInfo } from '../lib/onnx';
import { expectOnnxMatchesTfjs } from './support/onnx-equivalence';
import { randomImages, randomizeWeights } from '../bench/onnx-fixtures';

before(async () => {
  await setBackend('wasm');
});

after(() => {
  tf.disposeVariables();
});

/**
 * He-scaled random convolution kernels (variance 2 / fan-in), then random BN statistics and biases: signals
 * keep their size through a hundred layers, so the outputs differ from image to image (with
 * Keras' glorot initialisation they collapse to nearly the same vector for every image).
 */
function heKernels(model: tf.LayersModel, seed: number): void {
  let s = seed;
  for (const layer of model.layers) {
    const values = layer.weights.map((w) => {
      const name = w.originalName;
      const shape = w.shape as number[];
      // Convolution kernels only (HWIO); dense layers keep theirs, so a softmax top does not saturate.
      if (!/kernel$/.test(name) || shape.length !== 4) return w.read().clone();
      // The fan-in is everything but the last axis; a depthwise kernel's is kh * kw.
      const fanIn = /depthwise_kernel$/.test(name) ? shape[0] * shape[1] : shape.slice(0, -1).reduce((a, b) => a * b, 1);
      return tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', s++);
    });
    if (values.length > 0) layer.setWeights(values);
    tf.dispose(values);
  }
}

/** He-initialised kernels and random biases and BN statistics, then ONNX against tfjs on `x`. */
async function expectSameAsTfjs(t: TestContext, model: tf.LayersModel, x: tf.Tensor): Promise<void> {
  heKernels(model, 41);
  randomizeWeights(model, 29);
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer').length;
  await expectOnnxMatchesTfjs(t, model, x, { layers, minSpread: 1e-3, predictBatchSize: 4, runBatchSize: 2 });
}

/** Random images, each with its own brightness and contrast, so that the outputs differ from image to image. */
function variedImages(shape: number[], seed: number): tf.Tensor {
  return tf.tidy(() => {
    const n = shape[0];
    const gain = tf.randomUniform([n, 1, 1, 1], 0.2, 1, 'float32', seed + 1);
    const offset = tf.mul(tf.randomUniform([n, 1, 1, 1], 0, 1, 'float32', seed + 2), tf.sub(1, gain));
    return tf.add(offset, tf.mul(gain, randomImages(shape, seed)));
  });
}

const CASES: { name: string; build: (args: ApplicationArgs) => Promise<tf.LayersModel>; args: ApplicationArgs; size: number }[] = [
  { name: 'ResNet50 without the top, 96x96, average pooling', build: ResNet50, args: { includeTop: false, pooling: 'avg' }, size: 96 },
  {
    name: 'VGG16 with its top (Flatten in channels-last order, fc1, fc2, softmax of 10 classes), 64x64',
    build: VGG16,
    args: { classes: 10 },
    size: 64,
  },
  // InceptionV3 ends on a 2x2 map from 107x107 ('same' average pools with padding, 'valid' strided convs, 1x7/7x1 kernels).
  {
    name: 'InceptionV3 without the top, 107x107, max pooling (BatchNormalization without gamma)',
    build: InceptionV3,
    args: { includeTop: false, pooling: 'max' },
    size: 107,
  },
  // Logits: Xception's residual sums grow large enough to saturate a softmax with random weights.
  {
    name: "Xception with its top, logits, 75x75 (SeparableConv2D, 'same' strided max pools on odd sizes)",
    build: Xception,
    args: { classes: 10, classifierActivation: null },
    size: 75,
  },
];

describe('ONNX executor on ResNet50, VGG16, InceptionV3, Xception', () => {
  const unavailable = onnxAvailable() ? undefined : `onnxruntime-node cannot be used here: ${onnxRuntimeInfo().reason}`;

  for (const c of CASES) {
    it(`${c.name}: every layer on ONNX, same outputs as tfjs`, async (t) => {
      if (unavailable) return t.skip(unavailable);
      const model = await c.build({ weights: null, inputShape: [c.size, c.size, 3], ...c.args });
      const x = variedImages([3, c.size, c.size, 3], 31);
      await expectSameAsTfjs(t, model, x);
      x.dispose();
      model.dispose();
    });
  }

  it("the lesson's graph with ResNet50: 64x64 images -> Upscale(160, 160) -> ResNet50 -> max pooling", async (t) => {
    if (unavailable) return t.skip(unavailable);
    const images = tf.input({ shape: [64, 64, 3] });
    const upscaled = new Upscale({ height: 160, width: 160 }).apply(images) as tf.SymbolicTensor;
    const base = await ResNet50({ includeTop: false, weights: null, inputTensor: upscaled, pooling: 'max' });
    const x = variedImages([2, 64, 64, 3], 32);
    await expectSameAsTfjs(t, base, x);
    x.dispose();
    base.dispose();
  });
});
