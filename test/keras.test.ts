/**
 * The `keras` namespace and Keras' defaults for tfjs' own factories (lib/keras, lib/compat/keras-defaults.ts).
 *
 * Every expected value is Keras 3's, written out here with the keras-team/keras source file it
 * comes from, or computed by hand; none is read back from the code under test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { keras } from '../lib/keras';
import { ready } from '../lib/backends/selection';
import { ValueError } from '../lib/core/errors';
import * as libApplications from '../lib/applications';
import { EarlyStopping as TslabEarlyStopping } from '../lib/train/callbacks';

const L = keras.layers;

/** A layer's config without its (auto-numbered) name. */
function configOf(layer: tf.layers.Layer): Record<string, unknown> {
  const { name: _name, ...rest } = layer.getConfig() as Record<string, unknown>;
  return rest;
}

/** keras/src/initializers/random_initializers.py: GlorotUniform = VarianceScaling(scale=1.0, mode="fan_avg", distribution="uniform"). */
const GLOROT_UNIFORM = { className: 'VarianceScaling', config: { scale: 1, mode: 'fanAvg', distribution: 'uniform', seed: null } };
/** keras/src/initializers/constant_initializers.py: Zeros / Ones. */
const ZEROS = { className: 'Zeros', config: {} };
const ONES = { className: 'Ones', config: {} };

/**
 * How uniform a sample looks on [-limit, limit]: its largest |value|, its variance relative to
 * the uniform's limit²/3, and the Kolmogorov–Smirnov distance to the uniform CDF.
 */
function uniformity(values: ArrayLike<number>, limit: number): { maxAbs: number; varianceRatio: number; ks: number; n: number } {
  const x = Array.from(values).sort((a, b) => a - b);
  const n = x.length;
  let maxAbs = 0;
  let sumSquares = 0;
  let ks = 0;
  for (let i = 0; i < n; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(x[i]));
    sumSquares += x[i] * x[i];
    const cdf = Math.min(1, Math.max(0, (x[i] + limit) / (2 * limit)));
    ks = Math.max(ks, (i + 1) / n - cdf, cdf - i / n);
  }
  return { maxAbs, varianceRatio: sumSquares / n / ((limit * limit) / 3), ks, n };
}

/** Kolmogorov–Smirnov critical distance at significance 0.001 for a sample of n (asymptotic: 1.95 / sqrt(n)). */
const ksCritical = (n: number) => 1.95 / Math.sqrt(n);

function assertGlorotUniform(values: ArrayLike<number>, limit: number, what: string): void {
  const u = uniformity(values, limit);
  assert.ok(u.maxAbs <= limit * (1 + 1e-6), `${what}: max |w| ${u.maxAbs} exceeds the glorot_uniform limit ${limit}`);
  assert.ok(u.maxAbs > 0.99 * limit, `${what}: max |w| ${u.maxAbs} should come close to the limit ${limit}`);
  assert.ok(Math.abs(u.varianceRatio - 1) < 0.03, `${what}: variance is ${u.varianceRatio} x limit²/3`);
  assert.ok(u.ks < ksCritical(u.n), `${what}: KS distance ${u.ks} to Uniform(±${limit}) is over ${ksCritical(u.n)}`);
}

/** Runs `body` with Math.random seeded, so the statistical checks are repeatable. */
function seeded<T>(seed: number, body: () => T): T {
  keras.utils.setRandomSeed(seed);
  try {
    return body();
  } finally {
    keras.utils.setRandomSeed(null);
  }
}

function kernelOf(layer: tf.layers.Layer, inputShape: number[]): Float32Array {
  layer.apply(tf.input({ shape: inputShape }));
  return layer.getWeights()[0].dataSync() as Float32Array;
}

// Dense 1024 -> 50, as in the lesson's head: limit sqrt(6 / (fan_in + fan_out)).
const DENSE_LIMIT = Math.sqrt(6 / (1024 + 50));
// Conv2D 3x3, 64 -> 64 channels: fan_in = 3*3*64, fan_out = 3*3*64 (keras/src/initializers/random_initializers.py compute_fans).
const CONV_LIMIT = Math.sqrt(6 / (3 * 3 * 64 + 3 * 3 * 64));

test('keras.layers.Dense and plain tf.layers.dense draw glorot_uniform kernels (fan_in 1024, fan_out 50)', async () => {
  await ready();
  seeded(11, () => {
    assertGlorotUniform(kernelOf(L.Dense(50), [1024]), DENSE_LIMIT, 'keras.layers.Dense(50)');
    assertGlorotUniform(kernelOf(tf.layers.dense({ units: 50 }), [1024]), DENSE_LIMIT, 'tf.layers.dense({ units: 50 })');
  });
});

test("an explicit kernelInitializer still wins: tf.layers.dense with 'glorotNormal' is not uniform (the check can fail)", async () => {
  await ready();
  seeded(12, () => {
    const layer = tf.layers.dense({ units: 50, kernelInitializer: 'glorotNormal' });
    const u = uniformity(kernelOf(layer, [1024]), DENSE_LIMIT);
    assert.ok(u.ks > 5 * ksCritical(u.n), `KS distance ${u.ks} should be far from uniform`);
    assert.throws(() =>
      assertGlorotUniform(kernelOf(tf.layers.dense({ units: 50, kernelInitializer: 'glorotNormal' }), [1024]), DENSE_LIMIT, 'glorotNormal'),
    );
    assert.equal((configOf(L.Dense(3, { kernelInitializer: 'zeros' })).kernelInitializer as { className: string }).className, 'Zeros');
  });
});

test('keras.layers.Conv2D and plain tf.layers.conv2d draw glorot_uniform kernels (3x3, 64 -> 64)', async () => {
  await ready();
  seeded(13, () => {
    assertGlorotUniform(kernelOf(L.Conv2D(64, 3), [8, 8, 64]), CONV_LIMIT, 'keras.layers.Conv2D(64, 3)');
    assertGlorotUniform(kernelOf(tf.layers.conv2d({ filters: 64, kernelSize: 3 }), [8, 8, 64]), CONV_LIMIT, 'tf.layers.conv2d');
    const normal = uniformity(
      kernelOf(tf.layers.conv2d({ filters: 64, kernelSize: 3, kernelInitializer: 'glorotNormal' }), [8, 8, 64]),
      CONV_LIMIT,
    );
    assert.ok(normal.ks > 5 * ksCritical(normal.n), `explicit glorotNormal: KS distance ${normal.ks}`);
  });
});

test("tfjs' other kernel-bearing factories default to glorot_uniform too (Keras: base_conv.py, base_depthwise_conv.py, base_separable_conv.py, rnn/*.py)", () => {
  const kernel = (l: tf.layers.Layer, key = 'kernelInitializer') => l.getConfig()[key];
  assert.deepEqual(kernel(tf.layers.conv1d({ filters: 2, kernelSize: 3 })), GLOROT_UNIFORM);
  assert.deepEqual(kernel(tf.layers.conv3d({ filters: 2, kernelSize: 3 })), GLOROT_UNIFORM);
  assert.deepEqual(kernel(tf.layers.conv2dTranspose({ filters: 2, kernelSize: 3 })), GLOROT_UNIFORM);
  assert.deepEqual(kernel(tf.layers.depthwiseConv2d({ kernelSize: 3 }), 'depthwiseInitializer'), GLOROT_UNIFORM);
  const separable = tf.layers.separableConv2d({ filters: 2, kernelSize: 3 });
  assert.deepEqual(kernel(separable, 'depthwiseInitializer'), GLOROT_UNIFORM);
  assert.deepEqual(kernel(separable, 'pointwiseInitializer'), GLOROT_UNIFORM);
  for (const rnn of [tf.layers.simpleRNN({ units: 2 }), tf.layers.gru({ units: 2 }), tf.layers.lstm({ units: 2 })]) {
    assert.deepEqual(kernel(rnn), GLOROT_UNIFORM, rnn.getClassName());
  }
});

test("tf.layers.flatten accepts rank 2 as Keras' Flatten does: [batch, 1024] passes through", async () => {
  await ready();
  assert.deepEqual((tf.layers.flatten().apply(tf.input({ shape: [1024] })) as tf.SymbolicTensor).shape, [null, 1024]);
  assert.deepEqual((tf.layers.flatten().apply(tf.input({ shape: [5, 5, 8] })) as tf.SymbolicTensor).shape, [null, 200]);
  const x = tf.tensor2d([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const y = tf.layers.flatten().apply(x) as tf.Tensor;
  assert.deepEqual(y.arraySync(), [
    [1, 2, 3],
    [4, 5, 6],
  ]);
  assert.deepEqual((L.Flatten().apply(tf.input({ shape: [1024] })) as tf.SymbolicTensor).shape, [null, 1024]);
  tf.dispose([x, y]);
});

test("Dense: Keras' defaults (keras/src/layers/core/dense.py); positional and object forms agree", () => {
  // Dense(units, activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros", regularizers/constraints None)
  const config = configOf(L.Dense(50));
  assert.equal(config.units, 50);
  assert.equal(config.activation, 'linear');
  assert.equal(config.useBias, true);
  assert.deepEqual(config.kernelInitializer, GLOROT_UNIFORM);
  assert.deepEqual(config.biasInitializer, ZEROS);
  for (const key of ['kernelRegularizer', 'biasRegularizer', 'activityRegularizer', 'kernelConstraint', 'biasConstraint'])
    assert.equal(config[key], null, key);
  assert.deepEqual(configOf(L.Dense(50, { activation: 'relu' })), configOf(L.Dense({ units: 50, activation: 'relu' })));
  assert.equal(configOf(L.Dense(50, { activation: 'relu' })).activation, 'relu');
  assert.equal(configOf(L.Dense(4, { useBias: false })).useBias, false);
});

test("BatchNormalization: Keras' defaults (keras/src/layers/normalization/batch_normalization.py)", () => {
  // axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta "zeros", gamma "ones", moving mean "zeros", moving variance "ones"
  const config = configOf(L.BatchNormalization());
  assert.equal(config.axis, -1);
  assert.equal(config.momentum, 0.99);
  assert.equal(config.epsilon, 0.001);
  assert.equal(config.center, true);
  assert.equal(config.scale, true);
  assert.deepEqual(config.betaInitializer, ZEROS);
  assert.deepEqual(config.gammaInitializer, ONES);
  assert.deepEqual(config.movingMeanInitializer, ZEROS);
  assert.deepEqual(config.movingVarianceInitializer, ONES);
  assert.equal(configOf(L.BatchNormalization({ momentum: 0.9 })).momentum, 0.9, 'an explicit argument wins');
});

test('Dropout: the rate given positionally or by name (keras/src/layers/regularization/dropout.py: noise_shape=None, seed=None)', () => {
  assert.deepEqual(configOf(L.Dropout(0.5)), configOf(L.Dropout({ rate: 0.5 })));
  const config = configOf(L.Dropout(0.5));
  assert.equal(config.rate, 0.5);
  assert.equal(config.noiseShape ?? null, null);
  assert.equal(config.seed ?? null, null);
});

test("Conv2D: Keras' defaults (keras/src/layers/convolutional/base_conv.py); positional and object forms agree", () => {
  // strides=1, padding="valid", data_format=None -> "channels_last", dilation_rate=1, activation=None, use_bias=True,
  // kernel_initializer="glorot_uniform", bias_initializer="zeros"
  const config = configOf(L.Conv2D(8, 3));
  assert.equal(config.filters, 8);
  assert.deepEqual(config.kernelSize, [3, 3]);
  assert.deepEqual(config.strides, [1, 1]);
  assert.equal(config.padding, 'valid');
  assert.equal(config.dataFormat, 'channelsLast');
  assert.deepEqual(config.dilationRate, [1, 1]);
  assert.equal(config.activation, 'linear');
  assert.equal(config.useBias, true);
  assert.deepEqual(config.kernelInitializer, GLOROT_UNIFORM);
  assert.deepEqual(config.biasInitializer, ZEROS);
  assert.deepEqual(configOf(L.Conv2D(8, 3)), configOf(L.Conv2D({ filters: 8, kernelSize: 3 })));
  assert.deepEqual(
    configOf(L.Conv2D(8, [3, 3], { strides: 2, padding: 'same', activation: 'relu' })),
    configOf(L.Conv2D({ filters: 8, kernelSize: [3, 3], strides: 2, padding: 'same', activation: 'relu' })),
  );
  assert.equal(configOf(L.Conv2D(8, 3, { padding: 'same' })).padding, 'same');
});

test("Pooling: Keras' defaults (keras/src/layers/pooling/base_pooling.py, max_pooling2d.py, average_pooling2d.py)", () => {
  // pool_size=(2, 2), strides=None -> pool_size, padding="valid", data_format=None -> "channels_last"
  for (const make of [L.MaxPooling2D, L.AveragePooling2D]) {
    const config = configOf(make());
    assert.deepEqual(config.poolSize, [2, 2]);
    assert.deepEqual(config.strides, [2, 2]);
    assert.equal(config.padding, 'valid');
    assert.equal(config.dataFormat, 'channelsLast');
    assert.deepEqual(configOf(make(3)).strides, [3, 3], 'strides follow pool_size');
    assert.deepEqual(configOf(make(3, { strides: 1 })), configOf(make({ poolSize: 3, strides: 1 })));
  }
  const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], [1, 4, 4, 1]);
  // 2x2 windows of [[1..4],[5..8],[9..12],[13..16]]: max 6, 8, 14, 16; mean 3.5, 5.5, 11.5, 13.5.
  assert.deepEqual(Array.from((L.MaxPooling2D().apply(x) as tf.Tensor).dataSync()), [6, 8, 14, 16]);
  assert.deepEqual(Array.from((L.AveragePooling2D().apply(x) as tf.Tensor).dataSync()), [3.5, 5.5, 11.5, 13.5]);
  assert.deepEqual(Array.from((L.GlobalMaxPooling2D().apply(x) as tf.Tensor).dataSync()), [16]);
  assert.deepEqual(Array.from((L.GlobalAveragePooling2D().apply(x) as tf.Tensor).dataSync()), [8.5]);
  x.dispose();
});

test('Softmax normalises the last axis by default (keras/src/layers/activations/softmax.py: axis=-1), checked by hand on a rank-3 tensor', () => {
  const values = [
    [
      [1, 2, 3],
      [0, 0, 0],
    ],
    [
      [-1, 0, 1],
      [5, 1, -2],
    ],
  ];
  const y = L.Softmax().apply(tf.tensor3d(values)) as tf.Tensor;
  const expected = values.map((plane) =>
    plane.map((row) => {
      const e = row.map((v) => Math.exp(v));
      const sum = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / sum);
    }),
  );
  const got = y.arraySync() as number[][][];
  got.flat(2).forEach((v, i) => assert.ok(Math.abs(v - expected.flat(2)[i]) < 1e-6, `${v} vs ${expected.flat(2)[i]}`));
  assert.equal(configOf(L.Softmax()).axis, -1);
  assert.deepEqual(configOf(L.Softmax(-1)), configOf(L.Softmax({ axis: -1 })));
});

test('Activation, ReLU, Concatenate (axis -1), Add, ZeroPadding2D (padding 1), Rescaling compute what Keras computes', () => {
  const x = tf.tensor2d([
    [-2, 3],
    [4, -5],
  ]);
  assert.deepEqual((L.Activation('relu').apply(x) as tf.Tensor).arraySync(), [
    [0, 3],
    [4, 0],
  ]);
  assert.deepEqual((L.ReLU({ maxValue: 3.5 }).apply(x) as tf.Tensor).arraySync(), [
    [0, 3],
    [3.5, 0],
  ]);
  assert.deepEqual((L.Concatenate().apply([x, x]) as tf.Tensor).shape, [2, 4]);
  assert.deepEqual((L.Add().apply([x, x]) as tf.Tensor).arraySync(), [
    [-4, 6],
    [8, -10],
  ]);
  // keras/src/layers/reshaping/zero_padding2d.py: padding=(1, 1): one row/column of zeros on each side.
  assert.deepEqual((L.ZeroPadding2D().apply(tf.ones([1, 2, 3, 1])) as tf.Tensor).shape, [1, 4, 5, 1]);
  // keras/src/layers/preprocessing/rescaling.py: scale, offset=0.0.
  assert.deepEqual((L.Rescaling(0.5).apply(x) as tf.Tensor).arraySync(), [
    [-1, 1.5],
    [2, -2.5],
  ]);
  assert.deepEqual((L.Rescaling({ scale: 2, offset: 1 }).apply(x) as tf.Tensor).arraySync(), [
    [-3, 7],
    [9, -9],
  ]);
  x.dispose();
});

test("the lesson's head with keras.layers on tf.input([1024]): 53,808 trainable and 2,048 non-trainable parameters", () => {
  const inputs = tf.input({ shape: [1024] });
  let out = L.Flatten().apply(inputs) as tf.SymbolicTensor;
  out = L.BatchNormalization().apply(out) as tf.SymbolicTensor;
  out = L.Dense(50, { activation: 'relu' }).apply(out) as tf.SymbolicTensor;
  out = L.Dropout(0.5).apply(out) as tf.SymbolicTensor;
  out = L.Dense(10).apply(out) as tf.SymbolicTensor;
  const model = keras.models.Model({ inputs, outputs: out });
  const count = (weights: tf.LayerVariable[]) => weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b as number), 1), 0);
  // BN gamma + beta 2*1024, Dense 1024*50 + 50, Dense 50*10 + 10; BN moving mean + variance 2*1024.
  assert.equal(count(model.trainableWeights), 2 * 1024 + 1024 * 50 + 50 + 50 * 10 + 10);
  assert.equal(count(model.trainableWeights), 53_808);
  assert.equal(count(model.nonTrainableWeights), 2_048);
  assert.equal(count(model.weights), 4 * 1024 + 1024 * 50 + 50 + 50 * 10 + 10);
  assert.deepEqual(model.outputs[0].shape, [null, 10]);
  model.dispose();
});

test('keras.Input, keras.Model, keras.Sequential and their keras.models / keras.layers aliases', () => {
  assert.deepEqual(keras.Input([64, 64, 3]).shape, [null, 64, 64, 3]);
  assert.deepEqual(keras.Input({ shape: [64, 64, 3] }).shape, [null, 64, 64, 3]);
  assert.deepEqual(keras.Input([4], { batchSize: 8 }).shape, [8, 4]);
  assert.equal(keras.Input([4]).dtype, 'float32');
  assert.equal(keras.layers.Input, keras.Input);
  assert.equal(keras.models.Model, keras.Model);
  assert.equal(keras.models.Sequential, keras.Sequential);
  const inputs = keras.Input([3]);
  const model = keras.Model({ inputs, outputs: L.Dense(2).apply(inputs) as tf.SymbolicTensor, name: 'tiny' });
  assert.ok(model instanceof tf.LayersModel);
  assert.equal(model.name, 'tiny');
  const sequential = keras.Sequential([L.Dense(4, { inputShape: [3] }), L.Dense(2)]);
  assert.ok(sequential instanceof tf.Sequential);
  assert.deepEqual(sequential.outputs[0].shape, [null, 2]);
  assert.deepEqual(keras.Sequential({ layers: [L.Dense(1, { inputShape: [2] })] }).outputs[0].shape, [null, 1]);
});

test('keras.applications holds the builders of lib/applications', () => {
  for (const name of [
    'DenseNet121',
    'DenseNet169',
    'DenseNet201',
    'ResNet50',
    'VGG16',
    'MobileNetV2',
    'EfficientNetB0',
    'InceptionV3',
    'Xception',
  ] as const) {
    assert.equal(keras.applications[name], libApplications[name], name);
  }
});

test('keras.losses.SparseCategoricalCrossentropy: from_logits=False by default (keras/src/losses/losses.py), values by hand', () => {
  const labels = tf.tensor1d([0], 'int32');
  const probabilities = keras.losses.SparseCategoricalCrossentropy();
  assert.equal(probabilities.fromLogits, false);
  assert.ok(Math.abs(probabilities(labels, tf.tensor2d([[0.7, 0.2, 0.1]])).dataSync()[0] - -Math.log(0.7)) < 1e-6);
  const logits = keras.losses.SparseCategoricalCrossentropy({ fromLogits: true });
  // -log softmax([2, 1, 0])[0] = log(1 + e^-1 + e^-2)
  assert.ok(Math.abs(logits(labels, tf.tensor2d([[2, 1, 0]])).dataSync()[0] - Math.log(1 + Math.exp(-1) + Math.exp(-2))) < 1e-6);
});

test("keras.callbacks.EarlyStopping: Keras' defaults (keras/src/callbacks/early_stopping.py)", () => {
  // monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto", baseline=None, restore_best_weights=False, start_from_epoch=0
  const stopper = keras.callbacks.EarlyStopping();
  assert.ok(stopper instanceof TslabEarlyStopping);
  assert.equal(stopper.monitor, 'val_loss');
  assert.ok(stopper.minDelta === 0, `minDelta ${stopper.minDelta}`);
  assert.equal(stopper.patience, 0);
  assert.equal(stopper.verbose, 0);
  assert.equal(stopper.mode, 'min', "mode 'auto' minimises a loss");
  assert.equal(stopper.baseline, undefined);
  assert.equal(stopper.restoreBestWeights, false);
  assert.equal(stopper.startFromEpoch, 0);
  const lesson = keras.callbacks.EarlyStopping({ monitor: 'val_accuracy', patience: 5 });
  assert.equal(lesson.patience, 5);
  assert.equal(lesson.mode, 'max', "mode 'auto' maximises an accuracy");
});

test("keras.optimizers: Keras' defaults (keras/src/optimizers/adam.py, sgd.py, rmsprop.py), whatever the backend's epsilon", () => {
  // Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7); SGD(learning_rate=0.01, momentum=0.0);
  // RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False)
  const backend = tf.backend();
  const epsilon = backend.epsilon;
  backend.epsilon = () => 1e-4; // what a float16 WebGL backend reports
  try {
    assert.deepEqual(keras.optimizers.Adam().getConfig(), { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });
    assert.deepEqual(keras.optimizers.RMSprop().getConfig(), {
      learningRate: 0.001,
      decay: 0.9,
      momentum: 0,
      epsilon: 1e-7,
      centered: false,
    });
    assert.equal(tf.train.adam().getConfig().epsilon, 1e-4, "tfjs alone takes the backend's epsilon (so this test can fail)");
  } finally {
    backend.epsilon = epsilon;
  }
  assert.deepEqual(keras.optimizers.SGD().getConfig(), { learningRate: 0.01 });
  assert.equal(keras.optimizers.Adam({ learningRate: 0.01 }).getConfig().learningRate, 0.01);
});

/** Minimises w²/2 (gradient w) from w = 10 for `steps` steps; returns w. */
function descend(optimizer: tf.Optimizer, steps: number): number {
  const w = tf.variable(tf.scalar(10));
  for (let i = 0; i < steps; i++) optimizer.minimize(() => tf.div(tf.square(w), 2) as tf.Scalar, false, [w]);
  const value = w.dataSync()[0];
  w.dispose();
  return value;
}

test("keras.optimizers take Keras' steps on w²/2 from w = 10 (hand-computed, and rmsprop.py's docstring example)", () => {
  // SGD: w - 0.01 * 10 = 9.9.
  assert.ok(Math.abs(descend(keras.optimizers.SGD(), 1) - 9.9) < 1e-5);
  // SGD momentum 0.9 (sgd.py: velocity = momentum * velocity - lr * g; w += velocity): v1 = -0.1, w = 9.9; v2 = -0.09 - 0.099, w = 9.711.
  assert.ok(Math.abs(descend(keras.optimizers.SGD({ momentum: 0.9 }), 2) - 9.711) < 1e-5);
  // RMSprop(learning_rate=0.1) on var1 = 10, loss var1**2 / 2 -> 9.683772 (keras/src/optimizers/rmsprop.py).
  assert.ok(Math.abs(descend(keras.optimizers.RMSprop({ learningRate: 0.1 }), 1) - 9.683772) < 1e-5);
  // Adam's first step is lr * m_hat / (sqrt(v_hat) + eps) ≈ 0.001 for any gradient.
  assert.ok(Math.abs(descend(keras.optimizers.Adam(), 1) - 9.999) < 1e-5);
});

test('keras.utils.setRandomSeed(2) makes initial weights repeatable', () => {
  const draw = () => {
    keras.utils.setRandomSeed(2);
    return Array.from(kernelOf(L.Dense(4), [3]));
  };
  try {
    assert.equal(keras.utils.randomSeed(), null);
    const first = draw();
    assert.equal(keras.utils.randomSeed(), 2);
    assert.deepEqual(draw(), first);
  } finally {
    keras.utils.setRandomSeed(null);
  }
});

test('wrong arguments are ValueErrors naming the layer, the argument and the value', () => {
  const cases: Array<[() => unknown, RegExp]> = [
    [() => L.Dense(0), /Dense.*`units`.*positive integer.*units=0/],
    [() => L.Dense(2.5), /Dense.*units=2\.5/],
    [() => L.Dense({ units: -3 }), /Dense.*units=-3/],
    [() => L.Dense(5, { units: 6 } as never), /Dense.*two values for `units`/],
    [() => L.Dropout(1), /Dropout.*`rate`.*\[0, 1\).*rate=1\b/],
    [() => L.Dropout(-0.1), /Dropout.*rate=-0\.1/],
    [() => L.Dropout({ rate: NaN }), /Dropout.*rate=NaN/],
    [() => L.Conv2D(0, 3), /Conv2D.*`filters`.*filters=0/],
    [() => L.Conv2D(8, 0), /Conv2D.*`kernelSize`.*kernelSize=0/],
    [() => L.Conv2D(8, [3, 3, 3] as never), /Conv2D.*kernelSize=\[3,3,3\]/],
    [() => L.MaxPooling2D(0), /MaxPooling2D.*`poolSize`.*poolSize=0/],
    [() => L.BatchNormalization({ momentum: 1.5 }), /BatchNormalization.*`momentum`.*momentum=1\.5/],
    [() => L.ReLU({ maxValue: -1 }), /ReLU.*maxValue=-1/],
    [() => keras.Input('64' as never), /Input.*`shape`/],
    [() => keras.optimizers.Adam({ learningRate: -1 }), /Adam.*`learningRate`.*learningRate=-1/],
    [() => keras.optimizers.SGD({ momentum: 1.5 }), /SGD.*`momentum`.*momentum=1\.5/],
  ];
  for (const [call, message] of cases) {
    assert.throws(call, (e: unknown) => e instanceof ValueError && message.test(e.message), String(message));
  }
});
