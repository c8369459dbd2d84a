// Keras' Rescaling (scalar and per channel) and Normalization layers: values computed by hand in
// float32, Keras' weights (names, order, non-trainable), its epsilon, errors, a save/load round
// trip through tfjs' serialisation, and the ONNX executor running them.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { ValueError } from '../lib/core/errors';
import { Normalization, NORMALIZATION_EPSILON, normalization } from '../lib/layers/normalization';
import { Rescaling, rescaling } from '../lib/layers/rescaling';
import { createOnnxSession, onnxAvailable } from '../lib/onnx';

const f32 = Math.fround;

function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

/** A model input -> layer, for applying a layer the way models do (and for serialising it). */
function wrap(layer: tf.layers.Layer, shape: number[], dtype: tf.DataType = 'float32'): tf.LayersModel {
  const input = tf.input({ shape, dtype });
  return tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
}

/** Serialises `model` to tfjs JSON and builds it back (custom classes resolved by className). */
async function roundTrip(model: tf.LayersModel): Promise<tf.LayersModel> {
  const artifacts = await new Promise<tf.io.ModelArtifacts>((resolve) => {
    void model.save(
      tf.io.withSaveHandler(async (a) => {
        resolve(a);
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
  });
  return tf.loadLayersModel(tf.io.fromMemory(artifacts));
}

describe('Rescaling (Keras semantics: x * scale + offset in float32)', () => {
  before(async () => {
    await ready();
  });

  test('a scalar scale: pixels 0..255 times float32(1/255), as Keras computes it', () => {
    const model = wrap(rescaling({ scale: 1 / 255 }), [3]);
    const x = tf.tensor2d([[0, 127.5, 255]]);
    const y = model.predict(x) as tf.Tensor;
    const scale = f32(1 / 255);
    assert.deepEqual(values(y), [0, f32(127.5 * scale), f32(255 * scale)]);
    tf.dispose([x, y]);
  });

  test('a scale and an offset per channel, broadcast over the last axis; integer input is cast to float32', () => {
    const model = wrap(new Rescaling({ scale: [2, 0.5, -1], offset: [1, 0, 0.25] }), [2, 3], 'int32');
    const x = tf.tensor3d(
      [
        [
          [1, 2, 3],
          [10, 20, 30],
        ],
      ],
      undefined,
      'int32',
    );
    const y = model.predict(x) as tf.Tensor;
    assert.equal(y.dtype, 'float32');
    assert.deepEqual(values(y), [2 * 1 + 1, 0.5 * 2, -3 + 0.25, 21, 10, -30 + 0.25]);
    tf.dispose([x, y]);
  });

  test("getConfig and a tfjs save/load round trip keep per-channel values; the class is registered under Keras' name", async () => {
    const layer = new Rescaling({ scale: [1, 2, 3], offset: 0.5, name: 'rescaling_1' });
    const model = wrap(layer, [3]);
    assert.equal(layer.getClassName(), 'Rescaling');
    assert.deepEqual({ scale: layer.getConfig().scale, offset: layer.getConfig().offset }, { scale: [1, 2, 3], offset: 0.5 });
    const loaded = await roundTrip(model);
    assert.ok(loaded.layers[1] instanceof Rescaling);
    const x = tf.tensor2d([[1, 1, 1]]);
    const y = loaded.predict(x) as tf.Tensor;
    assert.deepEqual(values(y), [1.5, 2.5, 3.5]);
    tf.dispose([x, y]);
  });

  test('errors name the argument and the value', () => {
    assert.throws(
      () => new Rescaling({ scale: 'a' as never }),
      (e: Error) => e instanceof ValueError && /`scale` must be a finite number.*Received scale="a"/.test(e.message),
    );
    assert.throws(
      () => new Rescaling({ scale: 1, offset: [] }),
      (e: Error) => e instanceof ValueError && /`offset`.*Received offset=\[\]/.test(e.message),
    );
    assert.throws(
      () => wrap(new Rescaling({ scale: [1, 2], name: 'two' }), [4, 3]),
      (e: Error) => e instanceof ValueError && /Rescaling 'two': `scale` has 2 values but the input has 3 channels/.test(e.message),
    );
  });
});

describe('Normalization (Keras semantics: (x - mean) / max(sqrt(variance), 1e-7))', () => {
  before(async () => {
    await ready();
  });

  test("Keras' weights: mean (zeros), variance (ones), count, in that order, non-trainable; 7 parameters for 3 channels", () => {
    const layer = normalization({ axis: 3, name: 'normalization' });
    wrap(layer, [4, 4, 3]);
    assert.deepEqual(
      layer.weights.map((w) => w.originalName),
      ['normalization/mean', 'normalization/variance', 'normalization/count'],
    );
    assert.deepEqual(
      layer.weights.map((w) => w.shape),
      [[3], [3], []],
    );
    assert.equal(layer.trainableWeights.length, 0);
    assert.equal(layer.countParams(), 7);
    assert.deepEqual(layer.getWeights().map(values), [[0, 0, 0], [1, 1, 1], [0]]);
  });

  test('per channel, by hand; a zero variance divides by 1e-7 (Keras backend.epsilon())', () => {
    const layer = new Normalization({ axis: -1 });
    const model = wrap(layer, [1, 2, 3]);
    layer.setWeights([tf.tensor1d([1, 2, 3]), tf.tensor1d([4, 0.25, 0]), tf.scalar(10)]);
    const x = tf.tensor4d([
      [
        [
          [5, 3, 3],
          [-1, 2, 3.5],
        ],
      ],
    ]);
    const y = model.predict(x) as tf.Tensor;
    const eps = f32(NORMALIZATION_EPSILON);
    assert.deepEqual(values(y), [2, 2, 0, -1, 0, f32(0.5 / eps)]);
    tf.dispose([x, y]);
  });

  test("EfficientNet's stem: with the variance holding standard deviations, it divides by their square roots", () => {
    // What Keras computes with efficientnetb0_notop.h5 (variance = [0.229, 0.224, 0.225]) before its extra Rescaling.
    const layer = new Normalization({ axis: 3 });
    const model = wrap(layer, [1, 1, 3]);
    layer.setWeights([tf.tensor1d([0.485, 0.456, 0.406]), tf.tensor1d([0.229, 0.224, 0.225]), tf.scalar(0)]);
    const x = tf.tensor4d([[[[1, 0, 0.5]]]]);
    const y = model.predict(x) as tf.Tensor;
    const byHand = [
      [1, 0.485, 0.229],
      [0, 0.456, 0.224],
      [0.5, 0.406, 0.225],
    ].map(([v, m, s]) => f32(f32(v - f32(m)) / f32(Math.sqrt(f32(s)))));
    assert.deepEqual(values(y), byHand);
    tf.dispose([x, y]);
  });

  test('fixed mean and variance (no weights), axis null (one mean for everything), and invert', () => {
    const fixed = wrap(normalization({ mean: [1, 2], variance: [4, 9] }), [2]);
    assert.equal(fixed.countParams(), 0);
    const x = tf.tensor2d([[3, 8]]);
    const y = fixed.predict(x) as tf.Tensor;
    assert.deepEqual(values(y), [1, 2]);
    const whole = new Normalization({ axis: null });
    const wholeModel = wrap(whole, [2]);
    assert.deepEqual(
      whole.weights.map((w) => w.shape),
      [[], [], []],
    );
    whole.setWeights([tf.scalar(1), tf.scalar(16), tf.scalar(0)]);
    const z = wholeModel.predict(x) as tf.Tensor;
    assert.deepEqual(values(z), [0.5, 1.75]);
    const inverse = wrap(normalization({ mean: [1, 2], variance: [4, 9], invert: true }), [2]);
    const back = inverse.predict(y) as tf.Tensor;
    assert.deepEqual(values(back), [3, 8]);
    tf.dispose([x, y, z, back]);
  });

  test('a tfjs save/load round trip keeps the configuration and the weights', async () => {
    const layer = new Normalization({ axis: 3, name: 'normalization' });
    const model = wrap(layer, [2, 2, 3]);
    layer.setWeights([tf.tensor1d([0.1, 0.2, 0.3]), tf.tensor1d([1, 2, 3]), tf.scalar(5)]);
    const loaded = await roundTrip(model);
    const copy = loaded.layers[1];
    assert.ok(copy instanceof Normalization);
    assert.deepEqual(copy.getConfig().axis, [3]);
    assert.deepEqual(copy.getWeights().map(values), layer.getWeights().map(values));
  });

  test('errors say what is wrong', () => {
    assert.throws(
      () => normalization({ mean: 1 }),
      (e: Error) =>
        e instanceof ValueError && /both `mean` and `variance` must be set. Received mean=1 and variance=undefined/.test(e.message),
    );
    assert.throws(
      () => wrap(normalization({ axis: 4, name: 'n4' }), [2, 2, 3]),
      (e: Error) => e instanceof ValueError && /Normalization 'n4': all `axis` values must be in the range \[-4, 4\)/.test(e.message),
    );
    assert.throws(
      () => wrap(normalization({ axis: 1, name: 'n1' }), [null as unknown as number, 3]),
      (e: Error) => e instanceof ValueError && /must have a known size.*unknown axis at index: 1/.test(e.message),
    );
    assert.throws(
      () => wrap(normalization({ mean: [1, 2], variance: [1, 2], name: 'n2' }), [3]),
      (e: Error) => e instanceof ValueError && /`mean` has 2 values, expected 1 or 3/.test(e.message),
    );
  });
});

describe('ONNX translations of Rescaling and Normalization', () => {
  test("EfficientNet's stem (Rescaling, Normalization, per-channel Rescaling, conv) runs wholly on ONNX with tfjs' numbers", async (t) => {
    if (!onnxAvailable()) return t.skip('onnxruntime-node cannot be loaded here');
    await ready();
    const input = tf.input({ shape: [8, 8, 3] });
    const norm = new Normalization({ axis: 3 });
    let x = new Rescaling({ scale: 1 / 255 }).apply(input) as tf.SymbolicTensor;
    x = norm.apply(x) as tf.SymbolicTensor;
    x = new Rescaling({ scale: [1 / Math.sqrt(0.229), 1 / Math.sqrt(0.224), 1 / Math.sqrt(0.225)], offset: [0, 0.1, -0.1] }).apply(
      x,
    ) as tf.SymbolicTensor;
    x = tf.layers.conv2d({ filters: 4, kernelSize: 3 }).apply(x) as tf.SymbolicTensor;
    // And once more after the conv (a channels-first value in the ONNX graph), inverted.
    const norm2 = new Normalization({ axis: -1, invert: true });
    x = norm2.apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: x });
    norm.setWeights([tf.tensor1d([0.485, 0.456, 0.406]), tf.tensor1d([0.229, 0.224, 0.225]), tf.scalar(0)]);
    norm2.setWeights([tf.tensor1d([0.5, -1, 2, 0]), tf.tensor1d([0.5, 2, 0, 1]), tf.scalar(0)]);
    const images = tf.randomUniform([3, 8, 8, 3], 0, 255, 'float32', 4);
    const tensorsBefore = tf.memory().numTensors;
    const executor = await createOnnxSession(model);
    try {
      assert.equal(executor.translatedLayers, executor.totalLayers, executor.note);
      const expected = model.predict(images) as tf.Tensor;
      const actual = await executor.run(images);
      const error = tf.tidy(() => tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0] / tf.max(tf.abs(expected)).dataSync()[0]);
      tf.dispose([expected, actual]);
      assert.ok(error < 1e-6, `relative error ${error}`);
    } finally {
      await executor.dispose();
    }
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor leaked');
    tf.dispose(images);
  });
});
