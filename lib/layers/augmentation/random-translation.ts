/**
 * Keras 3's RandomTranslation (keras/src/layers/preprocessing/image_preprocessing/random_translation.py):
 * during training, each image of the batch is shifted by its own random offsets, dy = (a value
 * drawn from `heightFactor`'s range) * height pixels down and dx = (one from `widthFactor`'s) *
 * width pixels right; negative values shift up / left. RandomTranslation(0.1, 0.2) shifts by up
 * to ±10% of the height and ±20% of the width. Points brought in from outside are filled by
 * `fillMode` ('reflect' by default: the code's default; Keras' docstring says 'constant'). At
 * inference the images pass through.
 *
 * Keras' `_get_translation_matrix`: [1, 0, -dx, 0, 1, -dy, 0, 0] (output -> input), applied as
 * TF's ImageProjectiveTransformV3 (./projective-transform.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { AugmentationArgs, ImageAugmentationLayer } from './base';
import { copyFactor, Factor, FactorBounds, parseFactor } from './factor';
import { FillMode, Interpolation, ProjectiveTransform, projectiveTransform, SamplingArgs, samplingOptions } from './projective-transform';

/** Arguments of {@link randomTranslation} and {@link RandomTranslation}: the shift ranges, filling, interpolation, seed. */
export interface RandomTranslationArgs extends AugmentationArgs, SamplingArgs {
  /**
   * The vertical shift as a fraction of the height: a number f for [-f, f], or [lower, upper];
   * each in [-1, 1]. Positive shifts down. Required.
   */
  heightFactor: Factor;
  /** The horizontal shift as a fraction of the width, as `heightFactor`; positive shifts right. Required. */
  widthFactor: Factor;
}

/** Each image's shift in pixels (down, right) and its transform. */
export interface TranslationTransformation {
  heightShifts: number[];
  widthShifts: number[];
  transforms: ProjectiveTransform[];
}

/** Keras' `_get_translation_matrix` for one image shifted `dy` pixels down and `dx` right. */
export function translationTransform(dy: number, dx: number): ProjectiveTransform {
  return [1, 0, -dx, 0, 1, -dy, 0, 0];
}

const BOUNDS: FactorBounds = { low: -1, high: 1 };

/**
 * Keras 3's RandomTranslation: during training each image is shifted by its own offsets, a
 * fraction of the height (drawn from `heightFactor`'s range; positive shifts down) and of the width
 * (from `widthFactor`'s; positive shifts right), the points brought in filled by `fillMode`
 * ('reflect' by default). At inference the images pass through. Made by {@link randomTranslation}.
 */
export class RandomTranslation extends ImageAugmentationLayer<TranslationTransformation> {
  /** The name tfjs serialises this layer under (Keras' 'RandomTranslation'). */
  static className = 'RandomTranslation';
  /** The vertical factor as given (Keras keeps it so in its config). */
  readonly heightFactor: Factor;
  /** The horizontal factor as given. */
  readonly widthFactor: Factor;
  /** [lower, upper] of the vertical shift, fractions of the height. */
  readonly heightRange: [number, number];
  /** [lower, upper] of the horizontal shift, fractions of the width. */
  readonly widthRange: [number, number];
  /** How points brought in from outside the image are filled. */
  readonly fillMode: FillMode;
  /** How pixels between grid points are interpolated. */
  readonly interpolation: Interpolation;
  /** The value `fillMode: 'constant'` fills with. */
  readonly fillValue: number;

  constructor(args: RandomTranslationArgs) {
    super('RandomTranslation', args);
    this.heightRange = parseFactor('RandomTranslation', 'heightFactor', args?.heightFactor, BOUNDS);
    this.widthRange = parseFactor('RandomTranslation', 'widthFactor', args.widthFactor, BOUNDS);
    this.heightFactor = copyFactor(args.heightFactor);
    this.widthFactor = copyFactor(args.widthFactor);
    ({
      fillMode: this.fillMode,
      interpolation: this.interpolation,
      fillValue: this.fillValue,
    } = samplingOptions('RandomTranslation', args));
  }

  getRandomTransformation(batchSize: number, height: number, width: number): TranslationTransformation {
    // Keras draws the vertical fractions first, then the horizontal ones, and scales them to pixels.
    const heightShifts = this.random.uniform(batchSize, this.heightRange[0], this.heightRange[1]).map((f) => f * height);
    const widthShifts = this.random.uniform(batchSize, this.widthRange[0], this.widthRange[1]).map((f) => f * width);
    return { heightShifts, widthShifts, transforms: heightShifts.map((dy, i) => translationTransform(dy, widthShifts[i])) };
  }

  transformImages(images: tf.Tensor4D, { transforms }: TranslationTransformation): tf.Tensor4D {
    return projectiveTransform(images, transforms, this);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      heightFactor: copyFactor(this.heightFactor),
      widthFactor: copyFactor(this.widthFactor),
      fillMode: this.fillMode,
      fillValue: this.fillValue,
      interpolation: this.interpolation,
    };
  }
}
tf.serialization.registerClass(RandomTranslation);

/** `randomTranslation({ heightFactor: 0.1, widthFactor: 0.1 })`: Keras' `layers.RandomTranslation(0.1, 0.1)`. */
export function randomTranslation(args: RandomTranslationArgs): RandomTranslation {
  return new RandomTranslation(args);
}
