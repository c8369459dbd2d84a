import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { earlyStopping, EarlyStopping, EarlyStoppingArgs } from '../lib/train/callbacks';
import { sparseCategoricalCrossentropy } from '../lib/train/losses';
import { fit } from '../lib/train';

/**
 * Drives an EarlyStopping directly, as tfjs' callbacks_test.ts does: a model with one weight
 * whose value is set to the epoch number before each onEpochEnd, so restored weights tell which
 * epoch they came from. Returns the epoch at which training stopped (or the last one) and the
 * weight after onTrainEnd.
 */
async function drive(args: EarlyStoppingArgs, series: { [key: string]: number }[]) {
  const input = tf.input({ shape: [1] });
  const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 1, useBias: false }).apply(input) as tf.SymbolicTensor });
  const callback = earlyStopping(args);
  callback.setModel(model);
  await callback.onTrainBegin();
  let stoppedAt: number | undefined;
  for (let epoch = 0; epoch < series.length; epoch++) {
    model.setWeights([tf.tensor2d([[epoch]])]);
    await callback.onEpochEnd(epoch, { ...series[epoch] });
    if (model.stopTraining) {
      stoppedAt = epoch;
      break;
    }
  }
  await callback.onTrainEnd();
  const weight = model.getWeights()[0].dataSync()[0];
  model.dispose();
  return { stoppedAt, weight, callback };
}

const valLoss = (...values: number[]) => values.map((v) => ({ val_loss: v }));
const valAccuracy = (...values: number[]) => values.map((v) => ({ val_accuracy: v }));

test('patience: stops when `patience` epochs in a row bring no improvement', async () => {
  await ready();
  // Best at epoch 1 (0.8); epochs 2, 3 do not improve; patience 2 -> stop at epoch 3.
  const { stoppedAt, callback } = await drive({ patience: 2 }, valLoss(1.0, 0.8, 0.9, 0.85, 0.1));
  assert.equal(stoppedAt, 3);
  assert.equal(callback.stoppedEpoch, 3);
  assert.equal(callback.best, 0.8);
  assert.equal(callback.bestEpoch, 1);
});

test('patience 0 stops at the first epoch without improvement, but never after the first epoch', async () => {
  await ready();
  assert.equal((await drive({}, valLoss(1.0, 1.0, 0.5))).stoppedAt, 1);
  // A NaN-free first epoch always improves on +Infinity; nothing to stop there.
  assert.equal((await drive({}, valLoss(1.0))).stoppedAt, undefined);
});

test("mode 'auto' maximises names ending in acc/accuracy/auc and minimises the rest", async () => {
  await ready();
  assert.equal(earlyStopping({ monitor: 'val_accuracy' }).mode, 'max');
  assert.equal(earlyStopping({ monitor: 'acc' }).mode, 'max');
  assert.equal(earlyStopping({ monitor: 'val_auc' }).mode, 'max');
  assert.equal(earlyStopping({ monitor: 'val_loss' }).mode, 'min');
  assert.equal(earlyStopping({ monitor: 'accuracy_drop' }).mode, 'min', "Keras tests the end of the name ('endswith')");
  assert.equal(earlyStopping({ monitor: 'val_loss', mode: 'max' }).mode, 'max');
  // Rising accuracy keeps training; the lesson's set-up (patience 5) stops 5 epochs after the best.
  const { stoppedAt, callback } = await drive(
    { monitor: 'val_accuracy', patience: 5 },
    valAccuracy(0.3, 0.5, 0.64, 0.6, 0.62, 0.63, 0.64, 0.61, 0.9),
  );
  assert.equal(callback.bestEpoch, 2);
  assert.equal(stoppedAt, 7, 'an equal value (0.64 at epoch 6) is not an improvement');
});

test('minDelta: a change smaller than minDelta is no improvement, whatever its sign in the arguments', async () => {
  await ready();
  for (const minDelta of [0.1, -0.1]) {
    // Losses: 1.0, 0.95 (-0.05 < 0.1: no), 0.85 (-0.15 from the best 1.0: yes), 0.8 (no), 0.79 (no).
    const { stoppedAt, callback } = await drive({ patience: 2, minDelta }, valLoss(1.0, 0.95, 0.85, 0.8, 0.79, 0.5));
    assert.equal(callback.minDelta, -0.1, 'negative when minimising');
    assert.equal(callback.bestEpoch, 2);
    assert.equal(stoppedAt, 4);
  }
  assert.equal(earlyStopping({ monitor: 'val_accuracy', minDelta: -0.1 }).minDelta, 0.1, 'positive when maximising');
});

test('baseline: improvements that do not beat the baseline do not reset the patience count', async () => {
  await ready();
  // Accuracy improves every epoch but stays below 0.9: wait is not reset, so patience 2 stops at epoch 2.
  const { stoppedAt, callback } = await drive({ monitor: 'val_accuracy', patience: 2, baseline: 0.9 }, valAccuracy(0.5, 0.6, 0.7, 0.8));
  assert.equal(stoppedAt, undefined, 'improving epochs return before the patience check (Keras)');
  assert.equal(callback.wait, 4);
  const flat = await drive({ monitor: 'val_accuracy', patience: 2, baseline: 0.9 }, valAccuracy(0.5, 0.5, 0.5, 0.5));
  assert.equal(flat.stoppedAt, 1, 'epoch 0 improves but misses the baseline (wait 1); epoch 1 brings wait to 2');
});

test('startFromEpoch: epochs before it are not monitored', async () => {
  await ready();
  const { stoppedAt, callback } = await drive({ patience: 1, startFromEpoch: 3 }, valLoss(0.1, 0.2, 0.3, 0.5, 0.6, 0.7));
  assert.equal(callback.bestEpoch, 3);
  assert.equal(stoppedAt, 4);
});

test('restoreBestWeights puts back the best epoch when stopping early', async () => {
  await ready();
  const { stoppedAt, weight } = await drive({ patience: 2, restoreBestWeights: true }, valLoss(1.0, 0.8, 0.9, 0.85));
  assert.equal(stoppedAt, 3);
  assert.equal(weight, 1, 'weights from the end of epoch 1');
});

test('restoreBestWeights also restores when training ran all its epochs (tf-keras 2.15+ / Keras 3)', async () => {
  await ready();
  const { stoppedAt, weight } = await drive({ patience: 10, restoreBestWeights: true }, valLoss(1.0, 0.5, 0.7, 0.9));
  assert.equal(stoppedAt, undefined);
  assert.equal(weight, 1);
});

test('restoreBestWeights without any improvement (NaN losses) restores the first monitored epoch', async () => {
  await ready();
  const { weight } = await drive({ patience: 10, restoreBestWeights: true, startFromEpoch: 1 }, valLoss(NaN, NaN, NaN, NaN));
  assert.equal(weight, 1, 'epoch 0 is before startFromEpoch; epoch 1 is the first monitored one');
  const noRestore = await drive({ patience: 10 }, valLoss(1.0, 0.5, 0.7));
  assert.equal(noRestore.weight, 2, 'without restoreBestWeights the last weights stay');
});

test('a missing monitor warns once and lists the available keys; training is not stopped', async () => {
  await ready();
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (message: string) => warnings.push(message);
  try {
    const { stoppedAt } = await drive({ monitor: 'val_accuracy', patience: 0 }, [
      { loss: 1, acc: 0.5, val_acc: 0.5 },
      { loss: 1, acc: 0.5, val_acc: 0.4 },
    ]);
    assert.equal(stoppedAt, undefined);
  } finally {
    console.warn = original;
  }
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /`val_accuracy` which is not available\. Available metrics are: loss,acc,val_acc/);
  assert.match(warnings[0], /tfjs names accuracy 'acc'/);
});

test('bad arguments are rejected with the argument named', () => {
  assert.throws(() => earlyStopping({ patience: -1 }), /earlyStopping\(\{ patience \}\): expected a non-negative number. Received -1/);
  assert.throws(() => earlyStopping({ monitor: '' }), /monitor/);
});

test('through a real fit: restores the best val_accuracy epoch and stops `patience` epochs after it', async () => {
  await ready();
  // Accuracy on a validation set whose labels contradict the training labels: it peaks, then falls.
  const xs = tf.tensor2d([
    [1, 0],
    [0, 1],
    [1, 1],
    [0, 0],
    [2, 1],
    [1, 2],
  ]);
  const ys = tf.tensor1d([0, 1, 0, 1, 0, 1], 'int32');
  const input = tf.input({ shape: [2] });
  const model = tf.model({
    inputs: input,
    outputs: tf.layers.dense({ units: 2, kernelInitializer: 'zeros' }).apply(input) as tf.SymbolicTensor,
  });
  model.compile({ optimizer: tf.train.sgd(0.5), loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  const stopper = new EarlyStopping({ monitor: 'val_loss', patience: 2, restoreBestWeights: true });
  const snapshots: number[][] = [];
  const history = await fit(model, xs, ys, {
    epochs: 30,
    batchSize: 6,
    shuffle: false,
    validationData: [xs, tf.tensor1d([1, 0, 1, 0, 1, 0], 'int32')],
    callbacks: [stopper, { onEpochEnd: async () => void snapshots.push(Array.from(model.getWeights()[0].dataSync())) }],
    verbose: 0,
  });
  const valLosses = history.history.val_loss as number[];
  const best = valLosses.indexOf(Math.min(...valLosses));
  assert.equal(valLosses.length, best + 1 + 2, 'stopped two epochs after the best');
  assert.equal(stopper.bestEpoch, best);
  assert.deepEqual(Array.from(model.getWeights()[0].dataSync()), snapshots[best], 'weights of the best epoch restored');
  tf.dispose([xs, ys]);
  model.dispose();
});
