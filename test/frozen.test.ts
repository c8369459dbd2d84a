// Keras' frozen-layer semantics on tfjs: after `base.trainable = false`, plain tfjs model.fit
// leaves every base weight and every BatchNormalization moving statistic bit-identical, and
// the frozen BatchNormalization layers run in inference mode even when training.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { tfjsFit } from '../lib/train/tfjs-methods';
import { isFrozen } from '../lib/layers/frozen';
import { installKerasCompat } from '../lib/compat/install';

installKerasCompat();

/** A small base like DenseNet's stem: conv -> BN -> relu -> conv -> BN -> relu -> global max pool. */
function smallBase(input: tf.SymbolicTensor, prefix: string): tf.SymbolicTensor {
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, useBias: false, name: `${prefix}conv1` }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ epsilon: 1.001e-5, name: `${prefix}bn1` }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 6, kernelSize: 3, useBias: false, name: `${prefix}conv2` }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ epsilon: 1.001e-5, name: `${prefix}bn2` }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  return tf.layers.globalMaxPooling2d({}).apply(x) as tf.SymbolicTensor;
}

/** The lesson's head: BatchNormalization -> Dense(8, relu) -> Dropout -> Dense(3). */
function head(x: tf.SymbolicTensor): tf.SymbolicTensor {
  x = tf.layers.batchNormalization({ name: 'head_bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 8, activation: 'relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: 0.5 }).apply(x) as tf.SymbolicTensor;
  return tf.layers.dense({ units: 3 }).apply(x) as tf.SymbolicTensor;
}

function snapshot(layers: tf.layers.Layer[]): Map<string, number[]> {
  const values = new Map<string, number[]>();
  for (const layer of layers) for (const w of layer.weights) values.set(w.originalName, Array.from(w.read().dataSync()));
  return values;
}

function data(): { x: tf.Tensor; y: tf.Tensor } {
  // Inputs far from the BN moving statistics (mean 0, variance 1), so batch statistics differ.
  const x = tf.add(tf.mul(tf.randomUniform([12, 8, 8, 3], 0, 1, 'float32', 7), 5), 2);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], 'int32'), 3);
  return { x, y };
}

async function fit2(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor): Promise<void> {
  model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
  await tfjsFit(model, x, y, { epochs: 2, batchSize: 4, verbose: 0 });
}

describe('frozen layers (Keras semantics)', () => {
  before(async () => {
    await ready();
  });

  test("the lesson's wiring: base.trainable = false, then tf.model on base.output; fit leaves the base bit-identical", async () => {
    const inputs = tf.input({ shape: [8, 8, 3] });
    const base = tf.model({ inputs, outputs: smallBase(inputs, 'base_') });
    base.trainable = false;
    const model = tf.model({ inputs, outputs: head(base.output as tf.SymbolicTensor) });
    for (const layer of base.layers) assert.equal(layer.trainable, false, `${layer.name} is frozen with its model, as in Keras`);
    assert.equal(model.trainableWeights.length, 6, 'only the head trains: head BN gamma/beta, two dense kernels and biases');

    const baseBefore = snapshot(base.layers);
    const headLayers = model.layers.filter((l) => !base.layers.includes(l));
    const headBefore = snapshot(headLayers);
    const { x, y } = data();
    await fit2(model, x, y);
    const baseAfter = snapshot(base.layers);
    assert.equal(baseAfter.size, 10, 'two conv kernels + two BN layers x (gamma, beta, moving mean, moving variance)');
    for (const [name, values] of baseBefore) assert.deepEqual(baseAfter.get(name), values, `${name} unchanged`);
    // The head is not frozen: it trains, and its BatchNormalization updates its moving statistics.
    const headAfter = snapshot(headLayers);
    for (const name of ['head_bn/moving_mean', 'head_bn/moving_variance', 'head_bn/gamma']) {
      assert.notDeepEqual(headAfter.get(name), headBefore.get(name), `${name} changed`);
    }
    tf.dispose([x, y]);
    model.dispose();
  });

  test('a frozen BatchNormalization computes its inference output while training; a trainable one does not', () => {
    const bn = tf.layers.batchNormalization({ epsilon: 1.001e-5 });
    const x = tf.add(tf.mul(tf.randomUniform([4, 5, 5, 2], 0, 1, 'float32', 3), 3), 1);
    bn.apply(x); // build
    bn.setWeights([tf.tensor1d([1.5, 0.5]), tf.tensor1d([0.1, -0.2]), tf.tensor1d([0.3, 0.7]), tf.tensor1d([2, 0.5])]);
    const inference = bn.apply(x, { training: false }) as tf.Tensor;
    // By hand: gamma * (x - mean) / sqrt(var + eps) + beta, per channel.
    const byHand = tf.tidy(() => {
      const [c0, c1] = tf.split(x, 2, 3);
      const n0 = tf.add(tf.mul(tf.div(tf.sub(c0, 0.3), Math.sqrt(2 + 1.001e-5)), 1.5), 0.1);
      const n1 = tf.add(tf.mul(tf.div(tf.sub(c1, 0.7), Math.sqrt(0.5 + 1.001e-5)), 0.5), -0.2);
      return tf.concat([n0, n1], 3);
    });
    assert.ok(tf.max(tf.abs(tf.sub(inference, byHand))).dataSync()[0] < 1e-5);

    const trainingWhileTrainable = bn.apply(x, { training: true }) as tf.Tensor;
    assert.ok(
      tf.max(tf.abs(tf.sub(trainingWhileTrainable, inference))).dataSync()[0] > 0.1,
      'a trainable BN normalises with batch statistics',
    );
    bn.setWeights([tf.tensor1d([1.5, 0.5]), tf.tensor1d([0.1, -0.2]), tf.tensor1d([0.3, 0.7]), tf.tensor1d([2, 0.5])]);

    bn.trainable = false;
    assert.ok(isFrozen(bn));
    const statsBefore = bn.getWeights().map((w) => Array.from(w.dataSync()));
    const trainingWhileFrozen = bn.apply(x, { training: true }) as tf.Tensor;
    assert.deepEqual(Array.from(trainingWhileFrozen.dataSync()), Array.from(inference.dataSync()));
    assert.deepEqual(
      bn.getWeights().map((w) => Array.from(w.dataSync())),
      statsBefore,
      'moving statistics untouched',
    );
    tf.dispose([x, inference, byHand, trainingWhileTrainable, trainingWhileFrozen]);
  });

  test('a frozen base used as a nested layer, and a BN frozen directly, stay frozen through fit', async () => {
    const inputs = tf.input({ shape: [8, 8, 3] });
    const baseInput = tf.input({ shape: [8, 8, 3] });
    const base = tf.model({ inputs: baseInput, outputs: smallBase(baseInput, 'nested_') });
    base.trainable = false;
    const model = tf.model({ inputs, outputs: head(base.apply(inputs) as tf.SymbolicTensor) });
    const seqBn = tf.layers.batchNormalization({ name: 'lone_bn' });
    const seq = tf.sequential({ layers: [tf.layers.dense({ units: 4, inputShape: [3] }), seqBn, tf.layers.dense({ units: 3 })] });
    seqBn.trainable = false;
    const before = snapshot([base, seqBn]);
    const { x, y } = data();
    await fit2(model, x, y);
    const flat = tf.randomNormal([12, 3], 4, 2, 'float32', 5);
    await fit2(seq, flat, y);
    const after = snapshot([base, seqBn]);
    for (const [name, values] of before) assert.deepEqual(after.get(name), values, `${name} unchanged`);
    tf.dispose([x, y, flat]);
    model.dispose();
    seq.dispose();
  });

  test('unfreezing (base.trainable = true) trains the base again, BN statistics included; adding a frozen base to a Sequential keeps it frozen', async () => {
    // Dense layers here: tfjs' wasm backend has no Conv2DBackpropFilter kernel, so a conv base cannot train on it.
    const inputs = tf.input({ shape: [8, 8, 3] });
    let h = tf.layers.flatten().apply(inputs) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: 6, name: 'thaw_dense1' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.batchNormalization({ name: 'thaw_bn1' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: 5, name: 'thaw_dense2' }).apply(h) as tf.SymbolicTensor;
    h = tf.layers.batchNormalization({ name: 'thaw_bn2' }).apply(h) as tf.SymbolicTensor;
    const base = tf.model({ inputs, outputs: h });
    base.trainable = false;
    const seq = tf.sequential();
    seq.add(base);
    seq.add(tf.layers.dense({ units: 3 }));
    assert.ok(
      base.layers.every((l) => !l.trainable),
      'Sequential.add did not unfreeze the base',
    );
    base.trainable = true;
    assert.ok(
      base.layers.every((l) => l.trainable),
      'every layer of the base is trainable again',
    );
    const before = snapshot(base.layers);
    const { x, y } = data();
    await fit2(seq, x, y);
    const after = snapshot(base.layers);
    for (const name of ['thaw_bn1/moving_mean', 'thaw_bn2/moving_variance', 'thaw_dense1/kernel']) {
      assert.notDeepEqual(after.get(name), before.get(name), `${name} trained`);
    }
    tf.dispose([x, y]);
    seq.dispose();
  });
});
