/**
 * TensorFlow's `ImageProjectiveTransformV3` (tensorflow/core/kernels/image/image_ops.h), the op
 * behind Keras 3's `ops.image.affine_transform` (keras/src/backend/tensorflow/image.py) that
 * RandomRotation, RandomZoom and RandomTranslation call: each output pixel (x, y) of image b reads
 * the input at
 *
 *     k = c0 * x + c1 * y + 1,  x' = (a0 * x + a1 * y + a2) / k,  y' = (b0 * x + b1 * y + b2) / k
 *
 * with the transform [a0, a1, a2, b0, b1, b2, c0, c1] of image b, maps (x', y') into the image by
 * the fill mode, and interpolates (nearest or bilinear), in float32.
 *
 * Why not `tf.image.transform`: on tfjs 4.22 its cpu kernel returns after the first image of a
 * batch (every other image comes back as the fill value), its wasm kernel maps negative coordinates
 * wrongly in 'reflect' mode (Keras' default; `-len` on an unsigned length), and neither returns the
 * fill value for every point outside the image in 'constant' mode (TF does; tfjs blends it with
 * the edge pixels). It also has no gradient.
 *
 * Here the work follows image_ops.h line by line, on the host, in float32 at each step (Math.fround):
 * the sample points and weights, then the interpolation itself (a gather and blend with tfjs ops
 * was 5-10 times slower on wasm and cpu). The gradient with respect to the images is the exact
 * adjoint of the interpolation (each output gradient goes back to the pixels it was read from,
 * times their weights), so layers before an augmentation layer still train.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../../core/errors';
import { canReadSync } from '../../core/tensor-reads';

/** How points outside the image are filled (Keras' fill_mode). */
export type FillMode = 'reflect' | 'wrap' | 'constant' | 'nearest';
/** How pixels are read between sample points (Keras' interpolation). */
export type Interpolation = 'bilinear' | 'nearest';

export const FILL_MODES: readonly FillMode[] = ['reflect', 'wrap', 'constant', 'nearest'];
export const INTERPOLATIONS: readonly Interpolation[] = ['bilinear', 'nearest'];

/** One image's transform, TF's eight numbers [a0, a1, a2, b0, b1, b2, c0, c1] (output -> input). */
export type ProjectiveTransform = readonly number[];

export interface SamplingOptions {
  interpolation: Interpolation;
  fillMode: FillMode;
  fillValue: number;
}

/** The arguments RandomRotation, RandomZoom and RandomTranslation share (Keras' names, camelCase). */
export interface SamplingArgs {
  /**
   * How points outside the input are filled: 'reflect' (d c b a | a b c d | d c b a), 'wrap'
   * (a b c d | a b c d | a b c d), 'constant' (k k k k | a b c d | k k k k, k = fillValue) or
   * 'nearest' (a a a a | a b c d | d d d d). Defaults to 'reflect'.
   */
  fillMode?: FillMode;
  /** 'bilinear' or 'nearest'. Defaults to 'bilinear'. */
  interpolation?: Interpolation;
  /** The value of points outside the input when `fillMode` is 'constant'. Defaults to 0. */
  fillValue?: number;
}

/** Keras' defaults (random_rotation.py, random_zoom.py, random_translation.py), checked. */
export function samplingOptions(layer: string, args: SamplingArgs): SamplingOptions {
  const fillMode = args.fillMode ?? 'reflect';
  const interpolation = args.interpolation ?? 'bilinear';
  const fillValue = args.fillValue ?? 0;
  if (!FILL_MODES.includes(fillMode)) {
    throw new ValueError(
      `${layer}: received an invalid value for \`fillMode\`, expected one of ${FILL_MODES.map((m) => `'${m}'`).join(', ')}. Received: fillMode=${JSON.stringify(fillMode)}.`,
    );
  }
  if (!INTERPOLATIONS.includes(interpolation)) {
    throw new ValueError(
      `${layer}: received an invalid value for \`interpolation\`, expected one of ${INTERPOLATIONS.map((m) => `'${m}'`).join(', ')}. Received: interpolation=${JSON.stringify(interpolation)}.`,
    );
  }
  if (typeof fillValue !== 'number' || !Number.isFinite(fillValue)) {
    throw new ValueError(
      `${layer}: received an invalid value for \`fillValue\`, expected a finite number. Received: fillValue=${JSON.stringify(fillValue)}.`,
    );
  }
  return { fillMode, interpolation, fillValue };
}

const f32 = Math.fround;

// MapCoordinate<FILL_REFLECT>: reflect [abcd] to [dcba|abcd|dcba], then clamp.
function mapReflect(coord: number, len: number): number {
  let c = coord;
  if (c < 0) {
    if (len <= 1) {
      c = 0;
    } else {
      const sz2 = 2 * len;
      if (c < sz2) c = f32(sz2 * Math.trunc(f32(-c / sz2)) + c);
      c = c < -len ? f32(c + sz2) : f32(-c - 1);
    }
  } else if (c > len - 1) {
    if (len <= 1) {
      c = 0;
    } else {
      const sz2 = 2 * len;
      c = f32(c - sz2 * Math.trunc(f32(c / sz2)));
      if (c >= len) c = f32(sz2 - c - 1);
    }
  }
  return Math.min(Math.max(c, 0), len - 1);
}

// MapCoordinate<FILL_WRAP>: wrap [abcd] to [abcd|abcd|abcd] (TF's arithmetic, kept as is), then clamp.
function mapWrap(coord: number, len: number): number {
  let c = coord;
  if (c < 0) {
    if (len <= 1) {
      c = 0;
    } else {
      const sz = len - 1;
      c = f32(c + len * (Math.trunc(f32(-c / sz)) + 1));
    }
  } else if (c > len - 1) {
    if (len <= 1) {
      c = 0;
    } else {
      const sz = len - 1;
      c = f32(c - len * Math.trunc(f32(c / sz)));
    }
  }
  return Math.min(Math.max(c, 0), len - 1);
}

function mapCoordinate(coord: number, len: number, mode: FillMode): number {
  switch (mode) {
    case 'reflect':
      return mapReflect(coord, len);
    case 'wrap':
      return mapWrap(coord, len);
    case 'nearest':
      return Math.min(Math.max(coord, 0), len - 1);
    case 'constant':
      return coord;
  }
}

/** Where each output pixel reads the input: up to four pixels (index `outside`: the fill value) and their weights. */
interface SamplingPlan {
  pixels: number;
  channels: number;
  bilinear: boolean;
  fillValue: number;
  i00: Int32Array;
  i01: Int32Array;
  i10: Int32Array;
  i11: Int32Array;
  wx0: Float32Array;
  wx1: Float32Array;
  wy0: Float32Array;
  wy1: Float32Array;
}

/** ProjectiveGenerator::operator() up to the reads: the sample points of every output pixel. */
function planSampling(
  shape: [number, number, number, number],
  transforms: readonly ProjectiveTransform[],
  options: SamplingOptions,
): SamplingPlan {
  const [batch, height, width, channels] = shape;
  const { interpolation, fillMode, fillValue } = options;
  const pixels = batch * height * width;
  // Pixel index `pixels` stands for the fill value: what read_with_fill_value returns outside the image.
  const outside = pixels;
  const bilinear = interpolation === 'bilinear';
  const weights = () => new Float32Array(bilinear ? pixels : 0);
  const plan: SamplingPlan = {
    pixels,
    channels,
    bilinear,
    fillValue: f32(fillValue),
    i00: new Int32Array(pixels),
    i01: new Int32Array(bilinear ? pixels : 0),
    i10: new Int32Array(bilinear ? pixels : 0),
    i11: new Int32Array(bilinear ? pixels : 0),
    wx0: weights(),
    wx1: weights(),
    wy0: weights(),
    wy1: weights(),
  };
  const { i00, i01, i10, i11, wx0, wx1, wy0, wy1 } = plan;
  const read = (b: number, y: number, x: number): number =>
    y >= 0 && y < height && x >= 0 && x < width ? (b * height + y) * width + x : outside;

  for (let b = 0; b < batch; b++) {
    const t = (transforms.length === 1 ? transforms[0] : transforms[b]).map(f32);
    for (let outY = 0; outY < height; outY++) {
      for (let outX = 0; outX < width; outX++) {
        const p = (b * height + outY) * width + outX;
        const projection = f32(f32(f32(t[6] * outX) + f32(t[7] * outY)) + 1);
        let fill = projection === 0;
        let x = 0;
        let y = 0;
        if (!fill) {
          const inX = f32(f32(f32(f32(t[0] * outX) + f32(t[1] * outY)) + t[2]) / projection);
          const inY = f32(f32(f32(f32(t[3] * outX) + f32(t[4] * outY)) + t[5]) / projection);
          x = mapCoordinate(inX, width, fillMode);
          y = mapCoordinate(inY, height, fillMode);
          // Only 'constant' keeps coordinates outside the image: those read the fill value alone.
          fill = !(x >= 0 && x <= width - 1 && y >= 0 && y <= height - 1);
        }
        if (fill) {
          i00[p] = outside;
          if (bilinear) {
            i01[p] = i10[p] = i11[p] = outside;
            wx0[p] = 1;
            wy0[p] = 1;
          }
        } else if (!bilinear) {
          // DenseIndex(std::round(v)): v >= 0 here, where Math.round rounds halves the same way.
          i00[p] = read(b, Math.round(y), Math.round(x));
        } else {
          const yFloor = Math.floor(y);
          const xFloor = Math.floor(x);
          i00[p] = read(b, yFloor, xFloor);
          i01[p] = read(b, yFloor, xFloor + 1);
          i10[p] = read(b, yFloor + 1, xFloor);
          i11[p] = read(b, yFloor + 1, xFloor + 1);
          wx0[p] = f32(xFloor + 1 - x);
          wx1[p] = f32(x - xFloor);
          wy0[p] = f32(yFloor + 1 - y);
          wy1[p] = f32(y - yFloor);
        }
      }
    }
  }
  return plan;
}

/** The interpolation: nearest_interpolation / bilinear_interpolation of image_ops.h, in float32. */
function sample(src: Float32Array, plan: SamplingPlan): Float32Array {
  const { pixels, channels, bilinear, fillValue, i00, i01, i10, i11, wx0, wx1, wy0, wy1 } = plan;
  const out = new Float32Array(pixels * channels);
  const value = (i: number, c: number) => (i === pixels ? fillValue : src[i * channels + c]);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < channels; c++) {
      if (!bilinear) {
        out[p * channels + c] = value(i00[p], c);
        continue;
      }
      // value_yfloor = (x_ceil - x) * f(x_floor, y_floor) + (x - x_floor) * f(x_ceil, y_floor), and
      // likewise at y_ceil; then (y_ceil - y) * value_yfloor + (y - y_floor) * value_yceil.
      const top = f32(f32(wx0[p] * value(i00[p], c)) + f32(wx1[p] * value(i01[p], c)));
      const bottom = f32(f32(wx0[p] * value(i10[p], c)) + f32(wx1[p] * value(i11[p], c)));
      out[p * channels + c] = f32(wy0[p] * top) + f32(wy1[p] * bottom);
    }
  }
  return out;
}

/** The adjoint of {@link sample}: each output gradient goes to the pixels read, times their weights. */
function sampleGradient(dy: Float32Array, plan: SamplingPlan): Float32Array {
  const { pixels, channels, bilinear, i00, i01, i10, i11, wx0, wx1, wy0, wy1 } = plan;
  const dx = new Float64Array(pixels * channels);
  const add = (i: number, c: number, g: number) => {
    if (i !== pixels) dx[i * channels + c] += g;
  };
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < channels; c++) {
      const g = dy[p * channels + c];
      if (g === 0) continue;
      if (!bilinear) {
        add(i00[p], c, g);
        continue;
      }
      add(i00[p], c, wy0[p] * wx0[p] * g);
      add(i01[p], c, wy0[p] * wx1[p] * g);
      add(i10[p], c, wy1[p] * wx0[p] * g);
      add(i11[p], c, wy1[p] * wx1[p] * g);
    }
  }
  return Float32Array.from(dx);
}

/**
 * {@link sample} with tfjs ops, for the webgpu backend, which cannot hand the images to the host
 * synchronously (lib/core/tensor-reads.ts): the same reads and weights, gathered and blended on the
 * device in float32; tfjs differentiates it (the gather's gradient is the adjoint
 * {@link sampleGradient} computes on the host).
 */
function sampleOnDevice(images: tf.Tensor, plan: SamplingPlan, shape: [number, number, number, number]): tf.Tensor4D {
  const { pixels, channels, bilinear, fillValue, i00, i01, i10, i11, wx0, wx1, wy0, wy1 } = plan;
  // Row `pixels` holds the fill value: the index the plan gives points outside the image.
  const source = tf.concat([tf.reshape(images, [pixels, channels]), tf.fill([1, channels], fillValue)], 0);
  const read = (index: Int32Array) => tf.gather(source, tf.tensor1d(index, 'int32'));
  if (!bilinear) return tf.reshape(read(i00), shape);
  const weight = (w: Float32Array) => tf.tensor2d(w, [pixels, 1]);
  const top = tf.add(tf.mul(weight(wx0), read(i00)), tf.mul(weight(wx1), read(i01)));
  const bottom = tf.add(tf.mul(weight(wx0), read(i10)), tf.mul(weight(wx1), read(i11)));
  return tf.reshape(tf.add(tf.mul(weight(wy0), top), tf.mul(weight(wy1), bottom)), shape);
}

/**
 * Applies one projective transform per image to `images` [batch, height, width, channels], as TF's
 * ImageProjectiveTransformV3 with the output the input's size; float32 out, differentiable in the images.
 *
 * @param transforms one transform per image, or a single one for every image.
 */
export function projectiveTransform(
  images: tf.Tensor4D,
  transforms: readonly ProjectiveTransform[],
  options: SamplingOptions,
): tf.Tensor4D {
  const shape = images.shape;
  if (transforms.length !== shape[0] && transforms.length !== 1) {
    throw new ValueError(
      `projectiveTransform: got ${transforms.length} transforms for ${shape[0]} images; give one per image or one for all.`,
    );
  }
  for (const t of transforms) {
    if (t.length !== 8)
      throw new ValueError(
        `projectiveTransform: a transform has 8 numbers [a0, a1, a2, b0, b1, b2, c0, c1]; received ${JSON.stringify(t)}.`,
      );
  }
  const plan = planSampling(shape, transforms, options);
  if (!canReadSync()) {
    return tf.tidy(() => sampleOnDevice(images.dtype === 'float32' ? images : tf.cast(images, 'float32'), plan, shape));
  }
  const transform = tf.customGrad((x) => ({
    value: tf.tensor4d(sample((x as tf.Tensor).dataSync() as Float32Array, plan), shape),
    gradFunc: (dy: tf.Tensor4D) => tf.tensor4d(sampleGradient(dy.dataSync() as Float32Array, plan), shape),
  }));
  return tf.tidy(() => transform(images.dtype === 'float32' ? images : tf.cast(images, 'float32')) as tf.Tensor4D);
}
