// Every layer that the applications and the lesson's episode-4 CNN use trains on tfjs' wasm backend
// with the right gradients: for loss = sum(layer(x) * r), r fixed and random (so the upstream
// gradient is r), the gradients with respect to the inputs and to every trainable weight on wasm
// match those on tfjs' cpu backend and torch's, in float64, from the same inputs and weights
// (test/python/gradients_reference.py draws them and writes them as .npy).
//
// TensorFlow's semantics decide: padding 'same' pads (total) // 2 before and the rest after
// (https://www.tensorflow.org/api_docs/python/tf/nn#notes_on_padding_2), max pooling never takes
// its maximum from the padding and gives the gradient to the first maximum of a window
// (tf.raw_ops.MaxPoolGrad), average pooling does not count the padding, BatchNormalization in
// training mode normalises with the batch's mean and variance
// (https://keras.io/api/layers/normalization_layers/batch_normalization/).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf, ready, registerWasmGradientKernels, upscale, rescaling, normalization } from '../lib';
import { readNpy, relativeError, runReference, torchMissing } from './support/torch-reference';

type Padding = 'valid' | 'same';
type Activation = 'relu' | 'relu6' | 'elu' | 'sigmoid' | 'tanh' | 'softmax' | 'swish';
type Convolution = { kernelSize: number; strides?: number; padding: Padding; dilationRate?: number; useBias?: boolean };
/** The dilation passed on to tf.depthwiseConv2d, which tfjs-layers' DepthwiseConv2D drops (see DROPS_DILATION). */
type PassDilation = { passDilation?: boolean };

type LayerSpec =
  | ({ kind: 'conv2d'; filters: number } & Convolution)
  | ({ kind: 'depthwiseConv2d'; depthMultiplier?: number } & Convolution & PassDilation)
  | ({ kind: 'separableConv2d'; filters: number; depthMultiplier?: number } & Convolution)
  | { kind: 'maxPooling2d' | 'averagePooling2d'; poolSize: number; strides: number; padding: Padding }
  | { kind: 'globalAveragePooling2d' | 'globalMaxPooling2d' | 'concatenate' | 'add' | 'multiply' | 'flatten' }
  | { kind: 'batchNormalization'; training: boolean }
  | { kind: 'zeroPadding2d'; padding: [[number, number], [number, number]] }
  | { kind: 'dense'; units: number }
  | { kind: 'reshape'; targetShape: number[] }
  | { kind: 'activation'; activation: Activation }
  | { kind: 'rescaling'; scale: number; offset: number }
  | { kind: 'normalization'; mean: number[]; variance: number[] }
  | { kind: 'upscale'; height: number; width: number };

interface Case {
  layer: LayerSpec;
  /** Input shapes (NHWC), one per input. */
  inputs: number[][];
  /** 'integers': few distinct values, so max pooling windows hold ties; 'wide': uniform in [-4, 10). */
  values?: 'normal' | 'integers' | 'wide';
  /** Why this case is here, when the shape alone does not say. */
  note?: string;
  /** Why this case cannot pass: a bug of TensorFlow.js itself, with the numbers. */
  skip?: string;
}

// What TensorFlow.js 4.22 itself gets wrong; the numbers are those of the cases below.
// tfjs-layers 4.22's DepthwiseConv2D ignores dilationRate (its call passes none; 'TODO(cais): Add
// support for dilation'): lib/compat/depthwise-dilation.ts passes it, as Keras does; the dilated
// depthwise layer cases below check it.
// tfjs 4.22's AvgPoolGrad with 'same' padding (divides by the whole window) and ResizeBilinearGrad
// (ignores halfPixelCenters) are wrong on cpu and wasm alike: lib/compat/pooling-and-resize-gradients.ts
// registers TF's; the 'same' average pooling and Upscale cases below check them.

const conv = (c: Omit<Extract<LayerSpec, { kind: 'conv2d' }>, 'kind'>, input: number[], note?: string): Case => ({
  layer: { kind: 'conv2d', ...c },
  inputs: [input],
  note,
});
const depthwise = (c: Omit<Extract<LayerSpec, { kind: 'depthwiseConv2d' }>, 'kind'>, input: number[], note?: string): Case => ({
  layer: { kind: 'depthwiseConv2d', ...c },
  inputs: [input],
  note,
});
const separable = (c: Omit<Extract<LayerSpec, { kind: 'separableConv2d' }>, 'kind'>, input: number[], note?: string): Case => ({
  layer: { kind: 'separableConv2d', ...c },
  inputs: [input],
  note,
});
const pool = (
  kind: 'maxPooling2d' | 'averagePooling2d',
  poolSize: number,
  strides: number,
  padding: Padding,
  input: number[],
  note?: string,
): Case => ({
  layer: { kind, poolSize, strides, padding },
  inputs: [input],
  values: kind === 'maxPooling2d' ? 'integers' : 'normal',
  note,
});
const activation = (name: Activation): Case => ({
  layer: { kind: 'activation', activation: name },
  inputs: [[2, 4, 5, 3]],
  values: name === 'relu6' ? 'wide' : 'normal',
});

const CASES: Case[] = [
  // Conv2D: kernels 1, 3, 5, 7; strides 1, 2, 3; dilation 2; 3 -> 4 and 8 -> 16 channels.
  conv({ filters: 4, kernelSize: 3, padding: 'same' }, [2, 9, 9, 3]),
  conv({ filters: 16, kernelSize: 3, padding: 'valid' }, [2, 8, 10, 8]),
  conv({ filters: 16, kernelSize: 1, padding: 'valid' }, [2, 6, 7, 8]),
  conv({ filters: 4, kernelSize: 1, strides: 2, padding: 'valid' }, [2, 9, 9, 3], "ResNet's strided shortcut"),
  conv({ filters: 4, kernelSize: 3, strides: 2, padding: 'same' }, [2, 8, 8, 3], 'TF pads 0 before, 1 after'),
  conv({ filters: 16, kernelSize: 3, strides: 2, padding: 'same' }, [2, 9, 11, 8], 'TF pads 1 before, 1 after'),
  conv({ filters: 16, kernelSize: 3, strides: 2, padding: 'valid' }, [2, 9, 11, 8]),
  conv({ filters: 4, kernelSize: 7, strides: 2, padding: 'valid' }, [2, 14, 15, 3], "DenseNet's and ResNet's stem after ZeroPadding2D"),
  conv({ filters: 4, kernelSize: 7, strides: 2, padding: 'same' }, [2, 12, 13, 3], 'TF pads 2 before, 3 after'),
  conv({ filters: 16, kernelSize: 5, padding: 'same' }, [2, 7, 8, 8]),
  conv({ filters: 4, kernelSize: 5, strides: 3, padding: 'same' }, [2, 11, 13, 3]),
  conv({ filters: 4, kernelSize: 3, strides: 3, padding: 'valid' }, [2, 10, 11, 3], 'windows that skip input columns'),
  // Keras' Conv2D runs tf.fused.conv2d, whose own gradient refuses dilation: split by lib/compat/dilated-conv-gradients.ts.
  conv({ filters: 4, kernelSize: 3, dilationRate: 2, padding: 'same' }, [2, 10, 9, 3]),
  conv({ filters: 16, kernelSize: 3, dilationRate: 2, padding: 'valid' }, [2, 11, 9, 8]),
  conv({ filters: 4, kernelSize: 5, dilationRate: 2, padding: 'same', useBias: false }, [2, 12, 12, 3]),
  // DepthwiseConv2D: depth multiplier 1 and 2, strides 1 and 2, dilation 2.
  depthwise({ kernelSize: 3, padding: 'same' }, [2, 9, 9, 4]),
  depthwise({ kernelSize: 3, strides: 2, padding: 'same' }, [2, 8, 8, 4], 'TF pads 0 before, 1 after'),
  depthwise({ kernelSize: 3, strides: 2, padding: 'valid' }, [2, 9, 9, 4], "MobileNetV2's and EfficientNet's after ZeroPadding2D"),
  depthwise({ kernelSize: 3, depthMultiplier: 2, padding: 'valid' }, [2, 8, 10, 3]),
  depthwise({ kernelSize: 5, depthMultiplier: 2, strides: 2, padding: 'same' }, [2, 11, 11, 3]),
  depthwise({ kernelSize: 5, padding: 'same', useBias: false }, [2, 7, 7, 4], "EfficientNet's 5x5"),
  { ...depthwise({ kernelSize: 3, dilationRate: 2, padding: 'same' }, [2, 10, 10, 4]) },
  { ...depthwise({ kernelSize: 3, depthMultiplier: 2, dilationRate: 2, padding: 'valid' }, [2, 11, 11, 3]) },
  depthwise({ kernelSize: 3, dilationRate: 2, padding: 'same', passDilation: true }, [2, 10, 10, 4]),
  depthwise({ kernelSize: 3, depthMultiplier: 2, dilationRate: 2, padding: 'valid', passDilation: true }, [2, 11, 11, 3]),
  // SeparableConv2D: a depthwise, then a 1x1 convolution.
  separable({ filters: 8, kernelSize: 3, padding: 'same', useBias: false }, [2, 9, 9, 4], "Xception's"),
  separable({ filters: 4, kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same' }, [2, 10, 10, 3]),
  separable({ filters: 6, kernelSize: 3, dilationRate: 2, padding: 'valid' }, [2, 11, 11, 4]),
  // MaxPooling2D, on integer values (ties) from -2 to 2 (windows of negatives next to the padding).
  // tfjs' own wasm MaxPoolGrad gets the overlapping and padded ones wrong (a tie's gradient to the
  // last maximum, padded windows of negatives lost): the library's kernel replaces it.
  pool('maxPooling2d', 2, 2, 'valid', [2, 8, 8, 3], 'windows that tile the input'),
  pool('maxPooling2d', 2, 2, 'valid', [2, 9, 7, 3], 'the last row and column in no window'),
  pool('maxPooling2d', 2, 2, 'same', [2, 8, 8, 3], 'no padding needed'),
  pool('maxPooling2d', 2, 2, 'same', [2, 9, 7, 3], 'TF pads 0 before, 1 after'),
  pool('maxPooling2d', 3, 2, 'valid', [2, 11, 11, 3], "DenseNet's pool1 and ResNet's: overlapping windows"),
  pool('maxPooling2d', 3, 2, 'same', [2, 10, 10, 3], "Xception's: TF pads 0 before, 1 after"),
  pool('maxPooling2d', 3, 2, 'same', [2, 11, 9, 3], 'TF pads 1 before, 1 after'),
  pool('maxPooling2d', 3, 1, 'same', [2, 7, 8, 3], 'every position in up to nine windows'),
  pool('maxPooling2d', 2, 3, 'valid', [2, 10, 11, 3], 'windows that skip rows and columns'),
  { ...pool('maxPooling2d', 2, 2, 'valid', [2, 8, 10, 4]), values: 'normal', note: "the episode-4 CNN's, no ties" },
  { ...pool('maxPooling2d', 3, 2, 'valid', [2, 11, 11, 3]), values: 'normal', note: 'overlapping windows, no ties' },
  // AveragePooling2D: TF divides by the number of positions inside the input.
  pool('averagePooling2d', 2, 2, 'valid', [2, 8, 8, 3], "DenseNet's transitions"),
  pool('averagePooling2d', 2, 2, 'valid', [2, 9, 9, 3]),
  { ...pool('averagePooling2d', 3, 1, 'same', [2, 7, 9, 3], "InceptionV3's: the padding is not counted") },
  { ...pool('averagePooling2d', 2, 2, 'same', [2, 9, 7, 3], 'TF pads 0 before, 1 after, not counted') },
  { layer: { kind: 'globalAveragePooling2d' }, inputs: [[2, 5, 6, 4]] },
  { layer: { kind: 'globalMaxPooling2d' }, inputs: [[2, 5, 6, 4]] },
  // BatchNormalization: batch statistics in training mode (the gradient flows through them too).
  { layer: { kind: 'batchNormalization', training: true }, inputs: [[4, 5, 5, 3]] },
  { layer: { kind: 'batchNormalization', training: true }, inputs: [[6, 5]], note: "the head's, on features" },
  { layer: { kind: 'batchNormalization', training: false }, inputs: [[2, 5, 5, 3]] },
  {
    layer: {
      kind: 'zeroPadding2d',
      padding: [
        [1, 1],
        [1, 1],
      ],
    },
    inputs: [[2, 5, 5, 3]],
  },
  {
    layer: {
      kind: 'zeroPadding2d',
      padding: [
        [0, 1],
        [0, 1],
      ],
    },
    inputs: [[2, 5, 6, 3]],
  },
  {
    layer: {
      kind: 'zeroPadding2d',
      padding: [
        [3, 3],
        [3, 3],
      ],
    },
    inputs: [[2, 4, 4, 3]],
  },
  {
    layer: {
      kind: 'zeroPadding2d',
      padding: [
        [1, 2],
        [1, 2],
      ],
    },
    inputs: [[2, 5, 4, 3]],
  },
  {
    layer: { kind: 'concatenate' },
    inputs: [
      [2, 5, 5, 3],
      [2, 5, 5, 4],
    ],
  },
  {
    layer: { kind: 'add' },
    inputs: [
      [2, 5, 5, 3],
      [2, 5, 5, 3],
    ],
  },
  {
    layer: { kind: 'multiply' },
    inputs: [
      [2, 5, 5, 4],
      [2, 1, 1, 4],
    ],
    note: "EfficientNet's squeeze-and-excite, broadcast",
  },
  { layer: { kind: 'dense', units: 5 }, inputs: [[3, 7]] },
  { layer: { kind: 'flatten' }, inputs: [[2, 3, 4, 5]] },
  { layer: { kind: 'reshape', targetShape: [1, 1, 4] }, inputs: [[2, 4]] },
  ...(['relu', 'relu6', 'elu', 'sigmoid', 'tanh', 'softmax', 'swish'] as const).map(activation),
  { layer: { kind: 'rescaling', scale: 1 / 255, offset: -0.5 }, inputs: [[2, 4, 4, 3]] },
  { layer: { kind: 'normalization', mean: [0.485, 0.456, 0.406], variance: [0.052, 0.05, 0.051] }, inputs: [[2, 4, 4, 3]] },
  // The library's Upscale: bilinear with half-pixel centres, then zero padding.
  { layer: { kind: 'upscale', height: 20, width: 20 }, inputs: [[2, 8, 8, 3]] },
  { layer: { kind: 'upscale', height: 20, width: 20 }, inputs: [[2, 6, 10, 2]], note: 'resized to 12x20, 4 rows of padding each side' },
  { layer: { kind: 'upscale', height: 20, width: 30 }, inputs: [[1, 8, 8, 3]], note: 'resized to 20x20, 5 columns of padding each side' },
];

const TOLERANCE = 1e-4;

function title(c: Case): string {
  const l = c.layer;
  const shape = c.inputs.map((s) => s.join('x')).join(' and ');
  const k = (n: number) => `${n}x${n}`;
  let what: string;
  switch (l.kind) {
    case 'conv2d':
    case 'depthwiseConv2d':
    case 'separableConv2d': {
      const name = { conv2d: 'Conv2D', depthwiseConv2d: 'DepthwiseConv2D', separableConv2d: 'SeparableConv2D' }[l.kind];
      const extra = [
        l.strides && l.strides > 1 ? `strides ${l.strides}` : '',
        l.dilationRate && l.dilationRate > 1 ? `dilation ${l.dilationRate}` : '',
        'depthMultiplier' in l && l.depthMultiplier ? `depth multiplier ${l.depthMultiplier}` : '',
        'filters' in l ? `${c.inputs[0][3]} -> ${l.filters} channels` : '',
        l.useBias === false ? 'no bias' : '',
        'passDilation' in l && l.passDilation ? 'the dilation passed on to tf.depthwiseConv2d' : '',
      ].filter(Boolean);
      what = `${name} ${k(l.kernelSize)} '${l.padding}'${extra.length ? `, ${extra.join(', ')}` : ''}`;
      break;
    }
    case 'maxPooling2d':
    case 'averagePooling2d':
      what = `${l.kind === 'maxPooling2d' ? 'MaxPooling2D' : 'AveragePooling2D'} ${k(l.poolSize)}/${l.strides} '${l.padding}'`;
      break;
    case 'batchNormalization':
      what = `BatchNormalization in ${l.training ? 'training' : 'inference'} mode`;
      break;
    case 'zeroPadding2d':
      what = `ZeroPadding2D ${JSON.stringify(l.padding)}`;
      break;
    case 'dense':
      what = `Dense(${l.units})`;
      break;
    case 'reshape':
      what = `Reshape to [${l.targetShape.join(', ')}]`;
      break;
    case 'activation':
      what = `Activation ${l.activation}`;
      break;
    case 'upscale':
      what = `Upscale to ${l.height}x${l.width}`;
      break;
    default:
      what = l.kind[0].toUpperCase() + l.kind.slice(1).replace(/2d$/, '2D');
  }
  return `${what} on ${shape}${c.note ? ` (${c.note})` : ''}`;
}

/** The file name stem of a case: its title, reduced to letters, digits and underscores. */
const stem = (c: Case) =>
  title(c)
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');

function buildLayer(spec: LayerSpec): tf.layers.Layer {
  const { kind, ...args } = spec as LayerSpec & Record<string, unknown>;
  switch (spec.kind) {
    case 'conv2d':
      return tf.layers.conv2d(args as never);
    case 'depthwiseConv2d':
      return spec.passDilation ? passingDilation(args) : tf.layers.depthwiseConv2d(args as never);
    case 'separableConv2d':
      return tf.layers.separableConv2d(args as never);
    case 'maxPooling2d':
      return tf.layers.maxPooling2d(args as never);
    case 'averagePooling2d':
      return tf.layers.averagePooling2d(args as never);
    case 'globalAveragePooling2d':
      return tf.layers.globalAveragePooling2d({});
    case 'globalMaxPooling2d':
      return tf.layers.globalMaxPooling2d({});
    // The layer's mode is the `training` argument of the call, not a setting of the layer.
    case 'batchNormalization':
      return tf.layers.batchNormalization({});
    case 'zeroPadding2d':
      return tf.layers.zeroPadding2d({ padding: spec.padding });
    case 'concatenate':
      return tf.layers.concatenate({});
    case 'add':
      return tf.layers.add({});
    case 'multiply':
      return tf.layers.multiply({});
    case 'dense':
      return tf.layers.dense({ units: spec.units });
    case 'flatten':
      return tf.layers.flatten({});
    case 'reshape':
      return tf.layers.reshape({ targetShape: spec.targetShape });
    // MobileNetV2's ReLU(6.0) is a layer of its own, Keras' ReLU(max_value=6).
    case 'activation':
      return spec.activation === 'relu6' ? tf.layers.reLU({ maxValue: 6 }) : tf.layers.activation({ activation: spec.activation });
    case 'rescaling':
      return rescaling({ scale: spec.scale, offset: spec.offset });
    case 'normalization':
      return normalization({ mean: spec.mean, variance: spec.variance });
    case 'upscale':
      return upscale({ height: spec.height, width: spec.width });
  }
  throw new Error(`no layer for ${kind}`);
}

/** tfjs-layers' DepthwiseConv2D whose call passes its dilation on, as Keras' does (see DROPS_DILATION). */
function passingDilation(args: Record<string, unknown>): tf.layers.Layer {
  const { passDilation, ...config } = args;
  const layer = tf.layers.depthwiseConv2d(config as never);
  const fields = layer as unknown as { depthwiseKernel: tf.LayerVariable; bias: tf.LayerVariable | null; call: unknown };
  const { strides = 1, padding, dilationRate = 1 } = config as Convolution;
  fields.call = (inputs: tf.Tensor | tf.Tensor[]) =>
    tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const y = tf.depthwiseConv2d(x, fields.depthwiseKernel.read() as tf.Tensor4D, strides, padding, 'NHWC', dilationRate);
      return fields.bias ? tf.add(y, fields.bias.read()) : y;
    });
  return layer;
}

type Values = { data: Float32Array; shape: number[] };
interface Reference {
  inputs: Values[];
  weights: Values[];
  r: Values;
  /** The torch results: 'y' (the output), 'x0', 'w1', ... (gradients). */
  expected: Map<string, Float32Array>;
}

interface Outcome {
  values: Map<string, Float32Array>;
  /** Tensors left over after the case: must be 0. */
  leaked: number;
}

/**
 * On `backend`: builds the layer, gives it the reference's weights, and returns its output and the
 * gradients of sum(layer(x) * r) with respect to the inputs and the trainable weights (by the
 * reference's names: x0, x1 for the inputs, w<i> for weight i of layer.getWeights()).
 */
async function gradientsOn(backend: 'wasm' | 'cpu', c: Case, ref: Reference): Promise<Outcome> {
  assert.ok(await tf.setBackend(backend));
  const start = tf.memory().numTensors;
  const layer = buildLayer(c.layer);
  // Variables, so that variableGrads differentiates with respect to the inputs too.
  const xs = ref.inputs.map((v) => tf.tidy(() => tf.variable(tf.tensor(v.data, v.shape))));
  const input = () => (xs.length === 1 ? xs[0] : xs);
  // Builds the weights. In a tidy, as a model runs its layers: tfjs-layers' ReLU(maxValue) leaves
  // its intermediate relu behind when applied eagerly.
  tf.tidy(() => void layer.apply(input()));
  tf.tidy(() => layer.setWeights(ref.weights.map((w) => tf.tensor(w.data, w.shape))));
  const r = tf.tensor(ref.r.data, ref.r.shape);
  const kwargs = c.layer.kind === 'batchNormalization' ? { training: c.layer.training } : {};
  const trainable = layer.trainableWeights.map((w) => w.read() as tf.Variable);
  const names = new Map<string, string>(xs.map((x, i) => [x.name, `x${i}`]));
  layer.trainableWeights.forEach((w, i) => names.set(trainable[i].name, `w${layer.weights.indexOf(w)}`));
  let output: tf.Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const y = layer.apply(input(), kwargs) as tf.Tensor;
    output = tf.keep(y);
    return tf.sum(tf.mul(y, r));
  }, [...xs, ...trainable]);
  const values = new Map<string, Float32Array>([['y', output!.dataSync() as Float32Array]]);
  for (const [name, g] of Object.entries(grads)) values.set(names.get(name)!, g.dataSync() as Float32Array);
  tf.dispose([value, output!, r, ...Object.values(grads), ...xs]);
  layer.dispose();
  return { values, leaked: tf.memory().numTensors - start };
}

function loadReference(dir: string, c: Case, manifest: { weights: number; grads: string[] }): Reference {
  const read = (suffix: string) => readNpy(path.join(dir, `${stem(c)}.${suffix}.npy`));
  const expected = new Map<string, Float32Array>([['y', read('y').data]]);
  for (const g of manifest.grads) expected.set(g, read(`grad.${g}`).data);
  return {
    inputs: c.inputs.map((_, i) => read(`x${i}`)),
    weights: Array.from({ length: manifest.weights }, (_, i) => read(`w${i}`)),
    r: read('r'),
    expected,
  };
}

const fmt = (e: number) => e.toExponential(1);

describe('gradients on the wasm backend match tfjs cpu and torch (float64)', () => {
  const missing = torchMissing();
  let dir = '';
  let manifest: Record<string, { weights: number; grads: string[] }> = {};
  /** The worst relative error against torch, per layer kind, for the summary. */
  const worst = new Map<string, number>();

  before(async () => {
    assert.equal((await ready()).backend, 'wasm', 'these tests are about the wasm backend');
    if (missing) return;
    const cases = CASES.map((c) => ({ name: stem(c), layer: c.layer, inputs: c.inputs, values: c.values ?? 'normal' }));
    assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, 'every case has its own title');
    dir = runReference('gradients_reference.py', 'gradients', [JSON.stringify(cases)]);
    manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  });

  after(async () => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    await tf.setBackend('wasm');
    if (worst.size) console.log(`worst relative error against torch: ${[...worst].map(([k, e]) => `${k} ${fmt(e)}`).join(', ')}`);
  });

  test("wasm has the library's Conv2DBackpropFilter (tfjs 4.22's wasm has none) and a Conv2D gradient runs on it", async () => {
    await tf.setBackend('wasm');
    assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm'), 'registerWasmGradientKernels was not applied when the wasm backend was chosen');
    assert.ok(registerWasmGradientKernels().includes('Conv2DBackpropFilter'), 'the kernel is the one the library added');
    const g = tf.tidy(() =>
      tf.grad((f: tf.Tensor) => tf.sum(tf.conv2d(tf.ones([1, 3, 3, 1]) as tf.Tensor4D, f as tf.Tensor4D, 1, 'valid')))(
        tf.ones([2, 2, 1, 1]),
      ),
    );
    // Each tap of a 2x2 filter meets four of the nine ones.
    assert.deepEqual(Array.from(g.dataSync()), [4, 4, 4, 4]);
    g.dispose();
  });

  for (const c of CASES) {
    test(`${title(c)}: the same gradients on wasm, cpu and torch, and no tensor left`, { skip: c.skip }, async (t) => {
      if (missing) return t.skip(missing);
      const ref = loadReference(dir, c, manifest[stem(c)]);
      const wasm = await gradientsOn('wasm', c, ref);
      const cpu = await gradientsOn('cpu', c, ref);
      assert.equal(wasm.leaked, 0, 'tensors left on wasm');
      assert.equal(cpu.leaked, 0, 'tensors left on cpu');
      assert.deepEqual([...wasm.values.keys()].sort(), [...ref.expected.keys()].sort(), 'a gradient for every input and trainable weight');
      const errors: string[] = [];
      for (const [name, expected] of ref.expected) {
        const vsTorch = relativeError(wasm.values.get(name)!, expected);
        const vsCpu = relativeError(wasm.values.get(name)!, cpu.values.get(name)!);
        const cpuVsTorch = relativeError(cpu.values.get(name)!, expected);
        worst.set(c.layer.kind, Math.max(worst.get(c.layer.kind) ?? 0, vsTorch));
        t.diagnostic(`${name}: wasm vs torch ${fmt(vsTorch)}, wasm vs cpu ${fmt(vsCpu)}, cpu vs torch ${fmt(cpuVsTorch)}`);
        if (!(vsTorch < TOLERANCE && vsCpu < TOLERANCE)) {
          errors.push(`${name}: wasm vs torch ${fmt(vsTorch)}, wasm vs cpu ${fmt(vsCpu)}, cpu vs torch ${fmt(cpuVsTorch)}`);
        }
      }
      assert.deepEqual(errors, [], `relative errors above ${TOLERANCE}`);
    });
  }

  test('Dropout passes the gradient r * mask / (1 - rate) through exactly what its forward pass kept', async () => {
    // The random number generators of tfjs and torch differ: checked against its own forward pass.
    await tf.setBackend('wasm');
    const start = tf.memory().numTensors;
    const rate = 0.3;
    const layer = tf.layers.dropout({ rate });
    const x = tf.tidy(() => tf.variable(tf.randomNormal([4, 8, 8, 3], 0, 1, 'float32', 1)));
    const r = tf.randomNormal([4, 8, 8, 3], 0, 1, 'float32', 2);
    let output: tf.Tensor | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const y = layer.apply(x, { training: true }) as tf.Tensor;
      output = tf.keep(y);
      return tf.sum(tf.mul(y, r));
    }, [x]);
    const [xs, rs, ys, gs] = [x, r, output!, grads[x.name]].map((t) => t.dataSync());
    let kept = 0;
    for (let i = 0; i < xs.length; i++) {
      const mask = ys[i] !== 0 ? 1 : 0;
      kept += mask;
      assert.ok(Math.abs(ys[i] - (xs[i] * mask) / (1 - rate)) <= 1e-6 * Math.abs(ys[i]), `y[${i}] is x * mask / (1 - rate)`);
      assert.ok(
        Math.abs(gs[i] - (rs[i] * mask) / (1 - rate)) <= 1e-6 * Math.abs(gs[i]) + 1e-7,
        `gradient[${i}] = ${gs[i]}, r * mask / (1 - rate) = ${(rs[i] * mask) / (1 - rate)}`,
      );
    }
    // 768 values, each kept with probability 0.7.
    assert.ok(kept > 0.6 * xs.length && kept < 0.8 * xs.length, `kept ${kept} of ${xs.length}`);
    tf.dispose([value, output!, r, x, ...Object.values(grads)]);
    layer.dispose();
    assert.equal(tf.memory().numTensors, start, 'no tensor left');
  });
});
