// Frozen bases stay frozen (Keras' semantics, lib/layers/frozen.ts) for ResNet50, VGG16,
// InceptionV3 and Xception: after `base.trainable = false`, plain tfjs model.fit on the lesson's
// wiring (base -> head) leaves every base weight and every BatchNormalization moving statistic
// bit-identical, while the head trains. InceptionV3's BatchNormalization has no gamma
// (scale=False): a frozen one must not take tfjs' training path, which needs gamma.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { tfjsFit } from '../lib/train/tfjs-methods';
import { buildHead } from '../lib/train/head';
import { InceptionV3, ResNet50, VGG16, Xception } from '../lib/applications';
import { ApplicationArgs } from '../lib/applications/build-steps';
import { randomizeWeights } from '../bench/onnx-fixtures';

const MODELS: { name: string; build: (args: ApplicationArgs) => Promise<tf.LayersModel>; size: number }[] = [
  // The smallest input each accepts keeps this quick.
  { name: 'ResNet50', build: ResNet50, size: 32 },
  { name: 'VGG16', build: VGG16, size: 32 },
  { name: 'InceptionV3', build: InceptionV3, size: 75 },
  { name: 'Xception', build: Xception, size: 71 },
];

function snapshot(layers: tf.layers.Layer[]): Map<string, Float32Array> {
  const values = new Map<string, Float32Array>();
  for (const layer of layers) for (const w of layer.weights) values.set(w.originalName, w.read().dataSync() as Float32Array);
  return values;
}

describe('frozen ResNet50, VGG16, InceptionV3, Xception bases stay frozen through tfjs fit', () => {
  before(async () => {
    await ready();
  });

  for (const m of MODELS) {
    test(`${m.name}: base.trainable = false, then fit: every base weight and BN statistic unchanged, the head trained`, async () => {
      const inputs = tf.input({ shape: [m.size, m.size, 3] });
      const base = await m.build({ includeTop: false, pooling: 'max', weights: null, inputTensor: inputs });
      // Moving statistics far from the inputs' batch statistics, so a BN in training mode would change them.
      randomizeWeights(base, 3);
      base.trainable = false;
      const model = tf.model({ inputs, outputs: buildHead(base.output as tf.SymbolicTensor, { hidden: 8, dropout: 0.5, classes: 3 }) });
      const headLayers = model.layers.filter((l) => !base.layers.includes(l));
      assert.equal(model.trainableWeights.length, 6, 'only the head trains: its BN gamma/beta, two dense kernels and biases');
      const baseBefore = snapshot(base.layers);
      const headBefore = snapshot(headLayers);
      const x = tf.add(tf.mul(tf.randomUniform([8, m.size, m.size, 3], 0, 1, 'float32', 7), 3), 1);
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3);
      model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
      await tfjsFit(model, x, y, { epochs: 2, batchSize: 4, verbose: 0 });
      const baseAfter = snapshot(base.layers);
      assert.equal(baseAfter.size, baseBefore.size);
      for (const [name, values] of baseBefore) {
        assert.deepEqual(baseAfter.get(name), values, `${name} unchanged`);
      }
      const headAfter = snapshot(headLayers);
      const changed = [...headBefore]
        .filter(([name, values]) => !values.every((v, i) => v === headAfter.get(name)![i]))
        .map(([name]) => name);
      assert.ok(
        changed.some((n) => /moving_mean/.test(n)) && changed.some((n) => /kernel/.test(n)),
        `the head trained: ${changed.join(', ')}`,
      );
      tf.dispose([x, y]);
      model.dispose();
    });
  }
});
