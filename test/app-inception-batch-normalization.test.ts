// BatchNormalization with `scale: false` (InceptionV3's) or `center: false` works in every mode
// once lib/layers/batch_normalization.ts is loaded: inference by hand, gradients through a frozen
// one, training like a layer whose gamma is fixed at 1 (or beta at 0), model.fit frozen and not,
// and serialisation unchanged (no gamma weight, `scale: false` in the config).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { tfjsFit } from '../lib/train/tfjs-methods';
import { installKerasCompat } from '../lib/compat/install';

installKerasCompat();

const EPSILON = 1e-3;
const MEAN = [0.3, -0.2];
const VARIANCE = [2, 0.5];
const BETA = [0.1, -0.4];

function close(actual: tf.Tensor, expected: tf.Tensor, tolerance = 1e-5): void {
  assert.deepEqual(actual.shape, expected.shape);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0]);
  assert.ok(diff <= tolerance, `max difference ${diff}`);
}

/** A BatchNormalization over the last axis, built and given the statistics above. */
function layer(args: { scale?: boolean; center?: boolean }): tf.layers.Layer {
  const bn = tf.layers.batchNormalization({ epsilon: EPSILON, ...args });
  bn.build([null, 3, 3, 2]);
  const weights = [
    ...(args.scale === false ? [] : [tf.tensor1d([1, 1])]),
    ...(args.center === false ? [] : [tf.tensor1d(BETA)]),
    tf.tensor1d(MEAN),
    tf.tensor1d(VARIANCE),
  ];
  bn.setWeights(weights);
  tf.dispose(weights);
  return bn;
}

describe('BatchNormalization without gamma (scale: false) or beta (center: false)', () => {
  let x: tf.Tensor;
  before(async () => {
    await ready();
    x = tf.add(tf.mul(tf.randomUniform([4, 3, 3, 2], 0, 1, 'float32', 5), 3), -1);
  });

  test('inference: (x - moving mean) / sqrt(moving variance + eps) + beta, by hand', () => {
    const bn = layer({ scale: false });
    assert.deepEqual(
      bn.weights.map((w) => w.originalName.split('/').pop()),
      ['beta', 'moving_mean', 'moving_variance'],
    );
    const y = bn.apply(x) as tf.Tensor;
    const byHand = tf.tidy(() =>
      tf.add(tf.div(tf.sub(x, tf.tensor1d(MEAN)), tf.sqrt(tf.add(tf.tensor1d(VARIANCE), EPSILON))), tf.tensor1d(BETA)),
    );
    close(y, byHand);
    tf.dispose([y, byHand]);
  });

  test('a frozen one inside a gradient tape (a frozen InceptionV3 base in model.fit): d/dx = 1 / sqrt(variance + eps)', () => {
    const bn = layer({ scale: false });
    bn.trainable = false;
    const before = tf.memory().numTensors;
    const dx = tf.grad((input: tf.Tensor) => tf.sum(bn.apply(input, { training: true }) as tf.Tensor))(x);
    const expected = tf.tidy(() => tf.mul(tf.onesLike(x), tf.div(1, tf.sqrt(tf.add(tf.tensor1d(VARIANCE), EPSILON)))));
    close(dx, expected);
    tf.dispose([dx, expected]);
    assert.equal(tf.memory().numTensors, before, 'the constant gamma is freed with the call');
  });

  for (const missing of ['scale', 'center'] as const) {
    test(`training mode without ${missing === 'scale' ? 'gamma' : 'beta'}: the output and moving statistics of a layer with ${missing === 'scale' ? 'gamma = 1' : 'beta = 0'}`, () => {
      const without = layer({ [missing]: false });
      const reference = layer({});
      if (missing === 'center') reference.setWeights([tf.tensor1d([1, 1]), tf.tensor1d([0, 0]), tf.tensor1d(MEAN), tf.tensor1d(VARIANCE)]);
      const [a, b] = [without.apply(x, { training: true }) as tf.Tensor, reference.apply(x, { training: true }) as tf.Tensor];
      close(a, b, 0);
      // And by hand: (x - batch mean) / sqrt(batch variance + eps) (+ beta).
      const byHand = tf.tidy(() => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        const normalised = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, EPSILON)));
        return missing === 'scale' ? tf.add(normalised, tf.tensor1d(BETA)) : normalised;
      });
      close(a, byHand);
      const stats = (l: tf.layers.Layer) =>
        l.weights.filter((w) => /moving/.test(w.originalName)).map((w) => Array.from(w.read().dataSync()));
      assert.deepEqual(stats(without), stats(reference), 'moving mean and variance updated the same way');
      assert.notDeepEqual(stats(without)[0], MEAN.map(Math.fround), 'and they did move');
      tf.dispose([a, b, byHand]);
    });
  }

  test("model.fit trains beta of an unfrozen one and changes nothing in a frozen one; the config and weights stay Keras'", async () => {
    for (const frozen of [false, true]) {
      const inputs = tf.input({ shape: [3, 3, 2] });
      const bn = tf.layers.batchNormalization({ scale: false, epsilon: EPSILON, name: 'bn_no_scale' });
      let h = bn.apply(inputs) as tf.SymbolicTensor;
      h = tf.layers.flatten().apply(h) as tf.SymbolicTensor;
      const model = tf.model({ inputs, outputs: tf.layers.dense({ units: 2 }).apply(h) as tf.SymbolicTensor });
      bn.trainable = !frozen;
      const before = bn.getWeights().map((w) => Array.from(w.dataSync()));
      model.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
      const y = tf.randomNormal([4, 2], 0, 1, 'float32', 3);
      await tfjsFit(model, x, y, { epochs: 2, batchSize: 2, verbose: 0 });
      const after = bn.getWeights().map((w) => Array.from(w.dataSync()));
      if (frozen) assert.deepEqual(after, before, 'frozen: beta and the moving statistics unchanged');
      else after.forEach((values, i) => assert.notDeepEqual(values, before[i], `trainable: weight ${i} changed`));
      // Serialisation is tfjs' own: scale false, three weights; a copy from JSON computes the same.
      assert.equal(bn.getConfig().scale, false);
      const copy = await tf.models.modelFromJSON({ modelTopology: model.toJSON(null, false) as never });
      copy.setWeights(model.getWeights());
      const [p, q] = [model.predict(x) as tf.Tensor, copy.predict(x) as tf.Tensor];
      close(q, p, 0);
      assert.equal(copy.getLayer('bn_no_scale').weights.length, 3);
      tf.dispose([y, p, q]);
      model.dispose();
      copy.dispose();
    }
  });
});
