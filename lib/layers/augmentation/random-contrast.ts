/**
 * Keras 3's RandomContrast (keras/src/layers/preprocessing/image_preprocessing/random_contrast.py):
 * during training, each image of the batch gets its own contrast factor f, drawn from
 * [1 - lower, 1 + upper], and each of its channels becomes (x - mean) * f + mean, where mean is
 * that channel's mean over the image's height and width, clipped to `valueRange`. At inference
 * the images pass through.
 *
 * `factor` follows Keras' base layer (`_set_factor`, bounds [0, 1]): [lower, upper] as given, or
 * for a single number f, [0, f] (Keras 3's code: lower = max(-f, 0)). So RandomContrast(0.2) only
 * raises the contrast, f in [1, 1.2]; RandomContrast([0.2, 0.2]) gives f in [0.8, 1.2], the range
 * Keras' docstring ("lower = upper") and Keras 2 give for 0.2.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../../core/errors';
import { AugmentationArgs, ImageAugmentationLayer } from './base';
import { Factor, parseFactor } from './factor';

/** Arguments of {@link randomContrast} and {@link RandomContrast}: the contrast range `factor`, the value range, seed. */
export interface RandomContrastArgs extends AugmentationArgs {
  /**
   * How much the contrast may change: [lower, upper] for a factor in [1 - lower, 1 + upper], or a
   * number f for [0, f] (Keras 3); each in [0, 1]. Required.
   */
  factor: Factor;
  /** The range of the input values, [low, high]; the output is clipped to it. Defaults to [0, 255]. */
  valueRange?: [number, number];
}

/** Each image's contrast factor. */
export interface ContrastTransformation {
  factors: number[];
}

function checkValueRange(value: unknown): [number, number] {
  if (value === undefined || value === null) return [0, 255];
  const ok =
    Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number' && Number.isFinite(v)) && value[0] <= value[1];
  if (!ok) {
    throw new ValueError(
      `RandomContrast: received an invalid value for \`valueRange\`, expected [low, high] with low <= high, e.g. [0, 255] or [0, 1]. ` +
        `Received: valueRange=${JSON.stringify(value)}.`,
    );
  }
  return [value[0], value[1]];
}

/**
 * Keras 3's RandomContrast: during training each image gets its own contrast factor f from
 * [1 - lower, 1 + upper], and each channel becomes (x - mean) * f + mean (mean over the image's
 * height and width), clipped to `valueRange`. At inference the images pass through. Made by
 * {@link randomContrast}.
 */
export class RandomContrast extends ImageAugmentationLayer<ContrastTransformation> {
  /** The name tfjs serialises this layer under (Keras' 'RandomContrast'). */
  static className = 'RandomContrast';
  /** The bounds (lower, upper): the contrast factor is drawn from [1 - lower, 1 + upper]. */
  readonly factor: [number, number];
  /** The range of the values, [low, high]; the output is clipped to it. */
  readonly valueRange: [number, number];

  constructor(args: RandomContrastArgs) {
    super('RandomContrast', args);
    this.factor = parseFactor('RandomContrast', 'factor', args?.factor, { low: 0, high: 1 });
    this.valueRange = checkValueRange(args.valueRange);
  }

  getRandomTransformation(batchSize: number): ContrastTransformation {
    return { factors: this.random.uniform(batchSize, 1 - this.factor[0], 1 + this.factor[1]) };
  }

  transformImages(images: tf.Tensor4D, { factors }: ContrastTransformation): tf.Tensor4D {
    return tf.tidy(() => {
      // Keras' _adjust_contrast: the mean over the height, then over the width, per image and channel.
      const mean = tf.mean(tf.mean(images, 1, true), 2, true);
      const f = tf.tensor4d(factors, [factors.length, 1, 1, 1]);
      const adjusted = tf.add(tf.mul(tf.sub(images, mean), f), mean);
      return tf.clipByValue(adjusted, this.valueRange[0], this.valueRange[1]) as tf.Tensor4D;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), factor: [...this.factor], valueRange: [...this.valueRange] };
  }
}
tf.serialization.registerClass(RandomContrast);

/** `randomContrast({ factor: 0.2 })`: Keras' `layers.RandomContrast(0.2)`. */
export function randomContrast(args: RandomContrastArgs): RandomContrast {
  return new RandomContrast(args);
}
