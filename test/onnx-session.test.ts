/**
 * The ONNX executor's plumbing: the protobuf bytes, TF's padding rules checked
 * against values computed by hand, nested models, falling back to tfjs for a
 * layer without translation, choosing outputs, several inputs, batching,
 * argument errors, and what happens without onnxruntime-node.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { setBackend } from '../lib/backends/selection';
import { createOnnxSession, onnxAvailable, onnxRuntimeInfo, registerOnnxTranslator } from '../lib/onnx';
import { ProtoWriter } from '../lib/onnx/protobuf';
import { foldBatchNormIntoConv } from '../lib/onnx/fold-batch-norm';
import { interpolationMatrix } from '../lib/onnx/translators/resizing';
import { Upscale } from '../lib/layers/upscale';
import { randomImages, randomizeWeights, relativeError } from '../bench/onnx-fixtures';

const L = tf.layers;

before(async () => {
  await setBackend('cpu');
});

describe('protobuf writer', () => {
  it('writes varints, negative int64, floats, strings and packed fields as the protobuf spec shows', () => {
    // The encoding guide's example: field 1 = 150 is 08 96 01.
    assert.deepEqual([...new ProtoWriter().int(1, 150).finish()], [0x08, 0x96, 0x01]);
    // int64 -1: ten bytes of two's complement.
    assert.deepEqual([...new ProtoWriter().int(3, -1).finish()], [0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    // float 1.0 = 0x3f800000, little-endian, wire type 5.
    assert.deepEqual([...new ProtoWriter().float(2, 1).finish()], [0x15, 0x00, 0x00, 0x80, 0x3f]);
    // The guide's string example: field 2 = "testing" is 12 07 74 65 73 74 69 6e 67.
    assert.deepEqual([...new ProtoWriter().string(2, 'testing').finish()], [0x12, 0x07, 0x74, 0x65, 0x73, 0x74, 0x69, 0x6e, 0x67]);
    // The guide's packed example: field 4 = [3, 270, 86942] is 22 06 03 8e 02 9e a7 05.
    assert.deepEqual([...new ProtoWriter().packedInts(4, [3, 270, 86942]).finish()], [0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05]);
    // An embedded message: field 3 = { field 1 = 150 } is 1a 03 08 96 01.
    assert.deepEqual([...new ProtoWriter().message(3, new ProtoWriter().int(1, 150)).finish()], [0x1a, 0x03, 0x08, 0x96, 0x01]);
  });
});

/** A 1x3x3x1 image holding 1..9, row by row. */
function oneToNine(): tf.Tensor4D {
  return tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
}

async function onnxOutput(layer: tf.layers.Layer, x: tf.Tensor): Promise<number[]> {
  const input = tf.input({ shape: x.shape.slice(1) });
  const model = tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
  const executor = await createOnnxSession(model);
  assert.equal(executor.translatedLayers, 1, executor.note);
  const y = await executor.run(x);
  const values = Array.from(y.dataSync());
  y.dispose();
  await executor.dispose();
  return values;
}

describe("TF's 'same' padding puts the odd pixel at the bottom/right (values by hand)", () => {
  // 3x3 input, window 2, stride 2: out 2x2, one pixel of padding, all of it after.
  // Windows cover rows {0,1}, {2} and columns {0,1}, {2}.
  it('MaxPooling2D: [[5, 6], [8, 9]]', async () => {
    const x = oneToNine();
    assert.deepEqual(await onnxOutput(L.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }), x), [5, 6, 8, 9]);
    x.dispose();
  });

  it('AveragePooling2D divides by the real pixels only: [[3, 4.5], [7.5, 9]]', async () => {
    const x = oneToNine();
    assert.deepEqual(await onnxOutput(L.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same' }), x), [3, 4.5, 7.5, 9]);
    x.dispose();
  });

  it('Conv2D with a 2x2 kernel of ones: [[12, 9], [15, 9]]', async () => {
    const x = oneToNine();
    const conv = L.conv2d({ filters: 1, kernelSize: 2, strides: 2, padding: 'same', useBias: false, kernelInitializer: 'ones' });
    assert.deepEqual(await onnxOutput(conv, x), [12, 9, 15, 9]);
    x.dispose();
  });

  it('Flatten after a convolution reads channels-last order: 1..8 stays 1..8', async () => {
    const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]);
    const input = tf.input({ shape: [2, 2, 2] });
    const identity = L.conv2d({ filters: 2, kernelSize: 1, useBias: false });
    const model = tf.model({ inputs: input, outputs: L.flatten().apply(identity.apply(input)) as tf.SymbolicTensor });
    const eye = tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2]);
    identity.setWeights([eye]);
    eye.dispose();
    const executor = await createOnnxSession(model);
    const y = await executor.run(x);
    assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4, 5, 6, 7, 8]);
    tf.dispose([x, y]);
    await executor.dispose();
  });
});

describe('Upscale as interpolation matrices (values by hand)', () => {
  it('2 -> 4 pixels, half-pixel centres: bilinear [[1, 0], [.75, .25], [.25, .75], [0, 1]], nearest rows 0, 0, 1, 1', () => {
    // Bilinear source coordinates (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped to the edges.
    assert.deepEqual(Array.from(interpolationMatrix(2, 4, 'bilinear')), [1, 0, 0.75, 0.25, 0.25, 0.75, 0, 1]);
    // Nearest: floor((i + 0.5) / 2) = 0, 0, 1, 1.
    assert.deepEqual(Array.from(interpolationMatrix(2, 4, 'nearest')), [1, 0, 1, 0, 0, 1, 0, 1]);
  });

  it('a 2x2 image upscaled to 4x4 and padded to 4x6 (resize_with_pad), through ONNX', async () => {
    const x = tf.tensor4d([0, 4, 8, 12], [1, 2, 2, 1]);
    const layer = new Upscale({ height: 4, width: 6 });
    const values = await onnxOutput(layer, x);
    const r = [1, 0.75, 0.25, 0]; // weight of the first source row/column in each output row/column
    const expected: number[] = [];
    for (let i = 0; i < 4; i++) {
      const row = [0];
      for (let j = 0; j < 4; j++) {
        const top = r[j] * 0 + (1 - r[j]) * 4;
        const bottom = r[j] * 8 + (1 - r[j]) * 12;
        row.push(r[i] * top + (1 - r[i]) * bottom);
      }
      expected.push(...row, 0);
    }
    assert.deepEqual(values, expected);
    x.dispose();
  });
});

describe('Folding BatchNormalization into a Conv', () => {
  it('computes W * s and (b - mean) * s + beta, s = gamma / sqrt(var + eps) (values by hand)', () => {
    // One output channel, kernel [2, 3], bias 1; gamma 2, beta 0.5, mean 3, var 15, eps 1:
    // s = 2 / sqrt(16) = 0.5, W' = [1, 1.5], b' = (1 - 3) * 0.5 + 0.5 = -0.5.
    const graph = foldBatchNormIntoConv({
      name: 'g',
      inputs: [{ name: 'x', dims: [1, 2, 1, 1] }],
      outputs: [{ name: 'y', dims: [1, 1, 1, 1] }],
      nodes: [
        { opType: 'Conv', name: 'c', inputs: ['x', 'w', 'b'], outputs: ['c_out'], attributes: {} },
        {
          opType: 'BatchNormalization',
          name: 'n',
          inputs: ['c_out', 'g', 'beta', 'm', 'v'],
          outputs: ['y'],
          attributes: { epsilon: { type: 'float', value: 1 } },
        },
      ],
      initializers: [
        { name: 'w', dims: [1, 2, 1, 1], data: new Float32Array([2, 3]) },
        { name: 'b', dims: [1], data: new Float32Array([1]) },
        { name: 'g', dims: [1], data: new Float32Array([2]) },
        { name: 'beta', dims: [1], data: new Float32Array([0.5]) },
        { name: 'm', dims: [1], data: new Float32Array([3]) },
        { name: 'v', dims: [1], data: new Float32Array([15]) },
      ],
    });
    assert.equal(graph.folded, 1);
    assert.deepEqual(
      graph.graph.nodes.map((n) => `${n.opType}:${n.outputs}`),
      ['Conv:y'],
    );
    const init = Object.fromEntries(graph.graph.initializers.map((t) => [t.name, Array.from(t.data as Float32Array)]));
    assert.deepEqual(init, { w: [1, 1.5], b: [(1 - 3) * 0.5 + 0.5] });
  });
});

/** Builds a model, randomises it, and compares executor.run with model.predict. */
async function compareWithTfjs(model: tf.LayersModel, x: tf.Tensor | tf.Tensor[], options: Parameters<typeof createOnnxSession>[1] = {}) {
  randomizeWeights(model, 4);
  const tensorsBefore = tf.memory().numTensors;
  const executor = await createOnnxSession(model, options);
  const expected = model.predict(x) as tf.Tensor;
  const actual = await executor.run(x, { batchSize: 2 });
  const error = relativeError(actual, expected);
  tf.dispose([expected, actual]);
  await executor.dispose();
  assert.equal(tf.memory().numTensors, tensorsBefore, 'leaked tensors');
  assert.ok(error < 1e-4, `relative error ${error} (${executor.note})`);
  return executor;
}

describe('Model structure', () => {
  it('inlines a nested model (a Sequential used as a layer of a functional model)', async () => {
    const inner = tf.sequential({
      layers: [L.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same' }), L.batchNormalization({}), L.reLU({})],
    });
    const input = tf.input({ shape: [8, 8, 3] });
    const y = L.globalAveragePooling2d({}).apply(inner.apply(input)) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: y });
    const x = randomImages([5, 8, 8, 3]);
    const executor = await compareWithTfjs(model, x);
    assert.equal(executor.totalLayers, 4);
    assert.equal(executor.translatedLayers, 4);
    x.dispose();
  });

  it('runs a layer without translation, and the layers after it, on tfjs, and says so in one line', async () => {
    const input = tf.input({ shape: [6, 6, 3] });
    const c = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'c' }).apply(input);
    const n = L.layerNormalization({ name: 'ln' }).apply(c);
    const d = L.conv2d({ filters: 2, kernelSize: 1, name: 'after' }).apply(n) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: d });
    const x = randomImages([5, 6, 6, 3]);
    const executor = await compareWithTfjs(model, x);
    assert.equal(executor.translatedLayers, 1);
    assert.equal(executor.totalLayers, 3);
    assert.deepEqual(
      executor.untranslated.map((u) => u.name),
      ['ln'],
    );
    assert.match(
      executor.note,
      /^ONNX runs 1 of 3 layers; 2 run on tfjs from layer 'ln' \(LayerNormalization: no ONNX translation for this layer class\)\.$/,
    );
    x.dispose();
  });

  it('computes up to a layer name or a SymbolicTensor (options.output), and several outputs with runAll', async () => {
    const input = tf.input({ shape: [6, 6, 3] });
    const base = L.conv2d({ filters: 4, kernelSize: 3, name: 'base_end' }).apply(input) as tf.SymbolicTensor;
    const pooled = L.globalMaxPooling2d({ name: 'pool' }).apply(base) as tf.SymbolicTensor;
    const head = L.dense({ units: 3 }).apply(pooled) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: head });
    randomizeWeights(model, 2);
    const x = randomImages([3, 6, 6, 3]);
    const expectedBase = tf.model({ inputs: input, outputs: base }).predict(x) as tf.Tensor;
    const expectedPooled = tf.model({ inputs: input, outputs: pooled }).predict(x) as tf.Tensor;

    const byName = await createOnnxSession(model, { output: 'pool' });
    assert.equal(byName.totalLayers, 2);
    const y1 = await byName.run(x);
    assert.ok(relativeError(y1, expectedPooled) < 1e-5);

    const both = await createOnnxSession(model, { output: [base, 'pool'] });
    assert.deepEqual(both.outputShapes, [
      [null, 4, 4, 4],
      [null, 4],
    ]);
    await assert.rejects(both.run(x), /computes 2 outputs; use runAll\(x\)/);
    const [b, p] = await both.runAll(x);
    assert.ok(relativeError(b, expectedBase) < 1e-5);
    assert.ok(relativeError(p, expectedPooled) < 1e-5);

    await assert.rejects(createOnnxSession(model, { output: 'nope' }), /has no layer named "nope"/);
    tf.dispose([x, expectedBase, expectedPooled, y1, b, p]);
    await byName.dispose();
    await both.dispose();
  });

  it('takes several inputs, in the order of inputNames', async () => {
    const a = tf.input({ shape: [5, 5, 2], name: 'a' });
    const b = tf.input({ shape: [5, 5, 2], name: 'b' });
    const ca = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }).apply(a) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [a, b], outputs: L.concatenate().apply([ca, b]) as tf.SymbolicTensor });
    const xs = [randomImages([4, 5, 5, 2], 1), randomImages([4, 5, 5, 2], 2)];
    const executor = await compareWithTfjs(model, xs);
    assert.deepEqual(executor.inputNames, ['a', 'b']);
    tf.dispose(xs);
  });

  it('casts integer images (0..255) to float32, as tfjs layers do', async () => {
    const input = tf.input({ shape: [4, 4, 3] });
    const r = L.rescaling({ scale: 1 / 255 }).apply(input);
    const model = tf.model({ inputs: input, outputs: L.conv2d({ filters: 2, kernelSize: 3 }).apply(r) as tf.SymbolicTensor });
    const x = tf.randomUniform([3, 4, 4, 3], 0, 256, 'int32', 5);
    await compareWithTfjs(model, x);
    x.dispose();
  });
});

/** A custom layer: y = 2 x. */
class TimesTwo extends tf.layers.Layer {
  static className = 'TimesTwoForOnnxTest';
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, 2);
  }
}
tf.serialization.registerClass(TimesTwo);

describe('Custom layers', () => {
  function modelWithTimesTwo(): tf.LayersModel {
    const input = tf.input({ shape: [4, 4, 3] });
    const c = L.conv2d({ filters: 2, kernelSize: 3, padding: 'same' }).apply(input);
    const t = new TimesTwo({ name: 'twice' }).apply(c);
    return tf.model({ inputs: input, outputs: L.conv2d({ filters: 2, kernelSize: 1 }).apply(t) as tf.SymbolicTensor });
  }

  it('run on tfjs until a translator is registered, then on ONNX', async () => {
    const x = randomImages([3, 4, 4, 3]);
    const before = await compareWithTfjs(modelWithTimesTwo(), x);
    assert.match(before.note, /from layer 'twice' \(TimesTwoForOnnxTest: no ONNX translation for this layer class\)/);
    registerOnnxTranslator('TimesTwoForOnnxTest', (ctx) => {
      const v = ctx.inputs[0];
      const two = ctx.graph.addWeight(`${ctx.layer.name}/two`, [], new Float32Array([2]));
      return [{ ...v, name: ctx.graph.node('Mul', [v.name, two], {}, ctx.layer.name) }];
    });
    const after = await compareWithTfjs(modelWithTimesTwo(), x);
    assert.equal(after.note, 'ONNX runs all 3 layers.');
    x.dispose();
  });

  it('a translator that fails leaves its layer to tfjs and says why', async () => {
    registerOnnxTranslator('TimesTwoForOnnxTest', () => {
      throw new TypeError('cannot read the multiplier');
    });
    const x = randomImages([3, 4, 4, 3]);
    const executor = await compareWithTfjs(modelWithTimesTwo(), x);
    assert.match(executor.note, /'twice' \(TimesTwoForOnnxTest: its translation failed: cannot read the multiplier\)/);
    x.dispose();
  });
});

describe('run(x, options)', () => {
  async function smallExecutor() {
    const input = tf.input({ shape: [4, 4, 3], name: 'images' });
    const model = tf.model({ inputs: input, outputs: L.conv2d({ filters: 2, kernelSize: 3 }).apply(input) as tf.SymbolicTensor });
    return createOnnxSession(model);
  }

  it('reports progress after each batch, the last one partial', async () => {
    const executor = await smallExecutor();
    const x = randomImages([5, 4, 4, 3]);
    const seen: [number, number][] = [];
    const y = await executor.run(x, { batchSize: 2, onBatchEnd: (done, total) => void seen.push([done, total]) });
    assert.deepEqual(seen, [
      [2, 5],
      [4, 5],
      [5, 5],
    ]);
    assert.deepEqual(y.shape, [5, 2, 2, 2]);
    tf.dispose([x, y]);
    await executor.dispose();
  });

  it('splits batches into calls of maxImagesPerCall images: same result, progress per batch', async () => {
    const input = tf.input({ shape: [4, 4, 3] });
    const model = tf.model({ inputs: input, outputs: L.conv2d({ filters: 2, kernelSize: 3 }).apply(input) as tf.SymbolicTensor });
    const whole = await createOnnxSession(model, { maxImagesPerCall: 64 });
    const split = await createOnnxSession(model, { maxImagesPerCall: 2 });
    await assert.rejects(
      createOnnxSession(model, { maxImagesPerCall: 0 }),
      /options.maxImagesPerCall must be a positive integer. Received maxImagesPerCall=0/,
    );
    const x = randomImages([7, 4, 4, 3]);
    const seen: number[] = [];
    const a = await whole.run(x, { batchSize: 5 });
    const b = await split.run(x, { batchSize: 5, onBatchEnd: (done) => void seen.push(done) });
    assert.deepEqual(seen, [5, 7]);
    assert.ok(relativeError(b, a) < 1e-6);
    tf.dispose([x, a, b]);
    await whole.dispose();
    await split.dispose();
  });

  it('rejects a wrong image shape, a bad batch size, and use after dispose, naming what it expected', async () => {
    const executor = await smallExecutor();
    const wrong = tf.zeros([2, 5, 4, 3]);
    await assert.rejects(executor.run(wrong), /input "images" must have shape \[batch, 4, 4, 3\]; received \[2, 5, 4, 3\]/);
    const x = tf.zeros([2, 4, 4, 3]);
    await assert.rejects(executor.run(x, { batchSize: 0 }), /options.batchSize must be a positive integer. Received batchSize=0/);
    await assert.rejects(executor.run([x, x]), /takes 1 input\(s\) \(images\); received 2/);
    await executor.dispose();
    await assert.rejects(executor.run(x), /disposed/);
    tf.dispose([wrong, x]);
  });

  it('returns an empty batch for no images', async () => {
    const executor = await smallExecutor();
    const x = tf.zeros([0, 4, 4, 3]);
    const y = await executor.run(x);
    assert.deepEqual(y.shape, [0, 2, 2, 2]);
    tf.dispose([x, y]);
    await executor.dispose();
  });
});

describe('Without onnxruntime-node', () => {
  const missing = (name: string) => {
    const e = new Error(`Cannot find module '${name}'`) as NodeJS.ErrnoException;
    e.code = 'MODULE_NOT_FOUND';
    throw e;
  };

  it('onnxAvailable() is false and the reason says how to install it', () => {
    assert.equal(onnxAvailable(missing), false);
    assert.match(onnxRuntimeInfo(missing).reason!, /onnxruntime-node is not installed \(npm install onnxruntime-node/);
    const broken = () => {
      throw new Error('libonnxruntime.so.1: cannot open shared object file');
    };
    assert.match(onnxRuntimeInfo(broken).reason!, /installed but failed to load: libonnxruntime.so.1/);
  });

  it('createOnnxSession rejects with that reason', async () => {
    const input = tf.input({ shape: [2] });
    const model = tf.model({ inputs: input, outputs: L.dense({ units: 1 }).apply(input) as tf.SymbolicTensor });
    await assert.rejects(createOnnxSession(model, { loader: missing }), /createOnnxSession: onnxruntime-node is not installed/);
  });

  it('here it is installed, on the CPU', () => {
    const info = onnxRuntimeInfo();
    assert.equal(info.available, true);
    assert.equal(info.version, '1.30.0');
    assert.ok(info.providers.includes('cpu'));
  });
});
