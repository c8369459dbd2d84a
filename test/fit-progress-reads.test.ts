/**
 * fit's progress display reads the running loss and accuracy off the backend only when it draws
 * (every 0.2 s at most, and at the end of each epoch), not after every batch: on a GPU a read
 * waits for the step to finish before the next one is queued. Counted by wrapping the tensor
 * reads; the running means it then shows are still Keras' (batch-size-weighted, checked against
 * the epoch's logged values with a frozen learning rate), and nothing is left behind.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { MimeBundle } from '../lib/notebook/display';
import { KERNEL_HOOK } from '../lib/notebook/kernel-hook';
import { sparseCategoricalCrossentropy } from '../lib/train/losses';
import { installKerasCompat } from '../lib/compat/install';
import { fit } from '../lib/train';

installKerasCompat();

afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[KERNEL_HOOK];
});

function data(n: number): { x: tf.Tensor2D; y: tf.Tensor1D } {
  const rows = Array.from({ length: n }, (_, i) => [0, 1, 2, 3].map((j) => Math.sin(i * 7.1 + j * 3.3) * 2));
  const labels = rows.map((row) => [0, 1, 2].reduce((best, j) => (row[j] > row[best] ? j : best), 0));
  return { x: tf.tensor2d(rows), y: tf.tensor1d(labels, 'int32') };
}

function model(optimizer: string | tf.Optimizer = 'adam'): tf.LayersModel {
  const input = tf.input({ shape: [4] });
  const h = tf.layers.dense({ units: 8, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3 }).apply(h) as tf.SymbolicTensor });
  m.compile({ optimizer, loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  return m;
}

/** Runs `body` counting every data() / dataSync() / arraySync() / array() of a tensor. */
async function countingReads<T>(body: () => Promise<T>): Promise<{ result: T; reads: number }> {
  const proto = tf.Tensor.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const names = ['data', 'dataSync', 'array', 'arraySync'];
  const originals = names.map((name) => proto[name]);
  let reads = 0;
  names.forEach((name, i) => {
    proto[name] = function (this: tf.Tensor, ...args: unknown[]) {
      reads++;
      return originals[i].apply(this, args);
    };
  });
  try {
    return { result: await body(), reads };
  } finally {
    names.forEach((name, i) => (proto[name] = originals[i]));
  }
}

function showDisplays(): { messages: MimeBundle[] } {
  const shown = { messages: [] as MimeBundle[] };
  (globalThis as Record<symbol, unknown>)[KERNEL_HOOK] = {
    interruptRequested: false,
    display: (bundle: MimeBundle) => shown.messages.push(bundle),
  };
  return shown;
}

test('silent training reads no per-batch values: a handful of reads for 60 batches', async () => {
  await ready();
  const train = data(480);
  const m = model();
  await fit(m, train.x, train.y, { batchSize: 480, epochs: 1, verbose: 0 }); // Adam makes its variables on the first step
  const before = tf.memory().numTensors;
  const { reads } = await countingReads(() => fit(m, train.x, train.y, { batchSize: 8, epochs: 1, verbose: 0 }));
  // Once per fit: the label check; once per epoch: the logs for callbacks and History.
  assert.ok(reads <= 8, `${reads} tensor reads for 60 batches`);
  assert.equal(tf.memory().numTensors, before, 'tensors left behind');
  tf.dispose([train.x, train.y]);
  m.dispose();
});

test('in a notebook the running values are read once per drawing, not once per batch', async () => {
  await ready();
  const shown = showDisplays();
  const train = data(480);
  const m = model();
  await fit(m, train.x, train.y, { batchSize: 480, epochs: 1, verbose: 0 });
  const before = tf.memory().numTensors;
  const { reads } = await countingReads(() => fit(m, train.x, train.y, { batchSize: 8, epochs: 2 }));
  assert.equal(tf.memory().numTensors, before, 'tensors left behind (the values kept for the display among them)');
  const drawings = shown.messages.length;
  assert.ok(reads <= drawings + 10, `${reads} reads for ${drawings} drawings of 2 x 60 batches`);
  assert.ok(reads < 60, `${reads} reads: fewer than one per batch`);
  assert.match(String(shown.messages.at(-1)!['text/plain']), /Epoch 2\/2 .*loss: \d\.\d{4} - accuracy: \d\.\d{4}/);
  tf.dispose([train.x, train.y]);
  m.dispose();
});

test("the running means shown are Keras' batch-size-weighted means (the epoch's logged values at its last batch)", async () => {
  await ready();
  const shown = showDisplays();
  // 50 samples in batches of 16, 16, 16, 2: an unweighted mean of the batch means would differ.
  const train = data(50);
  const m = model(tf.train.sgd(0)); // weights never move: the last batch's running mean is the epoch's value
  const history = await fit(m, train.x, train.y, { batchSize: 16, epochs: 1 });
  const running = shown.messages
    .map((bundle) => String(bundle['text/plain']).match(/Epoch 1\/1: 4\/4 batches - [\d.]+ s - loss: ([\d.]+) - accuracy: ([\d.]+)/))
    .find(Boolean);
  assert.ok(running, `a drawing of the last batch: ${shown.messages.map((b) => b['text/plain']).join(' | ')}`);
  assert.equal(running![1], (history.history.loss[0] as number).toFixed(4));
  assert.equal(running![2], (history.history.accuracy[0] as number).toFixed(4));
  tf.dispose([train.x, train.y]);
  m.dispose();
});
