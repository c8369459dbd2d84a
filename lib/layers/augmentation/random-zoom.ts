/**
 * Keras 3's RandomZoom (keras/src/layers/preprocessing/image_preprocessing/random_zoom.py):
 * during training, each image of the batch is zoomed about its centre by its own random factors,
 * a vertical zoom drawn from [1 + lower, 1 + upper] of `heightFactor` and a horizontal one from
 * `widthFactor` (or the vertical one again, keeping the aspect ratio, when `widthFactor` is not
 * given). Keras' sign convention: a positive factor zooms out (the image shrinks, the input is
 * read over a region up to 1 + factor times as large), a negative one zooms in. RandomZoom(0.2)
 * scales the sampled region's height by a factor in [0.8, 1.2]. Points brought in from outside
 * are filled by `fillMode` ('reflect' by default). At inference the images pass through.
 *
 * Keras' `_get_zoom_matrix`: [zx, 0, (width - 1) / 2 * (1 - zx), 0, zy, (height - 1) / 2 * (1 - zy), 0, 0]
 * (output -> input), applied as TF's ImageProjectiveTransformV3 (./projective-transform.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { AugmentationArgs, ImageAugmentationLayer } from './base';
import { copyFactor, Factor, FactorBounds, parseFactor } from './factor';
import { FillMode, Interpolation, ProjectiveTransform, projectiveTransform, SamplingArgs, samplingOptions } from './projective-transform';

/** Arguments of {@link randomZoom} and {@link RandomZoom}: the zoom ranges, filling, interpolation, seed. */
export interface RandomZoomArgs extends AugmentationArgs, SamplingArgs {
  /**
   * The vertical zoom: a number f for [-f, f], or [lower, upper]; each in (-1, 1]. The height of
   * the region read is scaled by 1 + a value drawn from that range: positive zooms out, negative
   * zooms in. Required.
   */
  heightFactor: Factor;
  /**
   * The horizontal zoom, as `heightFactor`. Defaults to none: each image is zoomed by its vertical
   * factor in both directions, keeping its aspect ratio.
   */
  widthFactor?: Factor | null;
}

/** Each image's zoom factors (the scale of the region read: > 1 zooms out) and its transform. */
export interface ZoomTransformation {
  heightZooms: number[];
  widthZooms: number[];
  transforms: ProjectiveTransform[];
}

/** Keras' `_get_zoom_matrix` for one image: zoom `zx` across, `zy` down, about the centre. */
export function zoomTransform(zy: number, zx: number, height: number, width: number): ProjectiveTransform {
  return [zx, 0, ((width - 1) / 2) * (1 - zx), 0, zy, ((height - 1) / 2) * (1 - zy), 0, 0];
}

const BOUNDS: FactorBounds = { low: -1, high: 1, lowOpen: true };

/**
 * Keras 3's RandomZoom: during training each image is zoomed about its centre by its own factors,
 * the height of the region read scaled by 1 + a value from `heightFactor`'s range (positive zooms
 * out, negative in; `heightFactor` 0.2: [0.8, 1.2]) and the width likewise (or by the same factor
 * without `widthFactor`); points brought in are filled by `fillMode` ('reflect' by default). At
 * inference the images pass through. Made by {@link randomZoom}.
 */
export class RandomZoom extends ImageAugmentationLayer<ZoomTransformation> {
  /** The name tfjs serialises this layer under (Keras' 'RandomZoom'). */
  static className = 'RandomZoom';
  /** The vertical factor as given (Keras keeps it so in its config). */
  readonly heightFactor: Factor;
  /** The horizontal factor as given; null: the vertical one is used for both. */
  readonly widthFactor: Factor | null;
  /** [lower, upper] of the vertical zoom. */
  readonly heightRange: [number, number];
  /** [lower, upper] of the horizontal zoom; null without `widthFactor`. */
  readonly widthRange: [number, number] | null;
  /** How points brought in from outside the image are filled. */
  readonly fillMode: FillMode;
  /** How pixels between grid points are interpolated. */
  readonly interpolation: Interpolation;
  /** The value `fillMode: 'constant'` fills with. */
  readonly fillValue: number;

  constructor(args: RandomZoomArgs) {
    super('RandomZoom', args);
    this.heightRange = parseFactor('RandomZoom', 'heightFactor', args?.heightFactor, BOUNDS);
    this.heightFactor = copyFactor(args.heightFactor);
    const width = args.widthFactor ?? null;
    this.widthRange = width === null ? null : parseFactor('RandomZoom', 'widthFactor', width, BOUNDS);
    this.widthFactor = width === null ? null : copyFactor(width);
    ({ fillMode: this.fillMode, interpolation: this.interpolation, fillValue: this.fillValue } = samplingOptions('RandomZoom', args));
  }

  getRandomTransformation(batchSize: number, height: number, width: number): ZoomTransformation {
    const [hLow, hHigh] = this.heightRange;
    const heightZooms = this.random.uniform(batchSize, 1 + hLow, 1 + hHigh);
    const widthZooms = this.widthRange ? this.random.uniform(batchSize, 1 + this.widthRange[0], 1 + this.widthRange[1]) : heightZooms;
    return { heightZooms, widthZooms, transforms: heightZooms.map((zy, i) => zoomTransform(zy, widthZooms[i], height, width)) };
  }

  transformImages(images: tf.Tensor4D, { transforms }: ZoomTransformation): tf.Tensor4D {
    return projectiveTransform(images, transforms, this);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      heightFactor: copyFactor(this.heightFactor),
      widthFactor: this.widthFactor === null ? null : copyFactor(this.widthFactor),
      fillMode: this.fillMode,
      fillValue: this.fillValue,
      interpolation: this.interpolation,
    };
  }
}
tf.serialization.registerClass(RandomZoom);

/** `randomZoom({ heightFactor: 0.2 })`: Keras' `layers.RandomZoom(0.2)`. */
export function randomZoom(args: RandomZoomArgs): RandomZoom {
  return new RandomZoom(args);
}
