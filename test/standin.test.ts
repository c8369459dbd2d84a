/**
 * The stand-in for ImageNet weights: a Keras-layout file with Keras' random kernels whose
 * BatchNormalization statistics are those of the calibration images (or, without
 * BatchNormalization, whose ReLU layers give unit RMS on them), which the application loads
 * through the same .h5 path as the real file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ApplicationArgs } from '../lib/applications/build-steps';
import { applications, DenseNet121, denseNet121StandInWeights, standInWeights, upscale, setRandomSeed, ValueError } from '../lib';

const SIZE = 64;

async function base(weights: string | null) {
  setRandomSeed(2);
  const inputs = tf.input({ shape: [32, 32, 3] });
  const up = upscale({ height: SIZE, width: SIZE }).apply(inputs) as tf.SymbolicTensor;
  return DenseNet121({ includeTop: false, pooling: 'max', weights, inputTensor: up, inputShape: [SIZE, SIZE, 3] });
}

test('stand-in weights: BatchNormalization statistics are the calibration batch statistics', async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-standin-'));
  try {
    const images = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 9) as tf.Tensor4D;
    const file = await denseNet121StandInWeights({ images, size: SIZE, folder });
    assert.match(path.basename(file), /^densenet121_standin_[0-9a-f]{16}_notop\.h5$/);
    // Made once: the same images give the same file without recomputing.
    const mtime = fs.statSync(file).mtimeMs;
    assert.equal(await denseNet121StandInWeights({ images, size: SIZE, folder }), file);
    assert.equal(fs.statSync(file).mtimeMs, mtime);

    const calibrated = await base(file);
    const random = await base(null);
    // Same kernels as Keras' initialisation with the same seed: only BN statistics differ.
    const kernel = (m: tf.LayersModel) => m.getLayer('conv1/conv').getWeights()[0];
    assert.deepEqual(Array.from(kernel(calibrated).dataSync()), Array.from(kernel(random).dataSync()));

    // conv1/bn's moving statistics, recomputed independently: moments of conv1/conv's output.
    const probe = tf.model({ inputs: calibrated.inputs, outputs: calibrated.getLayer('conv1/conv').output as tf.SymbolicTensor });
    const { mean, variance } = tf.moments(probe.predict(images) as tf.Tensor, [0, 1, 2]);
    const [, , movingMean, movingVariance] = calibrated.getLayer('conv1/bn').getWeights();
    const close = (a: tf.Tensor, b: tf.Tensor) => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / (tf.max(tf.abs(b)).dataSync()[0] + 1e-12);
    assert.ok(close(movingMean, mean) < 1e-4, `moving mean off by ${close(movingMean, mean)}`);
    assert.ok(close(movingVariance, variance) < 1e-4, `moving variance off by ${close(movingVariance, variance)}`);

    // The point of it: features of a useful size, where raw random initialisation gives tiny ones.
    const spread = (m: tf.LayersModel) =>
      tf
        .moments(m.predict(images) as tf.Tensor)
        .variance.sqrt()
        .dataSync()[0];
    const calibratedSpread = spread(calibrated);
    const randomSpread = spread(random);
    assert.ok(calibratedSpread > 10 * randomSpread, `feature std ${calibratedSpread} (calibrated) vs ${randomSpread} (random)`);
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
});

/** The application built as the stand-in builds it (seed 2, 32x32 inputs upscaled to SIZE), with `weights`. */
async function application(build: (args: ApplicationArgs) => Promise<tf.LayersModel>, weights: string | null) {
  setRandomSeed(2);
  const inputs = tf.input({ shape: [32, 32, 3] });
  const up = upscale({ height: SIZE, width: SIZE }).apply(inputs) as tf.SymbolicTensor;
  return build({ includeTop: false, pooling: 'max', weights, inputTensor: up, inputShape: [SIZE, SIZE, 3] });
}

/** The output of `layer` of `model` for `x`, in inference mode, through a model of its own. */
function probe(model: tf.LayersModel, tensor: tf.SymbolicTensor, x: tf.Tensor): tf.Tensor {
  return tf.model({ inputs: model.inputs, outputs: tensor }).predict(x) as tf.Tensor;
}

const relativeDifference = (a: tf.Tensor, b: tf.Tensor) =>
  tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / (tf.max(tf.abs(b)).dataSync()[0] + 1e-12));

test('stand-in weights for MobileNetV2: every BatchNormalization holds the moments of its input, deep ones too', async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-standin-'));
  try {
    const images = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const tensors = tf.memory().numTensors;
    const file = await standInWeights(applications.MobileNetV2, { images, size: SIZE, folder });
    assert.equal(tf.memory().numTensors, tensors, 'the calibration leaves no tensor behind');
    assert.match(path.basename(file), /^mobilenetv2_standin_[0-9a-f]{16}_notop\.h5$/);
    assert.equal(await standInWeights('MobileNetV2', { images, size: SIZE, folder }), file, 'by name: the same file');
    const model = await application(applications.MobileNetV2 as (args: ApplicationArgs) => Promise<tf.LayersModel>, file);
    // First, middle (after a depthwise convolution) and last BatchNormalization, each checked
    // against the moments of its input recomputed with the loaded file.
    for (const name of ['bn_Conv1', 'block_8_depthwise_BN', 'Conv_1_bn']) {
      const layer = model.getLayer(name);
      const input = probe(model, layer.input as tf.SymbolicTensor, images);
      const { mean, variance } = tf.moments(input, [0, 1, 2]);
      const [, , movingMean, movingVariance] = layer.getWeights();
      assert.ok(relativeDifference(movingMean, mean) < 1e-4, `${name}: moving mean off by ${relativeDifference(movingMean, mean)}`);
      assert.ok(
        relativeDifference(movingVariance, variance) < 1e-4,
        `${name}: moving variance off by ${relativeDifference(movingVariance, variance)}`,
      );
    }
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
});

test('stand-in weights for VGG16 (no BatchNormalization): each convolution gives unit RMS, kernels only rescaled', async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-standin-'));
  try {
    const images = tf.randomUniform([8, 32, 32, 3], 0, 1, 'float32', 6) as tf.Tensor4D;
    const tensors = tf.memory().numTensors;
    const file = await standInWeights('VGG16', { images, size: SIZE, folder });
    assert.equal(tf.memory().numTensors, tensors, 'the calibration leaves no tensor behind');
    const calibrated = await application(applications.VGG16, file);
    const random = await application(applications.VGG16, null);
    for (const name of ['block1_conv1', 'block3_conv2', 'block5_conv3']) {
      const y = probe(calibrated, calibrated.getLayer(name).output as tf.SymbolicTensor, images);
      const rms = tf.sqrt(tf.mean(tf.square(y))).dataSync()[0];
      assert.ok(Math.abs(rms - 1) < 1e-3, `${name}: output RMS ${rms}`);
      // The same random kernel times one positive factor (in float64: sums over millions of weights).
      const k1 = calibrated.getLayer(name).getWeights()[0].dataSync();
      const k0 = random.getLayer(name).getWeights()[0].dataSync();
      let dot = 0;
      let norm = 0;
      for (let i = 0; i < k0.length; i++) {
        dot += k1[i] * k0[i];
        norm += k0[i] * k0[i];
      }
      const factor = dot / norm;
      let worst = 0;
      for (let i = 0; i < k0.length; i++) worst = Math.max(worst, Math.abs(k1[i] - factor * k0[i]) / Math.abs(factor * k0[i] || 1));
      assert.ok(factor > 0, `${name}: factor ${factor}`);
      assert.ok(worst < 1e-5, `${name}: not a multiple of Keras' kernel (worst relative difference ${worst})`);
    }
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
});

test('stand-in weights: an unknown model or bad images is a clear error, and nothing is written', async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-standin-'));
  try {
    const images = tf.zeros([2, 32, 32, 3]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    await assert.rejects(
      standInWeights('ResNet18', { images, folder }),
      (e: Error) => e instanceof ValueError && /model must be one of DenseNet121, .*VGG16.*Received 'ResNet18'/.test(e.message),
    );
    await assert.rejects(
      standInWeights('ResNet50', { images: tf.zeros([2, 32, 32]) as never, folder }),
      /options\.images must be a non-empty batch of RGB images \[n, height, width, 3\]. Received a tensor of shape \[2,32,32\]/,
    );
    assert.equal(tf.memory().numTensors, before + 1, 'only the bad images tensor itself is left');
    assert.deepEqual(fs.readdirSync(folder), []);
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
});
