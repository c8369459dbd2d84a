// Every application fine-tunes on the wasm backend: built at its smallest input (weights null, no
// top, average pooling) with a Dense(3) head, its last layers unfrozen and the rest frozen
// (`layer.trainable = false`, through the library's setTrainable), one Adam step on a batch of two
// runs through tfjs' own trainOnBatch without error, moves every weight that trains and leaves
// every weight of a frozen layer bit-identical, the moving statistics of every BatchNormalization
// included: Keras runs a frozen one in inference mode, and its fine-tuning guide keeps the unfrozen
// ones in inference mode too (https://keras.io/guides/transfer_learning/#fine-tuning).
// The gradients of each layer kind are checked against torch in test/wasm-gradients.test.ts.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { tf, ready, DenseNet121, EfficientNetB0, InceptionV3, MobileNetV2, ResNet50, VGG16, Xception } from '../lib';
import type { ApplicationArgs } from '../lib/applications/build-steps';
import { setTrainable } from '../lib/train';
import { calibrateBatchNorm } from '../bench/onnx-fixtures';

/** How many of the base's last layers train, unless an application says otherwise. */
const UNFROZEN = 10;

const APPLICATIONS: { name: string; build: (args: ApplicationArgs) => Promise<tf.LayersModel>; size: number; unfrozen?: number }[] = [
  // The smallest input each accepts (Keras' minimum sizes) keeps a step to a fraction of a second.
  { name: 'DenseNet121', build: DenseNet121, size: 32 },
  { name: 'ResNet50', build: ResNet50, size: 32 },
  { name: 'VGG16', build: VGG16, size: 32 },
  { name: 'MobileNetV2', build: MobileNetV2, size: 32 },
  { name: 'EfficientNetB0', build: EfficientNetB0, size: 32 },
  // mixed10 lists its convolutions first, then their BatchNormalizations and activations: its last
  // ten layers hold no convolution.
  { name: 'InceptionV3', build: InceptionV3, size: 75, unfrozen: 20 },
  { name: 'Xception', build: Xception, size: 71 },
];

const CONVOLUTIONS = ['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D'];

function values(layer: tf.layers.Layer): Map<string, Float32Array> {
  return new Map(layer.weights.map((w) => [w.name, w.read().dataSync() as Float32Array]));
}

const identical = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

/** setTrainable says what it did, for a notebook; not here. */
function quietly<T>(work: () => T): T {
  const log = console.log;
  console.log = () => undefined;
  try {
    return work();
  } finally {
    console.log = log;
  }
}

describe('one fine-tuning step of each application on wasm', () => {
  before(async () => {
    assert.equal((await ready()).backend, 'wasm', 'this test is about the wasm backend');
  });

  for (const app of APPLICATIONS) {
    const unfrozen = app.unfrozen ?? UNFROZEN;
    test(`${app.name} at ${app.size}x${app.size}: its last ${unfrozen} layers and the head train, the frozen layers stay bit-identical`, async () => {
      const base = await app.build({ includeTop: false, weights: null, pooling: 'avg', inputShape: [app.size, app.size, 3] });
      const head = tf.layers.dense({ units: 3, activation: 'softmax' });
      const model = tf.model({ inputs: base.inputs, outputs: head.apply(base.outputs[0]) as tf.SymbolicTensor });
      const cut = base.layers.length - unfrozen;
      quietly(() => setTrainable(model, { from: base.layers[cut].name }));
      assert.ok(
        base.layers.every((layer, i) => layer.trainable === i >= cut),
        'the layers before the cut frozen, the others trainable',
      );
      const frozen = base.layers.slice(0, cut).filter((l) => l.weights.length > 0);
      const training = [...base.layers.slice(cut), head].filter((l) => l.trainableWeights.length > 0);
      assert.ok(
        training.some((l) => CONVOLUTIONS.includes(l.getClassName())),
        `a convolution among the trainable layers: ${training.map((l) => l.name).join(', ')}`,
      );
      assert.ok(frozen.some((l) => l.getClassName() === 'BatchNormalization') || app.name === 'VGG16', 'a frozen BatchNormalization');

      // Moving statistics from data, as a trained network's: with Keras' initial ones (mean 0,
      // variance 1) a random network's activations fade layer after layer (EfficientNetB0's to
      // 1e-8), and some gradients get so small that Adam's step is below a float32 ulp. From 16
      // images of different contrast: statistics of two alone, at the 1x1 end of the network, make
      // it chaotic (EfficientNetB0's dropout in training mode then drives its features to 1e11).
      const images = tf.tidy(() =>
        tf.mul(tf.randomUniform([16, app.size, app.size, 3], 0, 1, 'float32', 3), tf.randomUniform([16, 1, 1, 1], 0.2, 1, 'float32', 4)),
      );
      calibrateBatchNorm(base, images);
      const [x, y] = tf.tidy(() => [tf.slice(images, 0, 2), tf.oneHot(tf.tensor1d([0, 2], 'int32'), 3)]);

      const before = new Map([...frozen, ...training].map((l) => [l, values(l)]));
      model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
      const loss = (await model.trainOnBatch(x, y)) as number;
      assert.ok(Number.isFinite(loss), `loss ${loss}`);

      for (const layer of frozen) {
        const now = values(layer);
        for (const [name, was] of before.get(layer)!) assert.ok(identical(now.get(name)!, was), `frozen ${name} changed`);
      }
      const trainable = new Set(training.flatMap((l) => l.trainableWeights.map((w) => w.name)));
      const moved: string[] = [];
      const still: string[] = [];
      for (const layer of training) {
        const now = values(layer);
        for (const [name, was] of before.get(layer)!) (identical(now.get(name)!, was) ? still : moved).push(name);
      }
      assert.deepEqual(
        still.filter((name) => trainable.has(name)),
        [],
        'every trainable weight moved',
      );
      assert.deepEqual(
        moved.filter((name) => !trainable.has(name)),
        [],
        'the unfrozen BatchNormalization layers kept their moving statistics',
      );
      tf.dispose([images, x, y]);
      model.dispose();
    });
  }
});
