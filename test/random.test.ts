import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { buildHead } from '../lib/train/head';
import { sparseCategoricalCrossentropy } from '../lib/train/losses';
import { randomSeed, seededGenerator, setRandomSeed } from '../lib/core/random';
import { fit } from '../lib/train';

const nativeRandom = Math.random;
afterEach(() => setRandomSeed(null));

/** Builds the lesson's head on 16 features (dropout 0.5), trains 3 epochs with shuffling; returns history and weights. */
async function run(seed: number | undefined, seedThroughFit = false) {
  if (seed !== undefined && !seedThroughFit) setRandomSeed(seed);
  const x = tf.tidy(() =>
    tf.sin(
      tf
        .range(0, 40 * 16)
        .reshape([40, 16])
        .mul(0.37),
    ),
  );
  const y = tf.tensor1d(
    Array.from({ length: 40 }, (_, i) => i % 3),
    'int32',
  );
  if (seedThroughFit) setRandomSeed(seed!); // weights must be drawn under the same seed as well
  const input = tf.input({ shape: [16] });
  const model = tf.model({ inputs: input, outputs: buildHead(input, { hidden: 8, dropout: 0.5, classes: 3 }) });
  model.compile({ optimizer: 'adam', loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  const history = await fit(model, x, y, {
    batchSize: 8,
    epochs: 3,
    validationData: [x, y],
    verbose: 0,
    ...(seedThroughFit ? { seed: seed! + 1000 } : {}),
  });
  const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
  tf.dispose([x, y]);
  model.dispose();
  return { history: history.history, weights };
}

test('the same seed gives bit-identical histories and weights (initialisation, dropout, shuffle)', async () => {
  await ready();
  const a = await run(2);
  const b = await run(2);
  assert.deepEqual(b.history, a.history);
  assert.deepEqual(b.weights, a.weights);
});

test('different seeds give different initial weights and training runs', async () => {
  await ready();
  const a = await run(2);
  const c = await run(3);
  assert.notDeepEqual(c.weights, a.weights);
  assert.notDeepEqual(c.history.loss, a.history.loss);
});

test("fit's seed option seeds the shuffle and dropout of that run", async () => {
  await ready();
  const a = await run(5, true);
  const b = await run(5, true);
  assert.deepEqual(b.history, a.history);
});

test('setRandomSeed replaces Math.random and null puts the native one back', () => {
  setRandomSeed(7);
  assert.notEqual(Math.random, nativeRandom);
  assert.equal(randomSeed(), 7);
  const first = [Math.random(), Math.random()];
  setRandomSeed(7);
  assert.deepEqual([Math.random(), Math.random()], first);
  setRandomSeed(null);
  assert.equal(Math.random, nativeRandom);
  assert.equal(randomSeed(), null);
});

test('the seeded generator is uniform on [0, 1) and nearby seeds are unrelated', () => {
  const next = seededGenerator(1);
  const n = 100_000;
  const bins = new Array(10).fill(0);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = next();
    assert.ok(v >= 0 && v < 1);
    sum += v;
    bins[Math.floor(v * 10)] += 1;
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.005);
  // Chi-square with 9 degrees of freedom: 27.9 is the 0.999 quantile.
  const chi2 = bins.reduce((s, b) => s + (b - n / 10) ** 2 / (n / 10), 0);
  assert.ok(chi2 < 27.9, `chi-square ${chi2}`);
  const a = seededGenerator(1);
  const b = seededGenerator(2);
  let agree = 0;
  for (let i = 0; i < 1000; i++) if (Math.abs(a() - b()) < 0.01) agree += 1;
  assert.ok(agree < 50, `${agree} of 1000 draws within 0.01`);
});

test('a seed that is not a non-negative integer is refused', () => {
  assert.throws(() => setRandomSeed(-1), /seed must be a non-negative integer.*Received -1/);
  assert.throws(() => setRandomSeed(1.5), /Received 1\.5/);
  assert.throws(() => setRandomSeed('2' as unknown as number), /Received "2"/);
});
