/**
 * Two gradients TensorFlow.js 4.22 computes differently from TensorFlow (on cpu and wasm alike),
 * registered on every backend with TensorFlow's meaning:
 *
 * - AveragePooling2D with 'same' padding: the forward pass divides each window by the number of
 *   real (unpadded) positions, as TensorFlow does, but tfjs' AvgPoolGrad divides by the full window
 *   size. (InceptionV3's branches pool 3x3/1 'same': fine-tuning them trained on wrong gradients.)
 *   Here dy is scaled by (window size / real count) and spread by the 'valid' gradient over the
 *   padded input, which tfjs gets right, then the padding is cut off.
 * - ResizeBilinear with half-pixel centers (TF2's tf.image.resize, the library's Upscale layer):
 *   tfjs' ResizeBilinearGrad ignores halfPixelCenters. Resizing is linear, out = Wh · x · Wwᵀ per
 *   image and channel, with Wh, Ww the interpolation weights TensorFlow uses; its gradient is
 *   dx = Whᵀ · dy · Ww, two small matrix products.
 *
 * Other cases keep tfjs' own gradient functions.
 */
import * as tf from '@tensorflow/tfjs';

const PATCHED = Symbol.for('tslab-dl.poolingAndResizeGradients');

type Pair = [number, number];

function avgPoolSameGradient(
  dy: tf.Tensor4D,
  x: tf.Tensor4D,
  attrs: { filterSize: number | Pair; strides: number | Pair; pad: 'same'; dimRoundingMode?: 'floor' | 'round' | 'ceil' },
): tf.Tensor4D {
  const info = tf.backend_util.computePool2DInfo(x.shape, attrs.filterSize, attrs.strides, 1, 'same', attrs.dimRoundingMode);
  const { top, bottom, left, right } = info.padInfo;
  const [kh, kw] = [info.filterHeight, info.filterWidth];
  return tf.tidy(() => {
    const paddings: [number, number][] = [
      [0, 0],
      [top, bottom],
      [left, right],
      [0, 0],
    ];
    // The real positions of each window: a 'valid' average of ones over the padded extent, times the window size.
    const ones = tf.pad(tf.ones([1, info.inHeight, info.inWidth, 1]), paddings);
    const counts = tf.mul(tf.avgPool(ones as tf.Tensor4D, [kh, kw], [info.strideHeight, info.strideWidth], 'valid'), kh * kw);
    const scaled = tf.div(tf.mul(dy, kh * kw), counts);
    const padded = tf.pad(x, paddings) as tf.Tensor4D;
    const spread = tf.engine().runKernel('AvgPoolGrad', { dy: scaled, input: padded }, {
      filterSize: [kh, kw],
      strides: [info.strideHeight, info.strideWidth],
      pad: 'valid',
    } as never) as tf.Tensor4D;
    return tf.slice(spread, [0, top, left, 0], [x.shape[0], info.inHeight, info.inWidth, x.shape[3]]);
  });
}

/** TF2's bilinear weights with half-pixel centers: out[o] = Σ W[o, i] in[i] (image_resizer_state.h, compute_interpolation_weights). */
export function bilinearWeights(inSize: number, outSize: number): tf.Tensor2D {
  const weights = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const position = (o + 0.5) * scale - 0.5;
    const floor = Math.floor(position);
    const lower = Math.max(floor, 0);
    const upper = Math.min(Math.ceil(position), inSize - 1);
    const lerp = position - floor;
    weights[o * inSize + lower] += 1 - lerp;
    weights[o * inSize + upper] += lerp;
  }
  return tf.tensor2d(weights, [outSize, inSize]);
}

function resizeBilinearHalfPixelGradient(dy: tf.Tensor4D, x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const [, oh, ow] = dy.shape;
  return tf.tidy(() => {
    const wh = bilinearWeights(h, oh);
    const ww = bilinearWeights(w, ow);
    // Along the rows: [OH, N*OW*C] -> Whᵀ · -> [H, N*OW*C].
    const byRows = tf.reshape(tf.transpose(dy, [1, 0, 2, 3]), [oh, n * ow * c]);
    const rows = tf.reshape(tf.matMul(wh, byRows, true, false), [h, n, ow, c]);
    // Along the columns: [OW, H*N*C] -> Wwᵀ · -> [W, H*N*C].
    const byColumns = tf.reshape(tf.transpose(rows, [2, 0, 1, 3]), [ow, h * n * c]);
    const columns = tf.reshape(tf.matMul(ww, byColumns, true, false), [w, h, n, c]);
    return tf.transpose(columns, [2, 1, 0, 3]) as tf.Tensor4D;
  });
}

/** Registers both (idempotent). */
export function applyPoolingAndResizeGradients(): void {
  const registry = globalThis as unknown as Record<symbol, boolean>;
  if (registry[PATCHED]) return;
  const avgPool = tf.getGradient('AvgPool');
  const resize = tf.getGradient('ResizeBilinear');
  if (!avgPool || !resize) throw new Error(`tslab-dl: TensorFlow.js ${tf.version.tfjs} has no AvgPool/ResizeBilinear gradient to correct.`);
  tf.registerGradient({
    ...avgPool,
    gradFunc: (dy, saved, attrs) => {
      const a = attrs as unknown as {
        filterSize: number | Pair;
        strides: number | Pair;
        pad: unknown;
        dimRoundingMode?: 'floor' | 'round' | 'ceil';
      };
      if (a.pad !== 'same') return avgPool.gradFunc(dy, saved, attrs);
      const [x] = saved as tf.Tensor4D[];
      return { x: () => avgPoolSameGradient(dy as tf.Tensor4D, x, { ...a, pad: 'same' }) };
    },
  });
  tf.registerGradient({
    ...resize,
    gradFunc: (dy, saved, attrs) => {
      const a = attrs as unknown as { alignCorners: boolean; halfPixelCenters: boolean };
      if (!a.halfPixelCenters || a.alignCorners) return resize.gradFunc(dy, saved, attrs);
      const [images] = saved as tf.Tensor4D[];
      return { images: () => resizeBilinearHalfPixelGradient(dy as tf.Tensor4D, images) };
    },
  });
  registry[PATCHED] = true;
}
