/**
 * The stand-in for ImageNet weights: a Keras-layout file with Keras' random kernels whose
 * BatchNormalization statistics are those of the calibration images, which DenseNet121 loads
 * through the same .h5 path as the real file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DenseNet121, denseNet121StandInWeights, upscale, setRandomSeed } from '../lib';

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
    const spread = (m: tf.LayersModel) => tf.moments(m.predict(images) as tf.Tensor).variance.sqrt().dataSync()[0];
    const calibratedSpread = spread(calibrated);
    const randomSpread = spread(random);
    assert.ok(calibratedSpread > 10 * randomSpread, `feature std ${calibratedSpread} (calibrated) vs ${randomSpread} (random)`);
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
});
