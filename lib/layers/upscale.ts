/**
 * The lesson's upscale step as a serialisable layer: TF2's
 * `tf.image.resize_with_pad(x, height, width, method)`, i.e. an aspect-preserving resize with
 * half-pixel centres and no antialiasing, then zero padding centred on the image.
 *
 * The Keras lesson wraps resize_with_pad in a Lambda layer; tfjs has no Lambda layer, and its
 * `tf.layers.resizing` aligns corners by default (tfjs-layers src/layers/preprocessing/image_resizing.ts), so this is its own class.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../core/errors';

/** The interpolation of {@link Upscale}: 'bilinear' (TF's BILINEAR) or 'nearest' (NEAREST_NEIGHBOR). */
export type UpscaleMethod = 'bilinear' | 'nearest';
const METHODS: readonly UpscaleMethod[] = ['bilinear', 'nearest'];

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** Arguments of {@link upscale} and {@link Upscale}: the output size, the interpolation, and tfjs' layer arguments (`name`, ...). */
export interface UpscaleArgs extends LayerArgs {
  /** Output height in pixels. Required. */
  height: number;
  /** Output width in pixels. Required. */
  width: number;
  /** Interpolation: 'bilinear' (TF's BILINEAR) or 'nearest' (NEAREST_NEIGHBOR). Defaults to 'bilinear'. */
  method?: UpscaleMethod;
}

/** Where the resized image lands inside the padded output. */
export interface ResizeWithPadGeometry {
  /** Height of the resized image, before padding, in pixels. */
  resizedHeight: number;
  /** Width of the resized image, before padding, in pixels. */
  resizedWidth: number;
  /** Rows of zeros above the image. */
  padTop: number;
  /** Rows of zeros below the image. */
  padBottom: number;
  /** Columns of zeros left of the image. */
  padLeft: number;
  /** Columns of zeros right of the image. */
  padRight: number;
}

const f32 = Math.fround;

/**
 * The sizes TF's `_resize_image_with_pad_common` computes, in float32 as TF does
 * (so that e.g. 64 / (64 / 160) is exactly 160 and nothing is padded).
 */
export function resizeWithPadGeometry(height: number, width: number, targetHeight: number, targetWidth: number): ResizeWithPadGeometry {
  const ratio = Math.max(f32(width / targetWidth), f32(height / targetHeight));
  const resizedHeightFloat = f32(height / ratio);
  const resizedWidthFloat = f32(width / ratio);
  const resizedHeight = Math.floor(resizedHeightFloat);
  const resizedWidth = Math.floor(resizedWidthFloat);
  const padTop = Math.max(0, Math.floor(f32(targetHeight - resizedHeightFloat) / 2));
  const padLeft = Math.max(0, Math.floor(f32(targetWidth - resizedWidthFloat) / 2));
  return {
    resizedHeight,
    resizedWidth,
    padTop,
    padBottom: targetHeight - resizedHeight - padTop,
    padLeft,
    padRight: targetWidth - resizedWidth - padLeft,
  };
}

function checkSize(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new ValueError(`upscale: \`${name}\` must be a positive integer number of pixels. Received ${name}=${JSON.stringify(value)}.`);
  }
  return value;
}

/**
 * The layer {@link upscale} makes: resizes images [batch, height, width, channels] to
 * `height` x `width` as TF2's `tf.image.resize_with_pad` does (aspect ratio kept, half-pixel
 * centres, no antialiasing, then zero padding centred on the image). Bilinear output is float32;
 * nearest keeps the input's dtype. Registered for serialisation as 'Upscale', so a model holding
 * it can be saved and loaded.
 */
export class Upscale extends tf.layers.Layer {
  /** The name tfjs serialises this layer under. */
  static className = 'Upscale';
  /** Output height in pixels. */
  readonly height: number;
  /** Output width in pixels. */
  readonly width: number;
  /** The interpolation. */
  readonly method: UpscaleMethod;

  constructor(args: UpscaleArgs) {
    super(args);
    this.height = checkSize('height', args?.height);
    this.width = checkSize('width', args?.width);
    this.method = args.method ?? 'bilinear';
    if (!METHODS.includes(this.method)) {
      throw new ValueError(
        `upscale: \`method\` must be one of ${METHODS.map((m) => `'${m}'`).join(', ')}. Received method=${JSON.stringify(args.method)}.`,
      );
    }
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    if (shape.length !== 4) {
      throw new ValueError(
        `upscale expects images of shape [batch, height, width, channels]; received an input of shape [${shape.join(', ')}].`,
      );
    }
    return [shape[0], this.height, this.width, shape[3]];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      this.computeOutputShape(x.shape);
      const [, height, width] = x.shape;
      const g = resizeWithPadGeometry(height, width, this.height, this.width);
      const size: [number, number] = [g.resizedHeight, g.resizedWidth];
      // TF2 resize_images_v2: half_pixel_centers=True, align_corners=False, no antialias;
      // bilinear always returns float32, nearest keeps the dtype.
      const resized =
        this.method === 'bilinear'
          ? tf.image.resizeBilinear(tf.cast(x, 'float32'), size, false, true)
          : tf.image.resizeNearestNeighbor(x, size, false, true);
      if (g.padTop === 0 && g.padBottom === 0 && g.padLeft === 0 && g.padRight === 0) return resized;
      return tf.pad(resized, [
        [0, 0],
        [g.padTop, g.padBottom],
        [g.padLeft, g.padRight],
        [0, 0],
      ]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), height: this.height, width: this.width, method: this.method };
  }

  // Typed by what it is given (tfjs types every apply as any kind of tensor): a model is built
  // with `const upscaled = upscale({ height: 160, width: 160 }).apply(inputs)`, no cast needed.
  override apply(inputs: tf.SymbolicTensor | tf.SymbolicTensor[], kwargs?: { [key: string]: unknown }): tf.SymbolicTensor;
  override apply(inputs: tf.Tensor | tf.Tensor[], kwargs?: { [key: string]: unknown }): tf.Tensor;
  override apply(
    inputs: tf.Tensor | tf.Tensor[] | tf.SymbolicTensor | tf.SymbolicTensor[],
    kwargs?: { [key: string]: unknown },
  ): tf.Tensor | tf.SymbolicTensor {
    return super.apply(inputs, kwargs) as tf.Tensor | tf.SymbolicTensor;
  }
}
tf.serialization.registerClass(Upscale);

/**
 * `upscale({ height: 160, width: 160 })`: the layer the lesson builds with
 * `Lambda(lambda x: tf.image.resize_with_pad(x, 160, 160, method=BILINEAR))`.
 *
 * @param args - `height` and `width` of the output in pixels (required, positive integers),
 *   `method` ('bilinear', the default, or 'nearest'), and tfjs' layer arguments such as `name`.
 * @returns A new {@link Upscale} layer; its `apply` takes images [batch, height, width, channels]
 *   and gives [batch, args.height, args.width, channels].
 * @throws A {@link ValueError} when `height` or `width` is not a positive integer or `method` is
 *   unknown (and, when applied, when the input is not rank 4).
 *
 * @example
 * ```ts
 * import { upscale } from 'tslab-dl';
 *
 * const inputs = keras.Input(trainImages.shape.slice(1));
 * const upscaled = upscale({ height: 160, width: 160, method: 'bilinear' }).apply(inputs);
 * ```
 */
export function upscale(args: UpscaleArgs): Upscale {
  return new Upscale(args);
}
