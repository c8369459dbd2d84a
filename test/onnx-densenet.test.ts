/**
 * The ONNX executor computes what tfjs computes on the library's applications:
 * DenseNet121 at 160x160 (the lesson's base), the lesson's upscale -> DenseNet121
 * graph, and DenseNet169/201; random weights (random BatchNormalization
 * statistics too) and random images, relative error < 1e-4 against
 * model.predict on the wasm backend (the cpu backend takes minutes here).
 */
import { after, before, describe, it, TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { setBackend } from '../lib/backend';
import { DenseNet121, DenseNet169, DenseNet201 } from '../lib/applications';
import { Upscale } from '../lib/layers/upscale';
import { createOnnxExecutor } from '../lib/onnx';
import { randomImages, randomizeWeights, relativeError } from '../bench/onnx-fixtures';

before(async () => {
  await setBackend('wasm');
});

after(() => {
  tf.disposeVariables();
});

async function expectSameAsTfjs(t: TestContext, model: tf.LayersModel, x: tf.Tensor, expectedLayers: number): Promise<void> {
  randomizeWeights(model, 17);
  const tensorsBefore = tf.memory().numTensors;
  const executor = await createOnnxExecutor(model);
  try {
    assert.equal(executor.translatedLayers, executor.totalLayers, executor.note);
    assert.equal(executor.totalLayers, expectedLayers);
    const expected = model.predict(x, { batchSize: 4 }) as tf.Tensor;
    const actual = await executor.run(x, { batchSize: 3 });
    assert.deepEqual(actual.shape, expected.shape);
    const error = relativeError(actual, expected);
    // A constant output would match trivially: the features must vary across images
    // (spread: standard deviation across images relative to the mean magnitude).
    const spread = tf.tidy(() => tf.moments(expected, 0).variance.mean().sqrt().div(expected.abs().mean()).dataSync()[0]);
    tf.dispose([expected, actual]);
    t.diagnostic(`${model.name}: relative error ${error.toExponential(2)}, spread ${spread.toFixed(3)}, ${executor.foldedBatchNorms} BNs folded`);
    assert.ok(spread > 1e-3, `the features barely vary across images (relative spread ${spread})`);
    assert.ok(error < 1e-4, `relative error ${error} >= 1e-4`);
  } finally {
    await executor.dispose();
  }
  assert.equal(tf.memory().numTensors, tensorsBefore, 'the executor leaked tensors');
}

describe('ONNX executor on the applications', () => {
  it('DenseNet121 base at 160x160 with max pooling: all 427 layers on ONNX, same features as tfjs', async (t) => {
    const base = await DenseNet121({ includeTop: false, weights: null, inputShape: [160, 160, 3], pooling: 'max' });
    const x = randomImages([4, 160, 160, 3], 21);
    await expectSameAsTfjs(t, base, x, 427);
    x.dispose();
  });

  it("the lesson's graph: 64x64 images -> Upscale(160, 160) -> DenseNet121 -> max pooling", async (t) => {
    const images = tf.input({ shape: [64, 64, 3] });
    const upscaled = new Upscale({ height: 160, width: 160 }).apply(images) as tf.SymbolicTensor;
    const base = await DenseNet121({ includeTop: false, weights: null, inputTensor: upscaled, pooling: 'max' });
    const x = randomImages([4, 64, 64, 3], 22);
    await expectSameAsTfjs(t, base, x, 428);
    x.dispose();
  });

  it('DenseNet169 and DenseNet201 without the top, at 96x96, average pooling', async (t) => {
    for (const build of [DenseNet169, DenseNet201]) {
      const model = await build({ includeTop: false, weights: null, inputShape: [96, 96, 3], pooling: 'avg' });
      const x = randomImages([3, 96, 96, 3], 23);
      await expectSameAsTfjs(t, model, x, model.layers.length - 1);
      x.dispose();
    }
  });
});
