/**
 * The ONNX executor computes what tfjs computes on every other application the
 * library offers (DenseNet: onnx-densenet.test.ts): each base without its top,
 * random weights (BatchNormalization statistics near those of random images, so
 * that the features vary from image to image), random images,
 * relative error < 1e-4 against model.predict on the wasm backend, and every
 * layer on ONNX. Small images keep the tfjs reference quick.
 */
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { setBackend } from '../lib/backends/selection';
import { setRandomSeed } from '../lib/core/random';
import { EfficientNetB0, InceptionV3, MobileNetV2, ResNet50, VGG16, Xception } from '../lib/applications';
import { expectOnnxMatchesTfjs } from './support/onnx-equivalence';
import { calibrateBatchNorm, randomImages, randomizeWeights } from '../bench/onnx-fixtures';

before(async () => {
  await setBackend('wasm');
});

after(() => {
  tf.disposeVariables();
});

type Builder = (args: {
  includeTop: false;
  weights: null;
  inputShape: [number, number, number];
  pooling: 'avg' | 'max';
}) => Promise<tf.LayersModel>;

// [name, builder, image size (at least the model's minimum), pooling, value range of the images, random biases]
const APPLICATIONS: [string, Builder, number, 'avg' | 'max', [number, number], boolean][] = [
  ['ResNet50', ResNet50, 64, 'avg', [-1, 1], true],
  // No BatchNormalization to re-centre 13 ReLU convolutions: random biases would drown the image.
  ['VGG16', VGG16, 64, 'max', [-1, 1], false],
  ['InceptionV3', InceptionV3, 75, 'avg', [-1, 1], true],
  ['Xception', Xception, 71, 'max', [-1, 1], true],
  ['MobileNetV2', MobileNetV2, 96, 'avg', [-1, 1], true],
  // EfficientNet rescales 0..255 images itself (Rescaling + Normalization in the model).
  ['EfficientNetB0', EfficientNetB0, 64, 'avg', [0, 255], true],
];

describe('ONNX executor on the applications', () => {
  for (const [name, build, size, pooling, [lo, hi], randomBiases] of APPLICATIONS) {
    it(`${name} at ${size}x${size}, ${pooling} pooling: every layer on ONNX, same features as tfjs`, async (t) => {
      // Keras' initialisers draw from Math.random: seeded, so the run is the same every time.
      setRandomSeed(3);
      const model = await build({ includeTop: false, weights: null, inputShape: [size, size, 3], pooling });
      if (randomBiases) randomizeWeights(model, 29);
      const calibration = randomImages([4, size, size, 3], 37, lo, hi);
      calibrateBatchNorm(model, calibration, 41);
      calibration.dispose();
      const x = randomImages([3, size, size, 3], 31, lo, hi);
      await expectOnnxMatchesTfjs(t, model, x, { minSpread: 0.05, runBatchSize: 2, label: name });
      x.dispose();
      model.dispose();
    });
  }
});
