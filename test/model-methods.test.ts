/**
 * tfjs' own model.fit / model.evaluate / model.predict, as a learner types them from the Keras
 * lesson: on a model with a frozen base they train and predict like tslab-dl's fit() (the same
 * numbers, the frozen base computed once); on a model with nothing frozen they are tfjs itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import {
  buildHead,
  clearFeatureMemory,
  DenseNet121,
  featureStats,
  fit,
  ready,
  setRandomSeed,
  sparseCategoricalCrossentropy,
  tfjsEvaluate,
  tfjsFit,
  tfjsPredict,
  upscale,
} from '../lib';
import { lessonLikeModel } from './support/lesson-like-model';

const silent = { verbose: 0 as const };

function weightsOf(model: tf.LayersModel): number[][] {
  return model.getWeights().map((w) => Array.from(w.dataSync()));
}

function maxDifference(a: number[][], b: number[][]): number {
  let max = 0;
  a.forEach((w, i) => w.forEach((v, j) => (max = Math.max(max, Math.abs(v - b[i][j])))));
  return max;
}

function assertHistoriesClose(
  a: tf.History,
  b: tf.History,
  tolerance: number,
  keys = ['loss', 'accuracy', 'val_loss', 'val_accuracy'],
): void {
  for (const key of keys) {
    const x = a.history[key] as number[];
    const y = b.history[key] as number[];
    assert.ok(x && y, `${key} logged by both`);
    assert.equal(x.length, y.length, `${key}: epochs`);
    x.forEach((v, i) => assert.ok(Math.abs(v - y[i]) < tolerance, `${key}[${i}]: ${v} vs ${y[i]}`));
  }
}

function data(n: number, seed: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return {
    x: tf.randomUniform([n, 8, 8, 3], 0, 1, 'float32', seed) as tf.Tensor4D,
    y: tf.tensor1d(
      Array.from({ length: n }, (_, i) => (i * 7 + seed) % 3),
      'int32',
    ),
  };
}

test('model.fit on a frozen base trains exactly as fit(), computing the base once', async () => {
  await ready();
  clearFeatureMemory();
  const train = data(40, 1);
  const val = data(12, 2);
  const viaMethod = lessonLikeModel({ seed: 5 });
  const viaFunction = lessonLikeModel({ seed: 5 });
  const options = { batchSize: 8, epochs: 3, validationData: [val.x, val.y] as [tf.Tensor, tf.Tensor], ...silent };
  const computed = featureStats.computed;
  setRandomSeed(9); // the same shuffles in both runs
  const a = await viaMethod.fit(train.x, train.y, options);
  assert.equal(featureStats.computed - computed, 2, 'training and validation features computed once each, not per epoch');
  setRandomSeed(9);
  const b = await fit(viaFunction, train.x, train.y, options);
  assertHistoriesClose(a, b, 1e-6);
  assert.deepEqual(Object.keys(a.history), ['loss', 'accuracy', 'val_loss', 'val_accuracy'], "Keras' keys, in Keras' order");
  assert.deepEqual(a.epoch, [0, 1, 2]);
  assert.ok(maxDifference(weightsOf(viaMethod), weightsOf(viaFunction)) < 1e-6);
  assert.equal((a as unknown as { model: tf.LayersModel }).model, viaMethod, "the History belongs to the learner's model");
  tf.dispose([train.x, train.y, val.x, val.y]);
});

test('model.fit agrees with plain tfjs on the whole model (frozen BatchNormalization in inference mode)', async () => {
  await ready();
  clearFeatureMemory();
  const train = data(24, 3);
  const planned = lessonLikeModel({ seed: 6, blocks: 2 });
  const plain = lessonLikeModel({ seed: 6, blocks: 2 });
  const options = { batchSize: 8, epochs: 2, shuffle: false, validationData: [train.x, train.y] as [tf.Tensor, tf.Tensor], ...silent };
  const a = await planned.fit(train.x, train.y, options);
  const b = await tfjsFit(plain, train.x, train.y, options);
  // Features from ONNX Runtime or tfjs agree to float rounding; two epochs keep it small.
  assertHistoriesClose(a, b, 1e-5);
  assert.ok(maxDifference(weightsOf(planned), weightsOf(plain)) < 1e-5);
  tf.dispose([train.x, train.y]);
});

test('a model with nothing frozen: model.fit, evaluate and predict are plain tfjs', async () => {
  await ready();
  const build = () => {
    setRandomSeed(3);
    const input = tf.input({ shape: [8, 8, 3] });
    let h = tf.layers.flatten().apply(input) as tf.SymbolicTensor;
    h = tf.layers.dense({ units: 6, activation: 'relu' }).apply(h) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3 }).apply(h) as tf.SymbolicTensor });
    model.compile({ optimizer: 'adam', loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
    return model;
  };
  const train = data(20, 4);
  const [patched, plain] = [build(), build()];
  const computed = featureStats.computed;
  setRandomSeed(1);
  const a = await patched.fit(train.x, train.y, { batchSize: 5, epochs: 2, validationSplit: 0.2, ...silent });
  setRandomSeed(1);
  const b = await tfjsFit(plain, train.x, train.y, { batchSize: 5, epochs: 2, validationSplit: 0.2, ...silent });
  assert.equal(featureStats.computed, computed, 'no features: a Flatten before the first Dense is not a frozen base');
  assert.deepEqual(a.history, b.history, 'bit-identical logs');
  assert.deepEqual(weightsOf(patched), weightsOf(plain), 'bit-identical weights');
  const [p, q] = [patched.predict(train.x) as tf.Tensor, tfjsPredict(plain, train.x) as tf.Tensor];
  assert.deepEqual(Array.from(p.dataSync()), Array.from(q.dataSync()));
  const [e, f] = [patched.evaluate(train.x, train.y) as tf.Scalar[], tfjsEvaluate(plain, train.x, train.y) as tf.Scalar[]];
  assert.deepEqual(
    e.map((s) => s.dataSync()[0]),
    f.map((s) => s.dataSync()[0]),
  );
  tf.dispose([p, q, ...e, ...f, train.x, train.y]);
});

test('tfjs argument forms: validationSplit, x as an array or a map, callbacks as one object, verbose 0', async () => {
  await ready();
  clearFeatureMemory();
  const all = data(30, 5);
  const split = lessonLikeModel({ seed: 7 });
  const explicit = lessonLikeModel({ seed: 7 });
  const epochs: number[] = [];
  const printed: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => printed.push(args.join(' '));
  let a: tf.History;
  try {
    // validationSplit holds out the last 20% before shuffling, as Keras and tfjs do.
    a = await split.fit([all.x], { [split.outputs[0].name]: all.y } as unknown as tf.Tensor, {
      batchSize: 6,
      epochs: 2,
      shuffle: false,
      validationSplit: 0.2,
      verbose: 0,
      callbacks: { onEpochEnd: async (epoch) => void epochs.push(epoch) },
    });
  } finally {
    console.log = log;
  }
  assert.deepEqual(printed, [], 'verbose: 0 prints nothing');
  assert.deepEqual(epochs, [0, 1], 'a single callback object is called');
  const b = await fit(explicit, all.x.slice(0, 24), all.y.slice(0, 24), {
    batchSize: 6,
    epochs: 2,
    shuffle: false,
    validationData: [all.x.slice(24), all.y.slice(24)],
    ...silent,
  });
  assertHistoriesClose(a, b, 1e-6);
  tf.dispose([all.x, all.y]);
});

test("classWeight weights each sample's loss, as Keras does: mean of w[label] * loss", async () => {
  await ready();
  clearFeatureMemory();
  const { x, y } = data(12, 8);
  // A frozen convolution and a Dense head (no BatchNormalization in the head, whose batch
  // statistics in training would differ from the reference computed in inference).
  setRandomSeed(8);
  const inputs = tf.input({ shape: [8, 8, 3] });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, trainable: false }).apply(inputs) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({}).apply(conv) as tf.SymbolicTensor;
  const model = tf.model({ inputs, outputs: tf.layers.dense({ units: 3 }).apply(pooled) as tf.SymbolicTensor });
  model.compile({ optimizer: 'adam', loss: sparseCategoricalCrossentropy({ fromLogits: true }) });
  const classWeight = { 0: 1, 1: 3, 2: 0.5 };
  // Independent reference: the initial model's logits, cross-entropy by hand in float64.
  const logits = (tfjsPredict(model, x) as tf.Tensor).arraySync() as number[][];
  const labels = Array.from(y.dataSync());
  const perSample = logits.map((row, i) => {
    const max = Math.max(...row);
    return max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) - row[labels[i]];
  });
  const expected = perSample.reduce((sum, l, i) => sum + classWeight[labels[i] as 0 | 1 | 2] * l, 0) / labels.length;
  const unweighted = perSample.reduce((sum, l) => sum + l, 0) / labels.length;
  assert.ok(Math.abs(unweighted - expected) > 1e-2, 'the weights change the loss (the test can tell)');
  // One step on the whole batch: the logged loss is the loss before the update.
  const computed = featureStats.computed;
  const history = await model.fit(x, y, { batchSize: 12, epochs: 1, shuffle: false, classWeight, ...silent });
  assert.equal(featureStats.computed - computed, 1, 'through the planner');
  const logged = (history.history.loss as number[])[0];
  assert.ok(Math.abs(logged - expected) < 1e-5, `loss ${logged}, expected ${expected} (unweighted ${unweighted})`);
  tf.dispose([x, y]);
});

test("callbacks see the learner's model, and stopping it stops training", async () => {
  await ready();
  clearFeatureMemory();
  const { x, y } = data(16, 9);
  const model = lessonLikeModel({ seed: 9 });
  const seen: unknown[] = [];
  class StopAfterTwo extends tf.Callback {
    override async onEpochEnd(epoch: number): Promise<void> {
      seen.push(this.model);
      if (epoch === 1) this.model.stopTraining = true;
    }
  }
  const history = await model.fit(x, y, { batchSize: 8, epochs: 10, callbacks: [new StopAfterTwo()], ...silent });
  assert.equal((history.history.loss as number[]).length, 2);
  assert.ok(
    seen.every((m) => m === model),
    'this.model is the model fit was called on',
  );
  tf.dispose([x, y]);
});

test('model.predict and model.evaluate stay synchronous, reuse the cached features and match plain tfjs', async () => {
  await ready();
  clearFeatureMemory();
  const train = data(20, 10);
  const val = data(10, 11);
  const model = lessonLikeModel({ seed: 10 });
  await model.fit(train.x, train.y, { batchSize: 5, epochs: 1, validationData: [val.x, val.y], ...silent });
  const computed = featureStats.computed;
  const hits = featureStats.memoryHits;
  const predicted = model.predict(val.x);
  assert.ok(predicted instanceof tf.Tensor, 'a tensor, not a promise');
  assert.equal(featureStats.computed, computed, 'the validation features of fit were reused');
  assert.equal(featureStats.memoryHits, hits + 1);
  const plain = tfjsPredict(model, val.x) as tf.Tensor;
  assert.ok(tf.max(tf.abs(tf.sub(predicted as tf.Tensor, plain))).dataSync()[0] < 1e-5);
  const evaluated = model.evaluate(val.x, val.y) as tf.Scalar[];
  const reference = tfjsEvaluate(model, val.x, val.y) as tf.Scalar[];
  assert.equal(evaluated.length, 2, 'loss and accuracy');
  evaluated.forEach((s, i) => assert.ok(Math.abs(s.dataSync()[0] - reference[i].dataSync()[0]) < 1e-5));
  // New images: computed now on tfjs, then cached.
  const fresh = data(4, 12);
  const before = featureStats.computed;
  tf.dispose(model.predict(fresh.x) as tf.Tensor);
  tf.dispose(model.predict(fresh.x) as tf.Tensor);
  assert.equal(featureStats.computed, before + 1);
  // No tensor is left behind by predict/evaluate beyond what they return and the cache holds.
  const tensors = tf.memory().numTensors;
  tf.dispose(model.predict(val.x) as tf.Tensor);
  tf.dispose(model.evaluate(val.x, val.y) as tf.Scalar[]);
  assert.equal(tf.memory().numTensors, tensors);
  tf.dispose([predicted as tf.Tensor, plain, ...evaluated, ...reference, train.x, train.y, val.x, val.y, fresh.x, fresh.y]);
});

test("model.fit on the lesson's DenseNet121 (small images) gives fit()'s losses and weights, at fit()'s peak memory", async () => {
  await ready();
  clearFeatureMemory();
  const build = async () => {
    setRandomSeed(2);
    const inputs = tf.input({ shape: [16, 16, 3] });
    const upscaled = upscale({ height: 32, width: 32 }).apply(inputs) as tf.SymbolicTensor;
    const base = await DenseNet121({ includeTop: false, pooling: 'max', weights: null, inputTensor: upscaled, inputShape: [32, 32, 3] });
    base.trainable = false;
    const model = tf.model({ inputs, outputs: buildHead(base.output as tf.SymbolicTensor, { hidden: 50, dropout: 0, classes: 10 }) });
    model.compile({ optimizer: 'adam', loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
    return model;
  };
  const x = tf.randomUniform([24, 16, 16, 3], 0, 1, 'float32', 13);
  const y = tf.tensor1d(
    Array.from({ length: 24 }, (_, i) => i % 10),
    'int32',
  );
  const options = { batchSize: 8, epochs: 2, validationData: [x, y] as [tf.Tensor, tf.Tensor], ...silent };
  const viaMethod = await build();
  setRandomSeed(4);
  let a: tf.History | undefined;
  const methodPeak = (await tf.profile(async () => void (a = await viaMethod.fit(x, y, options)))).peakBytes;
  const methodWeights = weightsOf(viaMethod).slice(-8);
  viaMethod.dispose();
  clearFeatureMemory();
  const viaFunction = await build();
  setRandomSeed(4);
  let b: tf.History | undefined;
  const functionPeak = (await tf.profile(async () => void (b = await fit(viaFunction, x, y, options)))).peakBytes;
  assertHistoriesClose(a!, b!, 1e-5);
  assert.ok(maxDifference(methodWeights, weightsOf(viaFunction).slice(-8)) < 1e-5, 'the head weights agree');
  assert.ok(methodPeak <= functionPeak * 1.1, `peak ${methodPeak} bytes via model.fit vs ${functionPeak} via fit()`);
  viaFunction.dispose();
  tf.dispose([x, y]);
});
