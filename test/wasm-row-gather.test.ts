/**
 * tf.gather along the first axis on the wasm backend (lib/backends/wasm-row-gather.ts), the step
 * that takes every training batch in tfjs' fit: the rows it copies are checked against the same
 * rows picked by hand from the values, for each dtype it handles, several ranks and repeated
 * indices; gathers along other axes still go to wasm's own kernel and agree with the cpu backend; an index
 * out of range fails as before; and training on wasm logs the same history as on cpu.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fit, keras, ready, registerWasmGradientKernels, setRandomSeed, tf } from '../lib';

before(async () => {
  const info = await ready();
  assert.equal(info.backend, 'wasm', 'these tests are about the wasm backend');
});

/** Rows of `values` (shape `shape`) at `indices`, picked in plain JavaScript. */
function rowsByHand(values: number[], shape: number[], indices: number[]): number[] {
  const rowSize = shape.slice(1).reduce((a, b) => a * b, 1);
  return indices.flatMap((i) => values.slice(i * rowSize, (i + 1) * rowSize));
}

test('the library registers its GatherV2 for wasm', () => {
  assert.ok(registerWasmGradientKernels().includes('GatherV2'), 'GatherV2 is among the kernels the library put in place');
});

test('a gather along the first axis copies the rows asked for: float32, int32 and bool, ranks 1 to 4, short and long rows, repeated indices', () => {
  const cases: { shape: number[]; dtype: 'float32' | 'int32' | 'bool'; indices: number[] | number[][] }[] = [
    { shape: [7], dtype: 'float32', indices: [6, 0, 3, 3] },
    { shape: [9, 5], dtype: 'float32', indices: [8, 1, 1, 4, 0] },
    { shape: [6, 3, 4], dtype: 'int32', indices: [5, 2, 2] },
    {
      shape: [5, 2, 3, 2],
      dtype: 'float32',
      indices: [
        [4, 0],
        [1, 1],
      ],
    },
    { shape: [4, 3], dtype: 'bool', indices: [3, 0, 2] },
    // Rows of 16 values and more are copied as whole rows, shorter ones value by value.
    { shape: [6, 4, 5], dtype: 'float32', indices: [5, 0, 5, 2] },
    {
      shape: [5, 32],
      dtype: 'int32',
      indices: [
        [4, 1, 1],
        [0, 3, 2],
      ],
    },
    { shape: [3, 40], dtype: 'bool', indices: [2, 2, 0] },
  ];
  for (const { shape, dtype, indices } of cases) {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: size }, (_, i) =>
      dtype === 'bool' ? (i * 7) % 3 === 0 : dtype === 'int32' ? i * 3 - 11 : Math.sin(i) * 100,
    );
    const x = tf.tensor(values as number[], shape, dtype);
    const idx = tf.tensor(indices, undefined, 'int32');
    const out = tf.gather(x, idx);
    const flat = (indices as (number | number[])[]).flat() as number[];
    assert.deepEqual(out.shape, [...idx.shape, ...shape.slice(1)], `shape for ${dtype} [${shape}]`);
    assert.equal(out.dtype, dtype);
    const expected = rowsByHand(values.map(Number), shape, flat);
    const got = Array.from(out.dataSync(), Number);
    if (dtype === 'float32') assert.deepEqual(got, Array.from(new Float32Array(expected)), `values for ${dtype} [${shape}]`);
    else assert.deepEqual(got, expected, `values for ${dtype} [${shape}]`);
    tf.dispose([x, idx, out]);
  }
});

test("gathers along another axis go to wasm's own kernel and agree with the cpu backend", async () => {
  const values = Array.from({ length: 4 * 5 * 3 }, (_, i) => i * 0.5 - 7);
  const run = () =>
    tf.tidy(() => {
      const x = tf.tensor3d(values, [4, 5, 3]);
      return [tf.gather(x, tf.tensor1d([4, 0, 2], 'int32'), 1).arraySync(), tf.gather(x, tf.tensor1d([2, 2, 0], 'int32'), -1).arraySync()];
    });
  const onWasm = run();
  await tf.setBackend('cpu');
  try {
    assert.deepEqual(onWasm, run());
  } finally {
    await tf.setBackend('wasm');
  }
});

test("an index out of range fails with wasm's own message", () => {
  const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  assert.throws(() => tf.gather(x, tf.tensor1d([0, 2], 'int32')), /GatherV2: the index value 2 is not in \[0, 1\]/);
  assert.throws(() => tf.gather(x, tf.tensor1d([-1], 'int32')), /GatherV2: the index value -1 is not in \[0, 1\]/);
  x.dispose();
});

test('training on wasm logs the same history as on cpu (the batches are the same rows)', async () => {
  const train = async () => {
    setRandomSeed(7);
    const x = tf.tidy(() => tf.randomNormal([70, 12], 0, 1, 'float32', 1));
    const y = tf.tensor1d(
      Array.from({ length: 70 }, (_, i) => (i * 5) % 3),
      'int32',
    );
    const inputs = keras.Input([12]);
    const outputs = keras.layers.Dense(3).apply(keras.layers.Dense(8, { activation: 'relu' }).apply(inputs)) as tf.SymbolicTensor;
    const model = keras.Model({ inputs, outputs });
    model.compile({ optimizer: 'sgd', loss: keras.losses.SparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
    const history = await fit(model, x, y, { batchSize: 16, epochs: 3, verbose: 0, validationData: [x, y] });
    tf.dispose([x, y]);
    model.dispose();
    setRandomSeed(null);
    return history.history;
  };
  const onWasm = await train();
  await tf.setBackend('cpu');
  let onCpu: Awaited<ReturnType<typeof train>>;
  try {
    onCpu = await train();
  } finally {
    await tf.setBackend('wasm');
  }
  for (const key of ['loss', 'accuracy', 'val_loss', 'val_accuracy']) {
    (onWasm[key] as number[]).forEach((v, i) =>
      assert.ok(Math.abs(v - (onCpu[key][i] as number)) < 1e-5, `${key}[${i}]: wasm ${v}, cpu ${onCpu[key][i]}`),
    );
  }
});
