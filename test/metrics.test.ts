import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { accuracyKind, kerasAccuracy, sparseCategoricalAccuracy } from '../lib/train/metrics';
import { sparseCategoricalCrossentropy } from '../lib/train/losses';
import { installKerasCompat } from '../lib/compat/install';

installKerasCompat();

const values = (t: tf.Tensor) => Array.from(t.dataSync());

test('sparse categorical accuracy on hand examples (labels [n] and [n, 1], ties to the first index)', async () => {
  await ready();
  tf.tidy(() => {
    const yPred = tf.tensor2d([
      [0.1, 0.7, 0.2], // argmax 1
      [5, -1, 0], // argmax 0
      [0, 0, 3], // argmax 2
      [2, 2, 1], // tie: argmax 0
    ]);
    assert.deepEqual(values(sparseCategoricalAccuracy(tf.tensor1d([1, 2, 2, 0], 'int32'), yPred)), [1, 0, 1, 1]);
    assert.deepEqual(values(sparseCategoricalAccuracy(tf.tensor2d([[1], [2], [2], [1]]), yPred)), [1, 0, 1, 0]);
  });
});

test("Keras 2's choice of accuracy from shapes", () => {
  assert.equal(accuracyKind([32], [32, 10]), 'sparse_categorical');
  assert.equal(accuracyKind([32, 1], [32, 10]), 'sparse_categorical');
  assert.equal(accuracyKind([32, 10], [32, 10]), 'categorical');
  assert.equal(accuracyKind([32, 1], [32, 1]), 'binary');
});

test("kerasAccuracy('accuracy') dispatches on shapes and is named as written", async () => {
  await ready();
  const accuracy = kerasAccuracy('accuracy');
  assert.equal(accuracy.name, 'accuracy');
  assert.equal(kerasAccuracy('acc').name, 'acc');
  tf.tidy(() => {
    const yPred = tf.tensor2d([
      [0.1, 0.9],
      [0.8, 0.2],
      [0.3, 0.7],
    ]);
    // Integer labels: 1, 1, 1 -> correct, wrong, correct.
    assert.deepEqual(values(accuracy(tf.tensor2d([[1], [1], [1]]), yPred)), [1, 0, 1]);
    // One-hot labels of the same classes: the same answer through categorical accuracy.
    assert.deepEqual(
      values(
        accuracy(
          tf.tensor2d([
            [0, 1],
            [0, 1],
            [0, 1],
          ]),
          yPred,
        ),
      ),
      [1, 0, 1],
    );
    // Binary: threshold 0.5.
    assert.deepEqual(values(accuracy(tf.tensor2d([[1], [0], [1]]), tf.tensor2d([[0.6], [0.4], [0.2]]))), [1, 1, 0]);
  });
});

test("model.compile({ metrics: ['accuracy'] }) with our loss: tfjs' own evaluate reports sparse accuracy under Keras' name", async () => {
  await ready();
  // A one-layer model whose logits are its input (identity kernel, no bias): results are known by hand.
  const input = tf.input({ shape: [3] });
  const output = tf.layers.dense({ units: 3, useBias: false, kernelInitializer: 'identity' }).apply(input) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: output });
  model.compile({ optimizer: 'adam', loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  assert.deepEqual(model.metricsNames, ['loss', 'accuracy']);
  const x = tf.tensor2d([
    [3, 0, 0],
    [0, 3, 0],
    [0, 0, 3],
    [3, 0, 0],
  ]);
  const y = tf.tensor1d([0, 1, 0, 2], 'int32'); // argmax 0, 1, 2, 0 -> right, right, wrong, wrong
  const [loss, accuracy] = model.evaluate(x, y, { batchSize: 4 }) as tf.Scalar[];
  assert.equal(accuracy.dataSync()[0], 0.5);
  // Loss by hand: right answers -log(e^3/(e^3+2)), wrong ones -log(1/(e^3+2)).
  const right = Math.log(Math.exp(3) + 2) - 3;
  const wrong = Math.log(Math.exp(3) + 2);
  assert.ok(Math.abs(loss.dataSync()[0] - (2 * right + 2 * wrong) / 4) < 1e-5);
  tf.dispose([x, y, loss, accuracy]);
  model.dispose();
});

test("tfjs' own 'sparseCategoricalCrossentropy' loss string also logs 'accuracy' when asked for 'accuracy'", async () => {
  await ready();
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [2], activation: 'softmax' })] });
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy', 'acc'] });
  assert.deepEqual(model.metricsNames, ['loss', 'accuracy', 'acc']);
  model.dispose();
});

test('labels outside [0, classes) are rejected by model.fit with the bad value named', async () => {
  await ready();
  const input = tf.input({ shape: [3] });
  const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3 }).apply(input) as tf.SymbolicTensor });
  model.compile({ optimizer: 'adam', loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  const x = tf.zeros([2, 3]);
  const y = tf.tensor1d([1, 3], 'int32');
  const before = tf.memory().numTensors;
  await assert.rejects(model.fit(x, y, { epochs: 1 }), /labels must be integer class indices in \[0, 3\).*Label 1 is 3/);
  assert.equal(tf.memory().numTensors, before, 'no tensors leaked by the rejected call');
  tf.dispose([x, y]);
  model.dispose();
});
