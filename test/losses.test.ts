import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { sparseCategoricalCrossentropy, takesSparseLabels } from '../lib/train/losses';

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(__dirname, 'python', 'train_losses.py');

interface Case {
  yPred: number[][];
  labels: number[];
  fromLogits: boolean;
}

/** Reference loss/accuracy from torch (float64), or the reason torch cannot run. */
function torchReference(cases: Case[]): { loss: number; accuracy: number }[] | string {
  const probe = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return `${PYTHON} cannot import torch (apt-get install python3-torch)`;
  const run = spawnSync(PYTHON, [SCRIPT], { input: JSON.stringify(cases), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${SCRIPT} failed: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

function lossOf(c: Case): number {
  return tf.tidy(
    () => sparseCategoricalCrossentropy({ fromLogits: c.fromLogits })(tf.tensor1d(c.labels, 'int32'), tf.tensor2d(c.yPred)).dataSync()[0],
  );
}

function assertClose(actual: number, expected: number, relative: number, what: string): void {
  const tolerance = relative * Math.max(1, Math.abs(expected));
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: got ${actual}, expected ${expected} (±${tolerance})`);
}

test('from logits: hand-computed values, including extreme logits', async () => {
  await ready();
  // Row 1: logits (100, -100, 0), label 0: -log_softmax = log(1 + e^-200 + e^-100) ~ 0.
  // Row 2: logits (1, 2, 3), label 0: logsumexp(1, 2, 3) - 1 = 2.4076059644443806.
  const loss = lossOf({
    yPred: [
      [100, -100, 0],
      [1, 2, 3],
    ],
    labels: [0, 0],
    fromLogits: true,
  });
  assertClose(loss, (0 + 2.4076059644443806) / 2, 1e-6, 'mean loss');
  // Label -100 on logit -100 against 100: the loss is 200 exactly, not a clipped ~16.1.
  const far = lossOf({ yPred: [[100, -100]], labels: [1], fromLogits: true });
  assertClose(far, 200, 1e-6, 'loss for a confident wrong answer');
  // Clipping logits into [1e-7, 1 - 1e-7] before a softmax (tfjs' trap) would give log(3) for row 2.
  assert.ok(Math.abs(loss - (0 + Math.log(3)) / 2) > 0.5);
});

test('from probabilities: Keras clips to [1e-7, 1 - 1e-7]', async () => {
  await ready();
  // Row (0.2, 0.3, 0.5), label 2: -log(0.5) = 0.6931471805599453.
  assertClose(lossOf({ yPred: [[0.2, 0.3, 0.5]], labels: [2], fromLogits: false }), Math.LN2, 1e-6, 'plain probabilities');
  // Row (1, 0, 0), label 1: p is clipped to 1e-7: -log(1e-7) + log(1 - 1e-7 + 2e-7) = 16.11809575.
  const clipped = lossOf({ yPred: [[1, 0, 0]], labels: [1], fromLogits: false });
  assertClose(clipped, -Math.log(1e-7) + Math.log(1 + 1e-7), 1e-5, 'clipped probability');
});

test('labels of shape [n, 1] and float dtype give the same loss as [n] int32', async () => {
  await ready();
  const loss = sparseCategoricalCrossentropy({ fromLogits: true });
  const values = tf.tidy(() => {
    const logits = tf.tensor2d([
      [0.5, -1, 2],
      [3, 0, 1],
    ]);
    return [loss(tf.tensor1d([2, 0], 'int32'), logits), loss(tf.tensor2d([[2], [0]]), logits)].map((t) => t.dataSync()[0]);
  });
  assert.equal(values[0], values[1]);
});

test('random batches agree with torch (float64), both modes', async (t) => {
  await ready();
  const random = (n: number) => Array.from({ length: n }, (_, i) => (Math.sin(i * 12.9898 + n) * 43758.5453) % 1);
  const cases: Case[] = [];
  for (const [rows, classes, scale] of [
    [32, 10, 3],
    [7, 10, 30],
    [5, 3, 1],
  ] as const) {
    const values = random(rows * classes);
    const logits = Array.from({ length: rows }, (_, r) => values.slice(r * classes, (r + 1) * classes).map((v) => v * scale));
    const labels = Array.from({ length: rows }, (_, r) => (r * 7 + 3) % classes);
    cases.push({ yPred: logits, labels, fromLogits: true });
    const probabilities = logits.map((row) => {
      const exp = row.map(Math.exp);
      const sum = exp.reduce((a, b) => a + b, 0);
      return exp.map((e) => e / sum);
    });
    cases.push({ yPred: probabilities, labels, fromLogits: false });
  }
  const reference = torchReference(cases);
  if (typeof reference === 'string') {
    t.skip(reference);
    return;
  }
  cases.forEach((c, i) => assertClose(lossOf(c), reference[i].loss, 2e-6, `case ${i} (fromLogits ${c.fromLogits})`));
});

test('gradient from logits is softmax - onehot, divided by the batch size', async () => {
  await ready();
  const logits = tf.tensor2d([
    [1, 2, 3],
    [0, 0, 0],
  ]);
  const labels = tf.tensor1d([0, 2], 'int32');
  const grad = tf.grad((x: tf.Tensor) => sparseCategoricalCrossentropy({ fromLogits: true })(labels, x))(logits);
  const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
  const s = e[0] + e[1] + e[2];
  const expected = [(e[0] / s - 1) / 2, e[1] / s / 2, e[2] / s / 2, 1 / 6, 1 / 6, (1 / 3 - 1) / 2];
  Array.from(grad.dataSync()).forEach((g, i) => assertClose(g, expected[i], 1e-6, `gradient ${i}`));
  tf.dispose([logits, labels, grad]);
});

test('an out-of-range label gives NaN, never a silent zero', async () => {
  await ready();
  assert.ok(Number.isNaN(lossOf({ yPred: [[1, 2, 3]], labels: [3], fromLogits: true })));
  assert.ok(Number.isNaN(lossOf({ yPred: [[1, 2, 3]], labels: [-1], fromLogits: true })));
});

test('wrong label shapes and arguments fail with messages that say what to pass', async () => {
  await ready();
  const loss = sparseCategoricalCrossentropy({ fromLogits: true });
  tf.tidy(() => {
    assert.throws(
      () => loss(tf.tensor2d([[0, 0, 1]]), tf.tensor2d([[1, 2, 3]])),
      /labels must be integer class indices of shape \[1\] or \[1, 1\].*Received labels of shape \[1,3\]/,
    );
  });
  assert.throws(() => sparseCategoricalCrossentropy({ fromLogits: 'yes' as unknown as boolean }), /fromLogits must be true or false/);
});

test('the loss is marked for integer labels, does not leak tensors, and is named like Keras', async () => {
  await ready();
  const loss = sparseCategoricalCrossentropy({ fromLogits: true });
  assert.ok(takesSparseLabels(loss));
  assert.ok(!takesSparseLabels(tf.losses.softmaxCrossEntropy));
  assert.equal(loss.fromLogits, true);
  assert.equal(loss.name, 'sparseCategoricalCrossentropy');
  const labels = tf.tensor1d([1], 'int32');
  const logits = tf.tensor2d([[0, 1]]);
  const before = tf.memory().numTensors;
  loss(labels, logits).dispose();
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([labels, logits]);
});
