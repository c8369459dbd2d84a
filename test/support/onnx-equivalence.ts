/**
 * The ONNX executor against tfjs on a whole model: every layer translated, the same outputs
 * (relative error < 1e-4) on outputs that vary across images (a constant output would match
 * trivially), and no tensor left behind.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createOnnxSession } from '../../lib/onnx';
import { relativeError, spreadAcrossSamples } from '../../bench/onnx-fixtures';

export interface OnnxEquivalence {
  /** Smallest relative spread of the expected outputs across images. */
  minSpread: number;
  /** Images per executor batch. */
  runBatchSize: number;
  /** model.predict's batch size. Defaults to tfjs' (32). */
  predictBatchSize?: number;
  /** Layers the executor must count, when known. */
  layers?: number;
  /** Name in the diagnostic line. Defaults to the model's. */
  label?: string;
}

export async function expectOnnxMatchesTfjs(t: TestContext, model: tf.LayersModel, x: tf.Tensor, check: OnnxEquivalence): Promise<void> {
  const tensorsBefore = tf.memory().numTensors;
  const executor = await createOnnxSession(model);
  try {
    assert.equal(executor.translatedLayers, executor.totalLayers, executor.note);
    if (check.layers !== undefined) assert.equal(executor.totalLayers, check.layers);
    const expected = model.predict(x, check.predictBatchSize === undefined ? {} : { batchSize: check.predictBatchSize }) as tf.Tensor;
    const actual = await executor.run(x, { batchSize: check.runBatchSize });
    assert.deepEqual(actual.shape, expected.shape);
    const error = relativeError(actual, expected);
    const spread = spreadAcrossSamples(expected);
    tf.dispose([expected, actual]);
    t.diagnostic(
      `${check.label ?? model.name} vs tfjs ${tf.getBackend()}: ${executor.totalLayers} layers, relative error ${error.toExponential(2)}, ` +
        `spread ${spread.toFixed(3)}, ${executor.foldedBatchNorms} BNs folded`,
    );
    assert.ok(spread > check.minSpread, `the outputs barely vary across images (relative spread ${spread})`);
    assert.ok(error < 1e-4, `relative error ${error} >= 1e-4`);
  } finally {
    await executor.dispose();
  }
  assert.equal(tf.memory().numTensors, tensorsBefore, 'the executor leaked tensors');
}
