import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { MimeBundle } from '../lib/notebook/display';
import { KERNEL_HOOK } from '../lib/notebook/kernel-hook';
import { InterruptedError, ValueError } from '../lib/core/errors';
import { sparseCategoricalCrossentropy } from '../lib/train/losses';
import { setRandomSeed } from '../lib/core/random';
import { earlyStopping } from '../lib/train/callbacks';
import { installKerasCompat } from '../lib/compat/install';
import { evaluate, fit, predict, registerForwardPlanner, summary } from '../lib/train';
import { displayMode, TrainingDisplay } from '../lib/train/training-display';

installKerasCompat();

afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[KERNEL_HOOK];
});

/** 3 classes, 4 features: class = argmax of the first three features (+ noise in the fourth). */
function toyData(n: number, offset = 0): { x: tf.Tensor2D; y: tf.Tensor1D } {
  const rows: number[][] = [];
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = [0, 1, 2, 3].map((j) => Math.sin((i + offset) * 7.1 + j * 3.3) * 2);
    rows.push(row);
    labels.push([0, 1, 2].reduce((best, j) => (row[j] > row[best] ? j : best), 0));
  }
  return { x: tf.tensor2d(rows), y: tf.tensor1d(labels, 'int32') };
}

function smallModel(dropout = 0.2): tf.LayersModel {
  const input = tf.input({ shape: [4] });
  let h = tf.layers.dense({ units: 8, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
  h = tf.layers.dropout({ rate: dropout }).apply(h) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3 }).apply(h) as tf.SymbolicTensor });
}

function compileLesson(model: tf.LayersModel, optimizer: string | tf.Optimizer = 'adam'): void {
  model.compile({ optimizer, loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
}

/** Mean cross-entropy and accuracy in float64, from logits and labels (independent of the library's loss). */
function byHand(logits: number[][], labels: number[]): { loss: number; accuracy: number } {
  let loss = 0;
  let correct = 0;
  logits.forEach((row, i) => {
    const max = Math.max(...row);
    const logSumExp = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    loss += logSumExp - row[labels[i]];
    if (row.indexOf(max) === labels[i]) correct += 1;
  });
  return { loss: loss / labels.length, accuracy: correct / labels.length };
}

const silent = { verbose: 0 as const };

test('fit logs exactly loss, accuracy, val_loss, val_accuracy, one value per epoch', async () => {
  await ready();
  const train = toyData(50);
  const val = toyData(20, 1000);
  const model = smallModel();
  compileLesson(model);
  const history = await fit(model, train.x, train.y, { batchSize: 16, epochs: 3, validationData: [val.x, val.y], ...silent });
  assert.deepEqual(Object.keys(history.history), ['loss', 'accuracy', 'val_loss', 'val_accuracy'], "Keras' order");
  assert.deepEqual(history.epoch, [0, 1, 2]);
  for (const values of Object.values(history.history)) {
    assert.equal(values.length, 3);
    for (const v of values) assert.equal(typeof v, 'number');
  }
  // The same through tfjs' own model.fit, once tslab-dl is loaded.
  const direct = await model.fit(train.x, train.y, { batchSize: 16, epochs: 2, validationData: [val.x, val.y], verbose: 0 });
  assert.deepEqual(Object.keys(direct.history).sort(), ['accuracy', 'loss', 'val_accuracy', 'val_loss']);
  tf.dispose([train.x, train.y, val.x, val.y]);
  model.dispose();
});

test('logged values are batch-size-weighted means over the epoch, as in Keras (checked with a frozen learning rate)', async () => {
  await ready();
  // 50 samples in batches of 16, 16, 16, 2: an unweighted mean of batch means would differ.
  const train = toyData(50);
  const val = toyData(21, 500);
  const model = smallModel(0); // no dropout: training-mode outputs equal predict()'s
  compileLesson(model, tf.train.sgd(0)); // weights never move: every epoch sees the same model
  const history = await fit(model, train.x, train.y, { batchSize: 16, epochs: 2, validationData: [val.x, val.y], ...silent });
  const expectTrain = byHand((model.predict(train.x) as tf.Tensor).arraySync() as number[][], Array.from(train.y.dataSync()));
  const expectVal = byHand((model.predict(val.x) as tf.Tensor).arraySync() as number[][], Array.from(val.y.dataSync()));
  for (let epoch = 0; epoch < 2; epoch++) {
    assert.ok(
      Math.abs((history.history.loss[epoch] as number) - expectTrain.loss) < 1e-5,
      `loss ${history.history.loss[epoch]} vs ${expectTrain.loss}`,
    );
    assert.ok(Math.abs((history.history.accuracy[epoch] as number) - expectTrain.accuracy) < 1e-6);
    assert.ok(Math.abs((history.history.val_loss[epoch] as number) - expectVal.loss) < 1e-5);
    assert.ok(Math.abs((history.history.val_accuracy[epoch] as number) - expectVal.accuracy) < 1e-6);
  }
  tf.dispose([train.x, train.y, val.x, val.y]);
  model.dispose();
});

test('training learns the toy problem and leaks no tensors', async () => {
  await ready();
  setRandomSeed(1);
  const train = toyData(96);
  const model = smallModel(0);
  compileLesson(model, tf.train.adam(0.05));
  await fit(model, train.x, train.y, { batchSize: 16, epochs: 1, ...silent }); // creates Adam's moment variables
  const before = tf.memory().numTensors;
  const history = await fit(model, train.x, train.y, { batchSize: 16, epochs: 24, ...silent });
  assert.equal(tf.memory().numTensors, before, 'tensors left behind by fit');
  const accuracy = history.history.accuracy as number[];
  assert.ok(accuracy[accuracy.length - 1] > 0.8, `final training accuracy ${accuracy[accuracy.length - 1]}`);
  tf.dispose([train.x, train.y]);
  model.dispose();
  setRandomSeed(null);
});

test('in a notebook, fit shows ONE output updated in place with every epoch and the metrics', async () => {
  await ready();
  const messages: { data: MimeBundle; options: { displayId?: string; update?: boolean } }[] = [];
  (globalThis as Record<symbol, unknown>)[KERNEL_HOOK] = {
    interruptRequested: false,
    display: (data: MimeBundle, options: { displayId?: string; update?: boolean }) => messages.push({ data, options }),
  };
  const train = toyData(40);
  const model = smallModel();
  compileLesson(model);
  await fit(model, train.x, train.y, { batchSize: 8, epochs: 3, validationData: [train.x, train.y] });
  const ids = new Set(messages.map((m) => m.options.displayId));
  assert.equal(ids.size, 1, 'one display id');
  assert.equal(messages[0].options.update, false);
  assert.ok(
    messages.slice(1).every((m) => m.options.update === true),
    'later messages replace the first',
  );
  const last = messages[messages.length - 1].data;
  const text = String(last['text/plain']);
  assert.match(text, /Epoch 1\/3 .*loss: \d\.\d{4} - accuracy: \d\.\d{4} - val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}/);
  assert.match(text, /Epoch 3\/3/);
  assert.match(text, /Trained 3 epochs/);
  assert.match(String(last['text/html']), /<table.*val_accuracy/);
  tf.dispose([train.x, train.y]);
  model.dispose();
});

test('an interrupt request stops training between batches and throws InterruptedError, leaving nothing behind', async () => {
  await ready();
  const displayed: MimeBundle[] = [];
  (globalThis as Record<symbol, unknown>)[KERNEL_HOOK] = { interruptRequested: true, display: (data: MimeBundle) => displayed.push(data) };
  const train = toyData(64);
  const model = smallModel();
  compileLesson(model);
  const stopper = earlyStopping({ monitor: 'val_accuracy', patience: 1, restoreBestWeights: true });
  tf.tidy(() => {
    // Adam creates its moment variables on the first step: take one before counting tensors.
    model.optimizer.minimize(() => tf.mean(model.apply(train.x) as tf.Tensor) as tf.Scalar);
  });
  const before = tf.memory().numTensors;
  const started = Date.now();
  await assert.rejects(
    fit(model, train.x, train.y, { batchSize: 8, epochs: 50, validationData: [train.x, train.y], callbacks: [stopper] }),
    (e: unknown) =>
      e instanceof InterruptedError && /Training \(after 0 complete epochs of 50\) was interrupted/.test((e as Error).message),
  );
  assert.ok(Date.now() - started < 5000, 'stopped promptly');
  assert.equal(tf.memory().numTensors, before, 'tensors left behind after the interrupt');
  assert.match(String(displayed[displayed.length - 1]['text/plain']), /Interrupted during epoch 1\/50/);
  // The model can train again afterwards.
  delete (globalThis as Record<symbol, unknown>)[KERNEL_HOOK];
  const history = await fit(model, train.x, train.y, { epochs: 1, ...silent });
  assert.equal(history.history.loss.length, 1);
  tf.dispose([train.x, train.y]);
  model.dispose();
});

test('EarlyStopping through fit stops at the right epoch (lr 0: val_loss never improves after epoch 1)', async () => {
  await ready();
  const train = toyData(32);
  const model = smallModel(0);
  compileLesson(model, tf.train.sgd(0));
  const history = await fit(model, train.x, train.y, {
    epochs: 20,
    validationData: [train.x, train.y],
    callbacks: [earlyStopping({ monitor: 'val_loss', patience: 3 })],
    ...silent,
  });
  // Epoch 0 sets the best; epochs 1, 2, 3 do not improve (equal values); wait reaches 3 at epoch 3.
  assert.equal(history.history.val_loss.length, 4);
  tf.dispose([train.x, train.y]);
  model.dispose();
});

test('frozen layers stay frozen through fit, BatchNormalization included (Keras semantics)', async () => {
  await ready();
  const input = tf.input({ shape: [4] });
  const baseDense = tf.layers.dense({ units: 6, name: 'base_dense' });
  const baseBn = tf.layers.batchNormalization({ name: 'base_bn' });
  const features = baseBn.apply(baseDense.apply(input)) as tf.SymbolicTensor;
  const base = tf.model({ inputs: input, outputs: features });
  base.trainable = false;
  const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3 }).apply(features) as tf.SymbolicTensor });
  compileLesson(model);
  assert.equal(summary(model, { show: false }).trainableParams, 6 * 3 + 3);
  const frozenBefore = base.getWeights().map((w) => Array.from(w.dataSync()));
  const train = toyData(32);
  await fit(model, train.x, train.y, { batchSize: 8, epochs: 2, ...silent });
  const frozenAfter = base.getWeights().map((w) => Array.from(w.dataSync()));
  assert.deepEqual(frozenAfter, frozenBefore, 'kernel, bias, gamma, beta, moving mean and variance unchanged');
  tf.dispose([train.x, train.y]);
  model.dispose();
});

test('predict equals model.predict; evaluate matches a hand computation and shows a confusion matrix', async () => {
  await ready();
  const data = toyData(45);
  const model = smallModel();
  compileLesson(model);
  const mine = await predict(model, data.x, { batchSize: 8, verbose: 0 });
  const theirs = model.predict(data.x) as tf.Tensor;
  assert.deepEqual(Array.from(mine.dataSync()), Array.from(theirs.dataSync()));
  const logits = theirs.arraySync() as number[][];
  const labels = Array.from(data.y.dataSync());
  const expected = byHand(logits, labels);
  const before = tf.memory().numTensors;
  const result = await evaluate(model, data.x, data.y, { batchSize: 8, verbose: 0, classNames: ['a', 'b', 'c'] });
  assert.equal(tf.memory().numTensors, before, 'evaluate leaves no tensors');
  assert.ok(Math.abs(result.loss - expected.loss) < 1e-5, `loss ${result.loss} vs ${expected.loss}`);
  assert.equal(result.accuracy, expected.accuracy);
  const counts = [0, 1, 2].map(() => [0, 0, 0]);
  logits.forEach((row, i) => (counts[labels[i]][row.indexOf(Math.max(...row))] += 1));
  assert.deepEqual(result.confusion.counts, counts);
  assert.deepEqual(result.confusion.classNames, ['a', 'b', 'c']);
  tf.dispose([mine, theirs, data.x, data.y]);
  model.dispose();
});

test('evaluate displays loss, accuracy and the confusion matrix in a notebook', async () => {
  await ready();
  const shown: MimeBundle[] = [];
  (globalThis as Record<symbol, unknown>)[KERNEL_HOOK] = { interruptRequested: false, display: (data: MimeBundle) => shown.push(data) };
  const data = toyData(10);
  const model = smallModel();
  compileLesson(model);
  const result = await evaluate(model, data.x, data.y, { classNames: ['left', 'middle', 'right'] });
  const html = String(shown[shown.length - 1]['text/html']);
  assert.match(html, new RegExp(`accuracy: <b>${(result.accuracy * 100).toFixed(1)}%</b>`));
  assert.match(html, /<table.*left.*middle.*right/);
  tf.dispose([data.x, data.y]);
  model.dispose();
});

test('a forward planner can swap in a head model on precomputed features (the seam for the feature cache)', async () => {
  await ready();
  const input = tf.input({ shape: [4] });
  const baseLayer = tf.layers.dense({ units: 5, activation: 'tanh', trainable: false });
  const features = baseLayer.apply(input) as tf.SymbolicTensor;
  const headLayer = tf.layers.dense({ units: 3 });
  const model = tf.model({ inputs: input, outputs: headLayer.apply(features) as tf.SymbolicTensor });
  compileLesson(model);
  const featureInput = tf.input({ shape: [5] });
  const head = tf.model({ inputs: featureInput, outputs: headLayer.apply(featureInput) as tf.SymbolicTensor });
  const calls: string[] = [];
  const unregister = registerForwardPlanner(async (request) => {
    if (request.model !== model) return undefined;
    calls.push(`${request.purpose}:${String(request.options.cache)}`);
    head.compile({ optimizer: model.optimizer, loss: model.loss, metrics: ['accuracy'] });
    const cached = baseLayer.apply(request.x) as tf.Tensor;
    const cachedVal = request.validationX ? (baseLayer.apply(request.validationX) as tf.Tensor) : undefined;
    return { model: head, x: cached, validationX: cachedVal, dispose: () => tf.dispose([cached, ...(cachedVal ? [cachedVal] : [])]) };
  });
  try {
    const data = toyData(24);
    const headBefore = headLayer.getWeights().map((w) => Array.from(w.dataSync()));
    const history = await fit(model, data.x, data.y, { epochs: 2, validationData: [data.x, data.y], cache: 'memory', ...silent });
    assert.deepEqual(Object.keys(history.history).sort(), ['accuracy', 'loss', 'val_accuracy', 'val_loss']);
    const headAfter = headLayer.getWeights().map((w) => Array.from(w.dataSync()));
    assert.notDeepEqual(headAfter, headBefore, "training the plan's head trained the caller's model");
    const viaPlan = await predict(model, data.x, { verbose: 0 });
    const direct = model.predict(data.x) as tf.Tensor;
    assert.ok(tf.max(tf.abs(tf.sub(viaPlan, direct))).dataSync()[0] < 1e-6);
    await evaluate(model, data.x, data.y, { verbose: 0 });
    assert.deepEqual(calls, ['fit:memory', 'predict:undefined', 'evaluate:undefined']);
    tf.dispose([viaPlan, direct, data.x, data.y]);
  } finally {
    unregister();
  }
  model.dispose();
});

test('argument errors name the argument and say what to pass', async () => {
  await ready();
  const data = toyData(8);
  const model = smallModel();
  await assert.rejects(
    fit(model, data.x, data.y),
    (e: unknown) => e instanceof ValueError && /has not been compiled.*model\.compile/.test((e as Error).message),
  );
  compileLesson(model);
  await assert.rejects(fit(model, data.x, tf.tensor1d([0, 1, 2], 'int32')), /x has 8 samples but y has 3 labels/);
  await assert.rejects(fit(model, data.x, data.y, { epochs: 0 }), /epochs must be a positive integer, e.g. 30. Received 0/);
  await assert.rejects(fit(model, data.x, data.y, { batchSize: 2.5 }), /batchSize must be a positive integer/);
  await assert.rejects(
    fit(model, data.x, data.y, { validationData: [data.x] as unknown as [tf.Tensor, tf.Tensor] }),
    /validationData must be \[images, labels\]/,
  );
  await assert.rejects(fit(model, [1, 2] as unknown as tf.Tensor, data.y), /x must be a tf\.Tensor. Received an array of length 2/);
  await assert.rejects(
    evaluate(model, data.x, tf.tensor1d(new Array(8).fill(7), 'int32'), silent),
    /labels must be integer class indices in \[0, 3\).*Label 0 is 7/,
  );
  tf.dispose([data.x, data.y]);
  model.dispose();
});

test('terminal display: a redrawn bar then one line per epoch on a TTY; one line per epoch in logs', () => {
  const capture = (isTTY: boolean) => {
    const chunks: string[] = [];
    return { chunks, stream: { isTTY, write: (s: string) => chunks.push(s) } as unknown as NodeJS.WriteStream };
  };
  const tty = capture(true);
  assert.equal(displayMode('auto', tty.stream), 'bar');
  assert.equal(displayMode(2, tty.stream), 'lines');
  assert.equal(displayMode(0, tty.stream), 'silent');
  const bar = new TrainingDisplay('bar', 2, tty.stream);
  bar.batch(0, 28, 28, { loss: 1.23456, accuracy: 0.5 }, 1500);
  bar.epochEnd(0, { loss: 1.2, accuracy: 0.5, val_loss: 1.3, val_accuracy: 0.4 }, 1500);
  bar.finish('Trained 1 epoch');
  assert.match(tty.chunks[0], /^\r█{30} Epoch 1\/2: 28\/28 batches - 1\.5 s - loss: 1\.2346 - accuracy: 0\.5000\x1b\[K$/);
  assert.equal(tty.chunks[1], '\rEpoch 1/2 - 1.5 s - loss: 1.2000 - accuracy: 0.5000 - val_loss: 1.3000 - val_accuracy: 0.4000\x1b[K\n');
  assert.match(tty.chunks[2], /^\r\x1b\[KTrained 1 epoch \(\d+\.\d s in all\)\n$/);
  const log = capture(false);
  assert.equal(displayMode('auto', log.stream), 'lines');
  const lines = new TrainingDisplay('lines', 1, log.stream);
  lines.batch(0, 1, 2, { loss: 2 }, 10);
  lines.epochEnd(0, { loss: 2 }, 20);
  assert.deepEqual(log.chunks, ['Epoch 1/1 - 0.0 s - loss: 2.0000\n'], 'no batch lines in logs');
});
