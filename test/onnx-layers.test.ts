/**
 * The ONNX executor computes what tfjs computes, layer type by layer type:
 * small models with random weights (random BatchNormalization statistics too)
 * on random images, compared with model.predict on the tfjs cpu backend
 * (relative error < 1e-4), and every layer must really run on ONNX.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { setBackend } from '../lib/backends/selection';
import { createOnnxSession, OnnxSessionOptions } from '../lib/onnx';
import { Upscale } from '../lib/layers/upscale';
import { randomImages, randomizeWeights, relativeError } from '../bench/onnx-fixtures';

const L = tf.layers;
type Build = (x: tf.SymbolicTensor) => tf.SymbolicTensor;

before(async () => {
  await setBackend('cpu');
});

/** Builds input -> build(input) with random weights; checks ONNX == tfjs on 5 images in batches of 2. */
async function expectSameAsTfjs(
  inputShape: number[],
  build: Build,
  options: OnnxSessionOptions & { allOnOnnx?: boolean; seed?: number } = {},
) {
  const input = tf.input({ shape: inputShape });
  const model = tf.model({ inputs: input, outputs: build(input) });
  randomizeWeights(model, options.seed ?? 3);
  const x = randomImages([5, ...inputShape], 11, -1, 1);
  const tensorsBefore = tf.memory().numTensors;
  const executor = await createOnnxSession(model, options);
  const expected = model.predict(x) as tf.Tensor;
  const actual = await executor.run(x, { batchSize: 2 });
  try {
    assert.deepEqual(actual.shape, expected.shape);
    const error = relativeError(actual, expected);
    assert.ok(error < 1e-4, `relative error ${error} >= 1e-4 (${executor.note})`);
    if (options.allOnOnnx ?? true) {
      assert.equal(executor.translatedLayers, executor.totalLayers, executor.note);
    }
  } finally {
    tf.dispose([expected, actual, x]);
    await executor.dispose();
  }
  assert.equal(tf.memory().numTensors, tensorsBefore - 1, 'the executor leaked tensors'); // -1: x
  return executor;
}

/** expectSameAsTfjs for a test body. */
const same = async (...args: Parameters<typeof expectSameAsTfjs>): Promise<void> => {
  await expectSameAsTfjs(...args);
};

describe('ONNX executor: convolutions', () => {
  it('Conv2D, same padding, stride 2 on an odd-sized image, bias and relu', () =>
    same(
      [9, 11, 3],
      (x) => L.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(x) as tf.SymbolicTensor,
    ));

  it('Conv2D, same padding with an even kernel (asymmetric TF padding)', () =>
    same([8, 7, 2], (x) => L.conv2d({ filters: 4, kernelSize: [4, 2], strides: [2, 3], padding: 'same' }).apply(x) as tf.SymbolicTensor));

  it('Conv2D, valid padding, dilation 2, no bias', () =>
    same([10, 9, 3], (x) => L.conv2d({ filters: 4, kernelSize: 3, dilationRate: 2, useBias: false }).apply(x) as tf.SymbolicTensor));

  it('DepthwiseConv2D with depth multiplier 2, same padding, stride 2', () =>
    same(
      [9, 9, 3],
      (x) =>
        L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu6' }).apply(
          x,
        ) as tf.SymbolicTensor,
    ));

  it('SeparableConv2D', () =>
    same(
      [9, 10, 3],
      (x) =>
        L.separableConv2d({ filters: 6, kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu' }).apply(
          x,
        ) as tf.SymbolicTensor,
    ));
});

describe('ONNX executor: BatchNormalization', () => {
  it('Conv2D -> BatchNormalization is folded into the Conv', async () => {
    const executor = await expectSameAsTfjs([8, 8, 3], (x) => {
      const c = L.conv2d({ filters: 6, kernelSize: 3, padding: 'same', useBias: false }).apply(x);
      return L.batchNormalization({ epsilon: 1.001e-5 }).apply(c) as tf.SymbolicTensor;
    });
    assert.equal(executor.foldedBatchNorms, 1);
  });

  it('Conv2D with bias -> BatchNormalization, folded', async () => {
    const executor = await expectSameAsTfjs([8, 8, 3], (x) => {
      const c = L.conv2d({ filters: 6, kernelSize: 3, padding: 'same' }).apply(x);
      return L.batchNormalization({ epsilon: 1.001e-5 }).apply(c) as tf.SymbolicTensor;
    });
    assert.equal(executor.foldedBatchNorms, 1);
  });

  it('unfolded: BatchNormalization -> ReLU -> Conv2D (DenseNet order), and the same without folding', async () => {
    const build: Build = (x) => {
      const b = L.batchNormalization({ epsilon: 1.001e-5 }).apply(x);
      const r = L.activation({ activation: 'relu' }).apply(b);
      return L.conv2d({ filters: 4, kernelSize: 1, useBias: false }).apply(r) as tf.SymbolicTensor;
    };
    assert.equal((await expectSameAsTfjs([6, 6, 5], build)).foldedBatchNorms, 0);
    assert.equal(
      (
        await expectSameAsTfjs(
          [6, 6, 5],
          (x) => {
            const c = L.conv2d({ filters: 4, kernelSize: 1 }).apply(x);
            return L.batchNormalization({}).apply(c) as tf.SymbolicTensor;
          },
          { foldBatchNorm: false },
        )
      ).foldedBatchNorms,
      0,
    );
  });

  it('BatchNormalization over the height axis equals the formula (tfjs 4.22 gets this case wrong)', async () => {
    // tfjs' cpu and wasm batchNorm kernels cycle the statistics along the LAST axis whatever
    // the layer's axis, so here the reference is (x - mean[h]) * gamma[h] / sqrt(var[h] + eps) + beta[h].
    const input = tf.input({ shape: [5, 6, 4] });
    const bn = L.batchNormalization({ axis: 1 });
    const model = tf.model({ inputs: input, outputs: bn.apply(input) as tf.SymbolicTensor });
    randomizeWeights(model, 5);
    const x = randomImages([3, 5, 6, 4], 12, -1, 1);
    const [gamma, beta, mean, variance] = bn.getWeights().map((w) => w.reshape([1, 5, 1, 1]));
    const expected = tf.tidy(() => x.sub(mean).mul(gamma).div(variance.add(1e-3).sqrt()).add(beta));
    const executor = await createOnnxSession(model);
    const actual = await executor.run(x);
    assert.ok(relativeError(actual, expected) < 1e-6);
    tf.dispose([gamma, beta, mean, variance, expected, actual, x]);
    await executor.dispose();
  });

  it('BatchNormalization without center and scale, and on rank-2 input', async () => {
    await expectSameAsTfjs([5, 6, 4], (x) => L.batchNormalization({ center: false, scale: false }).apply(x) as tf.SymbolicTensor);
    await expectSameAsTfjs([7], (x) => L.batchNormalization({}).apply(x) as tf.SymbolicTensor);
  });
});

describe('ONNX executor: padding and pooling', () => {
  it('ZeroPadding2D (asymmetric) -> MaxPooling2D 3x3 stride 2 valid', () =>
    same([9, 8, 3], (x) => {
      const p = L.zeroPadding2d({
        padding: [
          [1, 2],
          [3, 0],
        ],
      }).apply(x);
      return L.maxPooling2d({ poolSize: 3, strides: 2 }).apply(p) as tf.SymbolicTensor;
    }));

  it('MaxPooling2D and AveragePooling2D with same padding on odd sizes', async () => {
    await expectSameAsTfjs([9, 10, 2], (x) => L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor);
    await expectSameAsTfjs(
      [9, 10, 2],
      (x) => L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor,
    );
    await expectSameAsTfjs([7, 7, 2], (x) => L.averagePooling2d({ poolSize: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor);
  });

  it('AveragePooling2D 2x2 stride 2 valid (DenseNet transition) on an odd size', () =>
    same([9, 9, 3], (x) => L.averagePooling2d({ poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor));

  it('GlobalMaxPooling2D and GlobalAveragePooling2D', async () => {
    await expectSameAsTfjs([5, 6, 4], (x) => L.globalMaxPooling2d({}).apply(x) as tf.SymbolicTensor);
    await expectSameAsTfjs([5, 6, 4], (x) => L.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor);
  });

  it('Cropping2D', () =>
    same(
      [9, 8, 3],
      (x) =>
        L.cropping2D({
          cropping: [
            [1, 2],
            [0, 3],
          ],
        }).apply(x) as tf.SymbolicTensor,
    ));
});

describe('ONNX executor: merging', () => {
  it('Concatenate on channels (DenseNet), and on the height axis', async () => {
    await expectSameAsTfjs([6, 6, 3], (x) => {
      const c = L.conv2d({ filters: 2, kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor;
      return L.concatenate().apply([x, c]) as tf.SymbolicTensor;
    });
    await expectSameAsTfjs([6, 5, 3], (x) => {
      const c = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor;
      return L.concatenate({ axis: 1 }).apply([x, c]) as tf.SymbolicTensor;
    });
  });

  it('Add, Multiply, Average, Maximum, Minimum of three branches', async () => {
    for (const merge of [L.add, L.multiply, L.average, L.maximum, L.minimum]) {
      await expectSameAsTfjs([6, 6, 2], (x) => {
        const a = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor;
        const b = L.conv2d({ filters: 4, kernelSize: 1 }).apply(x) as tf.SymbolicTensor;
        const c = L.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthMultiplier: 2 }).apply(x) as tf.SymbolicTensor;
        return merge({}).apply([a, b, c]) as tf.SymbolicTensor;
      });
    }
  });

  it('Multiply with broadcasting: squeeze-and-excitation (pool, dense, reshape, multiply)', () =>
    same([6, 6, 4], (x) => {
      const s = L.globalAveragePooling2d({}).apply(x);
      const e = L.dense({ units: 4, activation: 'sigmoid' }).apply(s);
      const r = L.reshape({ targetShape: [1, 1, 4] }).apply(e) as tf.SymbolicTensor;
      const c = L.conv2d({ filters: 4, kernelSize: 1 }).apply(x) as tf.SymbolicTensor;
      return L.multiply().apply([c, r]) as tf.SymbolicTensor;
    }));
});

describe('ONNX executor: core layers', () => {
  it('Flatten keeps tfjs channels-last order, then Dense with softmax', () =>
    same([4, 5, 3], (x) => {
      const c = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }).apply(x);
      const f = L.flatten().apply(c);
      return L.dense({ units: 7, activation: 'softmax' }).apply(f) as tf.SymbolicTensor;
    }));

  it('Dense on a rank-4 tensor acts on the channels; Dropout is the identity', () =>
    same([4, 5, 3], (x) => {
      const c = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }).apply(x);
      const d = L.dropout({ rate: 0.5 }).apply(c);
      return L.dense({ units: 2, useBias: false }).apply(d) as tf.SymbolicTensor;
    }));

  it('Reshape and Permute', () =>
    same([4, 6, 2], (x) => {
      const c = L.conv2d({ filters: 2, kernelSize: 1 }).apply(x);
      const r = L.reshape({ targetShape: [8, -1] }).apply(c);
      return L.permute({ dims: [2, 1] }).apply(r) as tf.SymbolicTensor;
    }));

  it('Rescaling (x / 127.5 - 1)', () =>
    same([4, 4, 3], (x) => L.rescaling({ scale: 1 / 127.5, offset: -1 }).apply(x) as tf.SymbolicTensor));
});

describe('ONNX executor: activations', () => {
  const names = [
    'relu',
    'relu6',
    'sigmoid',
    'tanh',
    'elu',
    'selu',
    'hardSigmoid',
    'softplus',
    'softsign',
    'swish',
    'mish',
    'gelu',
    'gelu_new',
    'softmax',
    'logSoftmax',
    'linear',
  ];
  for (const activation of names) {
    it(`activation '${activation}' after a convolution`, () =>
      same([5, 5, 3], (x) => {
        const c = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(x);
        return L.activation({ activation: activation as any }).apply(c) as tf.SymbolicTensor;
      }));
  }

  it('ReLU with maxValue, LeakyReLU, ELU, ThresholdedReLU, Softmax, PReLU layers', async () => {
    const layers = [
      () => L.reLU({ maxValue: 0.3 }),
      () => L.leakyReLU({ alpha: 0.2 }),
      () => L.elu({}),
      () => L.thresholdedReLU({ theta: 0.1 }),
      () => L.softmax({ axis: -1 }),
      () => L.prelu({}),
    ];
    for (const make of layers) {
      await expectSameAsTfjs([5, 4, 3], (x) => {
        const c = L.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }).apply(x);
        return make().apply(c) as tf.SymbolicTensor;
      });
    }
  });
});

describe('ONNX executor: resizing', () => {
  it('UpSampling2D nearest and bilinear', async () => {
    await expectSameAsTfjs([4, 5, 2], (x) => L.upSampling2d({ size: [2, 3] }).apply(x) as tf.SymbolicTensor);
    await expectSameAsTfjs([4, 5, 2], (x) => L.upSampling2d({ size: [3, 2], interpolation: 'bilinear' }).apply(x) as tf.SymbolicTensor);
  });

  it('Upscale 64x64 -> 160x160 bilinear (the lesson), then a convolution', () =>
    same([64, 64, 3], (x) => {
      const u = new Upscale({ height: 160, width: 160 }).apply(x);
      return L.conv2d({ filters: 2, kernelSize: 3, strides: 2 }).apply(u) as tf.SymbolicTensor;
    }));

  it('Upscale of a non-square image pads (48x64 -> 40x40 and 30x20 -> 37x50) and nearest', async () => {
    await expectSameAsTfjs([48, 64, 3], (x) => new Upscale({ height: 40, width: 40 }).apply(x) as tf.SymbolicTensor);
    await expectSameAsTfjs([30, 20, 2], (x) => new Upscale({ height: 37, width: 50 }).apply(x) as tf.SymbolicTensor);
    await expectSameAsTfjs([16, 12, 2], (x) => new Upscale({ height: 40, width: 40, method: 'nearest' }).apply(x) as tf.SymbolicTensor);
  });
});

after(() => {
  tf.disposeVariables();
});
