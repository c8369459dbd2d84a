import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { flatten, Flatten } from '../lib/layers/flatten';

test('rank 2 input passes through unchanged (Keras), where tfjs Flatten refuses it', async () => {
  await ready();
  const input = tf.input({ shape: [1024] });
  const output = flatten().apply(input) as tf.SymbolicTensor;
  assert.deepEqual(output.shape, [null, 1024]);
  assert.throws(() => tf.layers.flatten().apply(input), /ndim|rank|dimension/i, "tfjs' own Flatten rejects rank 2");
  const x = tf.tensor2d([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const y = flatten().apply(x) as tf.Tensor;
  assert.deepEqual(y.shape, [2, 3]);
  assert.deepEqual(y.arraySync(), [
    [1, 2, 3],
    [4, 5, 6],
  ]);
  tf.dispose([x, y]);
});

test('rank 4 input is flattened in row-major (channels-last) order', async () => {
  await ready();
  // x[b, h, w, c] = 1000 b + 100 h + 10 w + c: flattened row b must list h, then w, then c.
  const values = [];
  for (let b = 0; b < 2; b++)
    for (let h = 0; h < 2; h++) for (let w = 0; w < 3; w++) for (let c = 0; c < 2; c++) values.push(1000 * b + 100 * h + 10 * w + c);
  const x = tf.tensor4d(values, [2, 2, 3, 2]);
  const y = flatten().apply(x) as tf.Tensor;
  assert.deepEqual(y.shape, [2, 12]);
  assert.deepEqual((y.arraySync() as number[][])[1], [1000, 1001, 1010, 1011, 1020, 1021, 1100, 1101, 1110, 1111, 1120, 1121]);
  const symbolic = flatten().apply(tf.input({ shape: [5, 5, 1024] })) as tf.SymbolicTensor;
  assert.deepEqual(symbolic.shape, [null, 25600]);
  tf.dispose([x, y]);
});

test("channelsFirst data is flattened in Keras' channels-last order; rank 1 becomes [n, 1]", async () => {
  await ready();
  // x[b, c, h, w] = 10 c + h * 2 + w, one sample: channels-last order lists (h, w) outer, c inner.
  const x = tf.tensor4d([0, 1, 2, 3, 10, 11, 12, 13], [1, 2, 2, 2]);
  const y = flatten({ dataFormat: 'channelsFirst' }).apply(x) as tf.Tensor;
  assert.deepEqual((y.arraySync() as number[][])[0], [0, 10, 1, 11, 2, 12, 3, 13]);
  const z = flatten().apply(tf.tensor1d([7, 8])) as tf.Tensor;
  assert.deepEqual(z.arraySync(), [[7], [8]]);
  tf.dispose([x, y, z]);
});

test('serialisable: a model with flatten() saves and loads, with Keras behaviour after loading', async () => {
  await ready();
  const input = tf.input({ shape: [4] });
  const model = tf.model({ inputs: input, outputs: flatten({ name: 'flat' }).apply(input) as tf.SymbolicTensor });
  const json = model.toJSON(null, false) as { config: { layers: { class_name: string }[] } };
  assert.equal(json.config.layers[1].class_name, 'Flatten', "saved under tfjs' and Keras' class name");
  const loaded = await tf.models.modelFromJSON(json as never);
  assert.ok(loaded.getLayer('flat') instanceof Flatten);
  const x = tf.tensor2d([[1, 2, 3, 4]]);
  const y = loaded.predict(x) as tf.Tensor;
  assert.deepEqual(y.arraySync(), [[1, 2, 3, 4]]);
  tf.dispose([x, y]);
});

test('bad arguments and undefined shapes are reported clearly', () => {
  assert.throws(() => flatten({ dataFormat: 'NCHW' as never }), /dataFormat.*'channelsLast' or 'channelsFirst'.*"NCHW"/);
  assert.throws(() => flatten().apply(tf.input({ shape: [null, 3] as never })), /not fully defined/);
});
