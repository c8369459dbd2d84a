/**
 * Convolution training on TensorFlow.js' wasm backend (4.22), which lacks the gradient kernels
 * Conv2DBackpropFilter (Conv2D, SeparableConv2D's pointwise step, fused convolutions) and
 * DepthwiseConv2dNative{BackpropFilter, BackpropInput} (DepthwiseConv2D, SeparableConv2D), and
 * whose Conv2DBackpropInput and MaxPoolGrad are plain loops, several times slower than the
 * forward pass (and MaxPoolGrad's gives a tie's gradient to the last maximum, and loses it where
 * 'same' padding meets values below zero).
 *
 * Each kernel here is composed of kernels the wasm backend has (Conv2D on XNNPACK, PadV2, Slice,
 * Transpose, Multiply, Sum, AddN, ...), called directly as the backend's own kernels call each
 * other: the work runs in wasm's compiled code, no JavaScript loop touches an element (a slice
 * copies whole rows with TypedArray.set).
 *
 * - Conv2D, filter gradient: one forward convolution with batch and channels swapped;
 * - Conv2D, input gradient: one forward convolution of dy (zeros between strides, padded) with
 *   the filter rotated by 180 degrees (the transpose of the forward convolution);
 * - depthwise, filter gradient: per kernel tap, the input window times dy, summed over batch
 *   and positions;
 * - depthwise, input gradient: per kernel tap, dy times the tap, spread back to the input
 *   positions it came from, summed and cropped;
 * - max pooling: the first maximum of each window takes dy; windows that do not overlap in a few
 *   whole-tensor passes, others (overlapping, padded) per window tap, as the depthwise input
 *   gradient spreads dy back.
 *
 * Design choices were measured on the episode-4 CNN (see the bench): wasm's StridedSlice, its
 * BatchMatMul with a transposed operand, Equal with broadcasting, and Transpose of large or
 * rank-5+ permutations are slow paths, and are avoided.
 */
import * as tf from '@tensorflow/tfjs';
import { gatherRows } from './wasm-row-gather';

type TensorInfo = tf.TensorInfo;
type Attrs = Record<string, unknown>;
type KernelArgs = Parameters<tf.KernelFunc>[0];

interface WasmBackendLike {
  disposeData(dataId: object, force?: boolean): boolean;
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

/** Runs the wasm backend's own kernel `name`. */
function run(backend: WasmBackendLike, name: string, inputs: Record<string, TensorInfo | TensorInfo[]>, attrs: Attrs = {}): TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`tslab-dl: the wasm backend has no '${name}' kernel, which the convolution gradients are built from.`);
  return kernel.kernelFunc({ inputs: inputs as never, backend: backend as never, attrs: attrs as never }) as TensorInfo;
}

/** Intermediate results, freed together once the kernel has its output. */
class Scratch {
  private readonly made: TensorInfo[] = [];
  constructor(readonly backend: WasmBackendLike) {}
  run(name: string, inputs: Record<string, TensorInfo | TensorInfo[]>, attrs: Attrs = {}): TensorInfo {
    const out = run(this.backend, name, inputs, attrs);
    this.made.push(out);
    return out;
  }
  reshape(x: TensorInfo, shape: number[]): TensorInfo {
    return this.run('Reshape', { x }, { shape });
  }
  /**
   * Part of a float32 [A, B, C] tensor, copied row by row straight from wasm's heap (TypedArray.set,
   * as wasm's own Slice copies, but that one first copies the whole input out of the heap: most of
   * its time for a small part of a large tensor).
   */
  slice3(x: TensorInfo, begin: [number, number, number], size: [number, number, number]): TensorInfo {
    const out = this.backend.makeOutput(size, 'float32');
    this.made.push(out);
    // Views made after the output: making it may grow (and move) the heap.
    const from = this.backend.typedArrayFromHeap(x);
    const to = this.backend.typedArrayFromHeap(out);
    const [, rows, width] = x.shape;
    const whole = begin[2] === 0 && size[2] === width;
    let at = 0;
    for (let i = begin[0]; i < begin[0] + size[0]; i++) {
      if (whole) {
        const start = (i * rows + begin[1]) * width;
        to.set(from.subarray(start, start + size[1] * width), at);
        at += size[1] * width;
        continue;
      }
      for (let j = begin[1]; j < begin[1] + size[1]; j++) {
        const start = (i * rows + j) * width + begin[2];
        to.set(from.subarray(start, start + size[2]), at);
        at += size[2];
      }
    }
    return out;
  }
  /** Frees everything made but `keep`. */
  dispose(keep: TensorInfo): void {
    for (const t of this.made) if (t !== keep) this.backend.disposeData(t.dataId);
  }
}

interface Geometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  filterHeight: number;
  filterWidth: number;
  top: number;
  left: number;
}

function geometry(info: tf.backend_util.Conv2DInfo): Geometry {
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
}

/** The padded extent that every kernel offset's strided window fits in. */
function paddedExtent(g: Geometry): { height: number; width: number } {
  return {
    height: Math.max((g.outHeight - 1) * g.strideHeight + (g.filterHeight - 1) * g.dilationHeight + 1, g.top + g.inHeight),
    width: Math.max((g.outWidth - 1) * g.strideWidth + (g.filterWidth - 1) * g.dilationWidth + 1, g.left + g.inWidth),
  };
}

/** The input padded as the forward convolution saw it (`value`, zeros by default, top/left, and enough bottom/right). */
function padInput(s: Scratch, x: TensorInfo, g: Geometry, value = 0): TensorInfo {
  const { height, width } = paddedExtent(g);
  const paddings = [
    [0, 0],
    [g.top, height - g.top - g.inHeight],
    [g.left, width - g.left - g.inWidth],
    [0, 0],
  ];
  return s.run('PadV2', { x }, { paddings, constantValue: value });
}

/** The input values that kernel tap (i, j) meets at every output position: [N, OH, OW, C]. */
function tapWindow(s: Scratch, padded: TensorInfo, g: Geometry, i: number, j: number): TensorInfo {
  const y = i * g.dilationHeight;
  const x = j * g.dilationWidth;
  // Slice when nothing is skipped: wasm's StridedSlice is several times slower.
  if (g.strideHeight === 1 && g.strideWidth === 1) {
    return s.run('Slice', { x: padded }, { begin: [0, y, x, 0], size: [g.batch, g.outHeight, g.outWidth, g.inChannels] });
  }
  return s.run(
    'StridedSlice',
    { x: padded },
    {
      begin: [0, y, x, 0],
      end: [g.batch, y + (g.outHeight - 1) * g.strideHeight + 1, x + (g.outWidth - 1) * g.strideWidth + 1, g.inChannels],
      strides: [1, g.strideHeight, g.strideWidth, 1],
      beginMask: 0,
      endMask: 0,
      ellipsisMask: 0,
      newAxisMask: 0,
      shrinkAxisMask: 0,
    },
  );
}

/**
 * The filter gradient as one forward convolution, which wasm runs on XNNPACK: the batch becomes
 * the channels and the channels the batch: xᵀ [CI, H', W', N] convolved with dyᵀ [OH, OW, N, CO]
 * as the filter (dilated by the forward stride) gives [CI, KH, KW, CO]. (Measured in training the
 * episode-4 CNN, faster than im2col with one matrix product, or one product per kernel tap.)
 */
function filterGradientAsConvolution(s: Scratch, padded: TensorInfo, dy: TensorInfo, g: Geometry, filterShape: number[]): TensorInfo {
  const height = (g.outHeight - 1) * g.strideHeight + g.filterHeight;
  const width = (g.outWidth - 1) * g.strideWidth + g.filterWidth;
  const framed = s.run('Slice', { x: padded }, { begin: [0, 0, 0, 0], size: [g.batch, height, width, g.inChannels] });
  const images = s.run('Transpose', { x: framed }, { perm: [3, 1, 2, 0] });
  const kernel = s.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
  const out = s.run(
    'Conv2D',
    { x: images, filter: kernel },
    {
      strides: [1, 1],
      pad: 'valid',
      dataFormat: 'NHWC',
      dilations: [g.strideHeight, g.strideWidth],
      dimRoundingMode: undefined,
    },
  );
  return s.reshape(s.run('Transpose', { x: out }, { perm: [1, 2, 0, 3] }), filterShape);
}

/** dy with stride - 1 zeros between its rows and columns: [N, (OH-1)*sh+1, (OW-1)*sw+1, C]. */
function spreadByStride(s: Scratch, dy: TensorInfo, g: Geometry, channels: number): TensorInfo {
  if (g.strideHeight === 1 && g.strideWidth === 1) return dy;
  const gridded = s.reshape(
    s.run(
      'PadV2',
      { x: s.reshape(dy, [g.batch, g.outHeight, 1, g.outWidth, 1, channels]) },
      {
        paddings: [
          [0, 0],
          [0, 0],
          [0, g.strideHeight - 1],
          [0, 0],
          [0, g.strideWidth - 1],
          [0, 0],
        ],
        constantValue: 0,
      },
    ),
    [g.batch, g.outHeight * g.strideHeight, g.outWidth * g.strideWidth, channels],
  );
  return s.run(
    'Slice',
    { x: gridded },
    {
      begin: [0, 0, 0, 0],
      size: [g.batch, (g.outHeight - 1) * g.strideHeight + 1, (g.outWidth - 1) * g.strideWidth + 1, channels],
    },
  );
}

function conv2DBackpropFilter({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
  if (dataFormat === 'NCHW') throw new Error('tslab-dl: Conv2DBackpropFilter on wasm supports channels-last (NHWC) data only.');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad as never,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const g = geometry(info);
  const s = new Scratch(backend as unknown as WasmBackendLike);
  let result: TensorInfo | undefined;
  try {
    result = filterGradientAsConvolution(s, padInput(s, x, g), dy, g, filterShape);
    return result;
  } finally {
    s.dispose(result as TensorInfo);
  }
}

/**
 * The input gradient of Conv2D as one forward convolution, which wasm runs on XNNPACK (its own
 * Conv2DBackpropInput is a plain loop, about 9x slower): dy spread out with zeros between strides,
 * padded by (kernel - 1 - forward padding), convolved with the filter rotated by 180 degrees and
 * its channel axes swapped (the transpose of the forward convolution).
 */
function conv2DBackpropInput({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    inputShape: [number, number, number, number];
  };
  if (dataFormat === 'NCHW') throw new Error('tslab-dl: Conv2DBackpropInput on wasm supports channels-last (NHWC) data only.');
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad as never,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const g = geometry(info);
  const outChannels = info.outChannels;
  const s = new Scratch(backend as unknown as WasmBackendLike);
  let result: TensorInfo | undefined;
  try {
    const spread = spreadByStride(s, dy, g, outChannels);
    // Padded (or cut) so that a valid convolution with the k x k filter gives H x W.
    const before = [g.filterHeight - 1 - g.top, g.filterWidth - 1 - g.left];
    const length = [spread.shape[1], spread.shape[2]];
    const wanted = [g.inHeight + g.filterHeight - 1, g.inWidth + g.filterWidth - 1];
    const cutBefore = before.map((b) => Math.max(0, -b));
    const after = [0, 1].map((k) => wanted[k] - Math.max(0, before[k]) - (length[k] - cutBefore[k]));
    let framed = spread;
    if (cutBefore[0] > 0 || cutBefore[1] > 0 || after[0] < 0 || after[1] < 0) {
      const keep = [0, 1].map((k) => length[k] - cutBefore[k] + Math.min(0, after[k]));
      framed = s.run('Slice', { x: framed }, { begin: [0, cutBefore[0], cutBefore[1], 0], size: [g.batch, keep[0], keep[1], outChannels] });
    }
    framed = s.run(
      'PadV2',
      { x: framed },
      {
        paddings: [
          [0, 0],
          [Math.max(0, before[0]), Math.max(0, after[0])],
          [Math.max(0, before[1]), Math.max(0, after[1])],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
    const rotated = s.run('Transpose', { x: s.run('Reverse', { x: filter }, { dims: [0, 1] }) }, { perm: [0, 1, 3, 2] });
    result = s.run(
      'Conv2D',
      { x: framed, filter: rotated },
      { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined },
    );
    return result;
  } finally {
    s.dispose(result as TensorInfo);
  }
}

interface DepthwiseAttrs {
  strides: [number, number] | number;
  dilations: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function depthwiseInfo(inputShape: number[], filterShape: number[], a: DepthwiseAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    inputShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    a.dilations,
    a.pad as never,
    a.dimRoundingMode,
    true,
  );
}

function depthwiseBackpropFilter({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const a = attrs as unknown as DepthwiseAttrs & { filterShape: [number, number, number, number] };
  const info = depthwiseInfo(x.shape, a.filterShape, a);
  const g = geometry(info);
  const multiplier = a.filterShape[3];
  const s = new Scratch(backend as unknown as WasmBackendLike);
  let result: TensorInfo | undefined;
  try {
    const padded = padInput(s, x, g);
    const grads = s.reshape(dy, [g.batch, g.outHeight, g.outWidth, g.inChannels, multiplier]);
    const taps: TensorInfo[] = [];
    for (let i = 0; i < g.filterHeight; i++) {
      for (let j = 0; j < g.filterWidth; j++) {
        const window = s.reshape(tapWindow(s, padded, g, i, j), [g.batch, g.outHeight, g.outWidth, g.inChannels, 1]);
        const product = s.run('Multiply', { a: window, b: grads });
        taps.push(s.run('Sum', { x: product }, { axis: [0, 1, 2], keepDims: false }));
      }
    }
    const stacked = taps.length === 1 ? taps[0] : s.run('Pack', taps as never, { axis: 0 });
    result = s.reshape(stacked, a.filterShape);
    return result;
  } finally {
    s.dispose(result as TensorInfo);
  }
}

function depthwiseBackpropInput({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = attrs as unknown as DepthwiseAttrs & { inputShape: [number, number, number, number] };
  const info = depthwiseInfo(a.inputShape, filter.shape, a);
  const g = geometry(info);
  const multiplier = filter.shape[3];
  const { height, width } = paddedExtent(g);
  const s = new Scratch(backend as unknown as WasmBackendLike);
  let result: TensorInfo | undefined;
  try {
    const grads = s.reshape(dy, [g.batch, g.outHeight, g.outWidth, g.inChannels, multiplier]);
    const spread: TensorInfo[] = [];
    for (let i = 0; i < g.filterHeight; i++) {
      for (let j = 0; j < g.filterWidth; j++) {
        const tap = s.reshape(s.run('Slice', { x: filter }, { begin: [i, j, 0, 0], size: [1, 1, g.inChannels, multiplier] }), [
          g.inChannels,
          multiplier,
        ]);
        // What tap (i, j) passes back to the input value each output position read: [N, OH, OW, C].
        const back = s.run('Sum', { x: s.run('Multiply', { a: grads, b: tap }) }, { axis: [4], keepDims: false });
        spread.push(placeTap(s, back, g, i, j, height, width));
      }
    }
    const summed = spread.length === 1 ? spread[0] : s.run('AddN', spread as never);
    result = s.run('Slice', { x: summed }, { begin: [0, g.top, g.left, 0], size: [g.batch, g.inHeight, g.inWidth, g.inChannels] });
    return result;
  } finally {
    s.dispose(result as TensorInfo);
  }
}

/**
 * `back` [N, OH, OW, C], what kernel tap (i, j) passes back from each output position, placed at
 * the positions of the padded input (height x width) that the tap read.
 */
function placeTap(s: Scratch, back: TensorInfo, g: Geometry, i: number, j: number, height: number, width: number): TensorInfo {
  // Rows of the strided grid that output positions map back to: OH * stride covers them all.
  const gridHeight = g.outHeight * g.strideHeight;
  const gridWidth = g.outWidth * g.strideWidth;
  // Zeros between strides: [N, OH, 1, OW, 1, C] padded to [N, OH, sh, OW, sw, C].
  const gridded = s.reshape(
    s.run(
      'PadV2',
      { x: s.reshape(back, [g.batch, g.outHeight, 1, g.outWidth, 1, g.inChannels]) },
      {
        paddings: [
          [0, 0],
          [0, 0],
          [0, g.strideHeight - 1],
          [0, 0],
          [0, g.strideWidth - 1],
          [0, 0],
        ],
        constantValue: 0,
      },
    ),
    [g.batch, gridHeight, gridWidth, g.inChannels],
  );
  // Shifted to where tap (i, j) reads in the padded input.
  const y = i * g.dilationHeight;
  const x = j * g.dilationWidth;
  return s.run(
    'PadV2',
    { x: cropTo(s, gridded, height - y, width - x, g) },
    {
      paddings: [
        [0, 0],
        [y, Math.max(0, height - y - gridHeight)],
        [x, Math.max(0, width - x - gridWidth)],
        [0, 0],
      ],
      constantValue: 0,
    },
  );
}

/** `t` cut to at most `height` x `width` (positions past the padded input get no gradient). */
function cropTo(s: Scratch, t: TensorInfo, height: number, width: number, g: Geometry): TensorInfo {
  const [, h, w] = t.shape;
  if (h <= height && w <= width) return t;
  return s.run('Slice', { x: t }, { begin: [0, 0, 0, 0], size: [g.batch, Math.min(h, height), Math.min(w, width), g.inChannels] });
}

/**
 * MaxPoolGrad with TensorFlow's semantics: the first position (row by row, left to right) holding
 * a window's maximum gets the window's dy, as TensorFlow's argmax-based gradient does on ties, and
 * padding never holds a maximum. Windows that do not overlap (pool size = stride, no padding
 * before, as Keras' MaxPooling2D() defaults give) take a few whole-tensor passes, the windows as
 * a last axis; others go per window tap ({@link maxPoolGradByTaps}). wasm's own kernel is not
 * used: on ties it gives dy to the last maximum, and where 'same' pads a window of values below
 * zero it loses the window's dy.
 */
function maxPoolGrad(args: KernelArgs): TensorInfo {
  const { dy, input, output } = args.inputs as { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as {
    filterSize: number | Pair2;
    strides: number | Pair2;
    pad: 'valid' | 'same' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const [ph, pw] = [info.filterHeight, info.filterWidth];
  const fast =
    ph === info.strideHeight &&
    pw === info.strideWidth &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    info.outHeight * ph <= info.inHeight &&
    info.outWidth * pw <= info.inWidth;
  if (!fast) return maxPoolGradByTaps(args.backend as unknown as WasmBackendLike, input, dy, output, info);
  const [n, h, w, c] = input.shape;
  const [oh, ow] = [info.outHeight, info.outWidth];
  const length = n * oh * ow * c;
  const s = new Scratch(args.backend as unknown as WasmBackendLike);
  let result: TensorInfo | undefined;
  try {
    const covered =
      oh * ph === h && ow * pw === w ? input : s.run('Slice', { x: input }, { begin: [0, 0, 0, 0], size: [n, oh * ph, ow * pw, c] });
    // Window position first: [pw, ph, N*OH, OW, C], so that row (j * ph + i) holds value (i, j) of
    // every window, laid out like the output. Two rank-3 transposes: wasm's Transpose is fast for
    // those and slow (about 100x) for a rank-5 or 6 permutation that moves an inner axis first.
    const rowsFirst = s.run('Transpose', { x: s.reshape(covered, [n * oh, ph, ow * pw * c]) }, { perm: [1, 0, 2] });
    const byPosition = s.reshape(s.run('Transpose', { x: s.reshape(rowsFirst, [ph * n * oh * ow, pw, c]) }, { perm: [1, 0, 2] }), [
      pw * ph,
      length,
    ]);
    const maxima = s.reshape(output, [length]);
    const grads = s.reshape(dy, [length]);
    let open = s.run('Fill', {}, { shape: [length], value: 1, dtype: 'float32' });
    const parts: TensorInfo[] = new Array(ph * pw);
    // Row by row, left to right in each window: on ties the first in that order takes the
    // gradient, as TensorFlow's and tfjs' CPU kernels do.
    for (let i = 0; i < ph; i++)
      for (let j = 0; j < pw; j++) {
        const k = j * ph + i;
        const values = s.reshape(s.run('Slice', { x: byPosition }, { begin: [k, 0], size: [1, length] }), [length]);
        const isMax = s.run('Cast', { x: s.run('Equal', { a: values, b: maxima }) }, { dtype: 'float32' });
        // Only the first maximum of a window takes the gradient.
        const first = s.run('Multiply', { a: isMax, b: open });
        open = s.run('Sub', { a: open, b: first });
        parts[k] = s.run('Multiply', { a: first, b: grads });
      }
    const stacked = s.run('Pack', parts as never, { axis: 0 });
    const columnsBack = s.run('Transpose', { x: s.reshape(stacked, [pw, ph * n * oh * ow, c]) }, { perm: [1, 0, 2] });
    const back = s.reshape(s.run('Transpose', { x: s.reshape(columnsBack, [ph, n * oh, ow * pw * c]) }, { perm: [1, 0, 2] }), [
      n,
      oh * ph,
      ow * pw,
      c,
    ]);
    result =
      oh * ph === h && ow * pw === w
        ? back
        : s.run(
            'PadV2',
            { x: back },
            {
              paddings: [
                [0, 0],
                [0, h - oh * ph],
                [0, w - ow * pw],
                [0, 0],
              ],
              constantValue: 0,
            },
          );
    return result;
  } finally {
    s.dispose(result as TensorInfo);
  }
}

type Pair2 = [number, number];

/**
 * MaxPoolGrad for any windows (overlapping, or padded by 'same'). The input, padded with -Infinity
 * (the padding never holds a maximum), is seen as a grid of stride phases: padded row
 * y = q * sh + p, so window tap i reads phase p = i % sh at rows q = o + floor(i / sh), a plain
 * slice of that phase's image. Per tap (i, j) in row-major order: where the values equal the
 * window's maximum and no earlier tap took it, dy there, added into its phase's image at the rows
 * and columns it read; the phase images are then interleaved back. Every pass is over the size of
 * the output, no strided slice: measured twice as fast as wasm's own loop on DenseNet's pool1
 * (3x3/2 on 32 x 82 x 82 x 64).
 */
function maxPoolGradByTaps(
  backend: WasmBackendLike,
  input: TensorInfo,
  dy: TensorInfo,
  output: TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): TensorInfo {
  const g = geometry(info);
  const [n, c, oh, ow, sh, sw] = [g.batch, g.inChannels, g.outHeight, g.outWidth, g.strideHeight, g.strideWidth];
  // Rows and columns of each phase image: every window's last tap fits.
  const hq = oh + Math.floor((g.filterHeight - 1) / sh);
  const wq = ow + Math.floor((g.filterWidth - 1) / sw);
  const [height, width] = [hq * sh, wq * sw];
  // 'valid' pooling can leave the last input rows or columns in no window: they get no gradient.
  const keptHeight = Math.min(g.inHeight, height - g.top);
  const keptWidth = Math.min(g.inWidth, width - g.left);
  const s = new Scratch(backend);
  let result: TensorInfo | undefined;
  try {
    const kept =
      keptHeight < g.inHeight || keptWidth < g.inWidth
        ? s.reshape(s.slice3(s.reshape(input, [n, g.inHeight, g.inWidth * c]), [0, 0, 0], [n, keptHeight, keptWidth * c]), [
            n,
            keptHeight,
            keptWidth,
            c,
          ])
        : input;
    const padded = s.run(
      'PadV2',
      { x: kept },
      {
        paddings: [
          [0, 0],
          [g.top, height - g.top - keptHeight],
          [g.left, width - g.left - keptWidth],
          [0, 0],
        ],
        constantValue: -Infinity,
      },
    );
    // Phase (p, r) of the padded input, [N, hq, wq * C]: the phases made the outer axes by two
    // rank-3 transposes (fast on wasm), then each one a contiguous block.
    const rowPhasesFirst = sh === 1 ? padded : s.run('Transpose', { x: s.reshape(padded, [n * hq, sh, width * c]) }, { perm: [1, 0, 2] });
    const phases = Array.from({ length: sh }, (_, p) => {
      const row =
        sh === 1 ? rowPhasesFirst : s.slice3(s.reshape(rowPhasesFirst, [sh, n * hq, width * c]), [p, 0, 0], [1, n * hq, width * c]);
      const columnPhasesFirst = sw === 1 ? row : s.run('Transpose', { x: s.reshape(row, [n * hq * wq, sw, c]) }, { perm: [1, 0, 2] });
      return Array.from({ length: sw }, (_, r) =>
        s.reshape(
          sw === 1 ? columnPhasesFirst : s.slice3(s.reshape(columnPhasesFirst, [sw, n * hq * wq, c]), [r, 0, 0], [1, n * hq * wq, c]),
          [n, hq, wq * c],
        ),
      );
    });
    const maxima = s.reshape(output, [n, oh, ow * c]);
    const grads = s.reshape(dy, [n, oh, ow * c]);
    let open = s.run('Fill', {}, { shape: [n, oh, ow * c], value: 1, dtype: 'float32' });
    const parts: TensorInfo[][] = Array.from({ length: sh * sw }, () => []);
    for (let i = 0; i < g.filterHeight; i++) {
      for (let j = 0; j < g.filterWidth; j++) {
        const [p, a, r, b] = [i % sh, Math.floor(i / sh), j % sw, Math.floor(j / sw)];
        const values = s.slice3(phases[p][r], [0, a, b * c], [n, oh, ow * c]);
        // step(max - value) is 0 at a maximum and 1 elsewhere (the padding's -Infinity included):
        // about 20 times faster on wasm than Equal and Cast.
        const notMax = s.run('Step', { x: s.run('Sub', { a: maxima, b: values }) }, { alpha: 0 });
        const stillOpen = s.run('Multiply', { a: open, b: notMax });
        const first = s.run('Sub', { a: open, b: stillOpen });
        open = stillOpen;
        const back = s.run('Multiply', { a: first, b: grads });
        parts[p * sw + r].push(
          s.run(
            'PadV2',
            { x: back },
            {
              paddings: [
                [0, 0],
                [a, hq - oh - a],
                [b * c, (wq - ow - b) * c],
              ],
              constantValue: 0,
            },
          ),
        );
      }
    }
    // Each phase's sum, [N * hq * wq, C]; a phase no tap reads (pool size < stride) is zeros.
    const sums = parts.map((list) =>
      s.reshape(
        list.length === 0
          ? s.run('Fill', {}, { shape: [n, hq, wq * c], value: 0, dtype: 'float32' })
          : list.length === 1
            ? list[0]
            : s.run('AddN', list as never),
        [n * hq * wq, c],
      ),
    );
    // Interleaved back: columns [N * hq * wq, sw, C] per row phase, then rows [N * hq, sh, wq * sw * C].
    const interleave = (list: TensorInfo[], outer: number, inner: number): TensorInfo =>
      list.length === 1
        ? list[0]
        : s.run('Transpose', { x: s.reshape(s.run('Pack', list as never, { axis: 0 }), [list.length, outer, inner]) }, { perm: [1, 0, 2] });
    const rowPhases = Array.from({ length: sh }, (_, p) =>
      s.reshape(interleave(sums.slice(p * sw, (p + 1) * sw), n * hq * wq, c), [n * hq, width * c]),
    );
    const grid = s.reshape(interleave(rowPhases, n * hq, width * c), [n, height, width * c]);
    const inside = s.reshape(s.slice3(grid, [0, g.top, g.left * c], [n, keptHeight, keptWidth * c]), [n, keptHeight, keptWidth, c]);
    result =
      keptHeight < g.inHeight || keptWidth < g.inWidth
        ? s.run(
            'PadV2',
            { x: inside },
            {
              paddings: [
                [0, 0],
                [0, g.inHeight - keptHeight],
                [0, g.inWidth - keptWidth],
                [0, 0],
              ],
              constantValue: 0,
            },
          )
        : inside;
    return result;
  } finally {
    s.dispose(result as TensorInfo);
  }
}

/**
 * Sum over the leading axes (a bias gradient: dy summed over batch and positions) as a product
 * with a row of ones, on XNNPACK; wasm's Sum first transposes the reduced axes to the end, a slow
 * path for large tensors. Other sums go to wasm's own kernel.
 */
function sum(args: KernelArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
  const leading = axes.length > 0 && axes.length < x.shape.length && axes.every((a, i) => a === i);
  if (!leading || keepDims || x.dtype !== 'float32') return originalSum!.kernelFunc(args) as TensorInfo;
  const rows = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
  const kept = x.shape.slice(axes.length);
  const s = new Scratch(args.backend as unknown as WasmBackendLike);
  let result: TensorInfo | undefined;
  try {
    const ones = s.run('Fill', {}, { shape: [1, 1, rows], value: 1, dtype: 'float32' });
    const product = s.run(
      'BatchMatMul',
      { a: ones, b: s.reshape(x, [1, rows, kept.reduce((a, b) => a * b, 1)]) },
      { transposeA: false, transposeB: false },
    );
    result = s.reshape(product, kept);
    return result;
  } finally {
    s.dispose(result as TensorInfo);
  }
}

/** wasm's own Sum, for the other reductions. */
let originalSum: tf.KernelConfig | undefined;

/**
 * BatchMatMul with a transposed operand (every Dense layer's gradients: x^T . dy and dy . W^T) as an
 * explicit Transpose and a plain product: wasm's transposed path is about 8x slower (measured on
 * the episode-4 CNN's 9800 x 50 layer: 10.2 ms against 1.3 ms).
 */
function batchMatMul(args: KernelArgs): TensorInfo {
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  if (!transposeA && !transposeB) return originalBatchMatMul!.kernelFunc(args) as TensorInfo;
  const s = new Scratch(args.backend as unknown as WasmBackendLike);
  let result: TensorInfo | undefined;
  try {
    const lastTwoSwapped = (t: TensorInfo) => {
      const rank = t.shape.length;
      const perm = Array.from({ length: rank }, (_, i) => i);
      [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
      return s.run('Transpose', { x: t }, { perm });
    };
    const inputs = { a: transposeA ? lastTwoSwapped(a) : a, b: transposeB ? lastTwoSwapped(b) : b };
    result = originalBatchMatMul!.kernelFunc({
      ...args,
      inputs,
      attrs: { ...args.attrs, transposeA: false, transposeB: false },
    }) as TensorInfo;
    return result;
  } finally {
    s.dispose(result as TensorInfo);
  }
}

/** wasm's own BatchMatMul, for the products without a transposed operand. */
let originalBatchMatMul: tf.KernelConfig | undefined;

/** wasm's own GatherV2, for gathers along other axes (lib/backends/wasm-row-gather.ts). */
let originalGatherV2: tf.KernelConfig | undefined;
const gatherV2 = (args: KernelArgs): TensorInfo => gatherRows(args, originalGatherV2!);

const KERNELS: [string, tf.KernelFunc][] = [
  ['BatchMatMul', batchMatMul as unknown as tf.KernelFunc],
  ['GatherV2', gatherV2 as unknown as tf.KernelFunc],
  ['MaxPoolGrad', maxPoolGrad as unknown as tf.KernelFunc],
  ['Sum', sum as unknown as tf.KernelFunc],
  ['Conv2DBackpropFilter', conv2DBackpropFilter as unknown as tf.KernelFunc],
  ['Conv2DBackpropInput', conv2DBackpropInput as unknown as tf.KernelFunc],
  ['DepthwiseConv2dNativeBackpropFilter', depthwiseBackpropFilter as unknown as tf.KernelFunc],
  ['DepthwiseConv2dNativeBackpropInput', depthwiseBackpropInput as unknown as tf.KernelFunc],
];

/**
 * Kernels wasm 4.22 has but runs far slower than the forward convolution these use instead
 * (Conv2DBackpropInput, Sum), or than plain copies (GatherV2 along the first axis), or, MaxPoolGrad,
 * gets wrong on ties and next to 'same' padding.
 */
const REPLACED = new Set(['Conv2DBackpropInput', 'MaxPoolGrad', 'Sum', 'BatchMatMul', 'GatherV2']);
const REGISTERED = Symbol.for('tslab-dl.wasmGradientKernels');

/**
 * Registers the kernels wasm lacks, and the faster ones (idempotent), once the wasm package is
 * loaded; before that it does nothing. For another tfjs version than 4.22 only missing kernels
 * are added: its own may have improved.
 */
export function registerWasmGradientKernels(): string[] {
  const registry = globalThis as unknown as Record<symbol, string[] | undefined>;
  if (registry[REGISTERED]) return registry[REGISTERED]!;
  // The wasm package registers its kernels when it loads, over any registered before: wait for it
  // (lib/backends/selection.ts calls this again once it has loaded the package).
  if (!tf.getKernel('Conv2D', 'wasm')) return [];
  const added: string[] = [];
  for (const [kernelName, kernelFunc] of KERNELS) {
    const existing = tf.getKernel(kernelName, 'wasm');
    if (existing && !(REPLACED.has(kernelName) && tf.version.tfjs === '4.22.0')) continue;
    if (existing) tf.unregisterKernel(kernelName, 'wasm');
    if (kernelName === 'Sum') originalSum = existing;
    if (kernelName === 'BatchMatMul') originalBatchMatMul = existing;
    if (kernelName === 'GatherV2') originalGatherV2 = existing;
    // The setup of the kernel replaced stays: the fallback to it needs its compiled function.
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc, setupFunc: existing?.setupFunc });
    added.push(kernelName);
  }
  registry[REGISTERED] = added;
  return added;
}
