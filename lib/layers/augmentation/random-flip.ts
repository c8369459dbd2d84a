/**
 * Keras 3's RandomFlip (keras/src/layers/preprocessing/image_preprocessing/random_flip.py):
 * during training, each image of the batch is flipped with probability 1/2 (Keras: a uniform
 * draw <= 0.5), left-right ('horizontal'), top-bottom ('vertical'), or both ('horizontal_and_vertical',
 * the default). As in Keras 3, 'horizontal_and_vertical' draws once per image and flips that
 * image both ways or not at all. At inference the images pass through unchanged.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../../core/errors';
import { AugmentationArgs, ImageAugmentationLayer } from './base';
import { projectiveTransform } from './projective-transform';

/** Which flips: left-right, top-bottom, or both. */
export type FlipMode = 'horizontal' | 'vertical' | 'horizontal_and_vertical';
export const FLIP_MODES: readonly FlipMode[] = ['horizontal', 'vertical', 'horizontal_and_vertical'];

/** Arguments of {@link randomFlip} and {@link RandomFlip}: the flip `mode`, a `seed`, the `dataFormat`. */
export interface RandomFlipArgs extends AugmentationArgs {
  /** 'horizontal' (left-right), 'vertical' (top-bottom) or 'horizontal_and_vertical'. Defaults to 'horizontal_and_vertical'. */
  mode?: FlipMode;
}

/** Which images of the batch are flipped. */
export interface FlipTransformation {
  flips: boolean[];
}

function checkMode(value: unknown): FlipMode {
  if (value === undefined || value === null) return 'horizontal_and_vertical';
  // A saved model's config comes back with its strings in camelCase (tfjs' convertPythonicToTs).
  if (value === 'horizontalAndVertical') return 'horizontal_and_vertical';
  if (FLIP_MODES.includes(value as FlipMode)) return value as FlipMode;
  throw new ValueError(
    `RandomFlip: received an invalid value for \`mode\`, expected one of ${FLIP_MODES.map((m) => `'${m}'`).join(', ')}. Received: mode=${JSON.stringify(value)}.`,
  );
}

/**
 * Keras 3's RandomFlip: during training each image is flipped with probability 1/2, left-right
 * ('horizontal'), top-bottom ('vertical') or both ('horizontal_and_vertical', the default: both
 * ways or not at all); at inference the images pass through. Made by {@link randomFlip}.
 */
export class RandomFlip extends ImageAugmentationLayer<FlipTransformation> {
  /** The name tfjs serialises this layer under (Keras' 'RandomFlip'). */
  static className = 'RandomFlip';
  /** Which flips. */
  readonly mode: FlipMode;

  constructor(args: RandomFlipArgs = {}) {
    super('RandomFlip', args);
    this.mode = checkMode(args.mode);
  }

  getRandomTransformation(batchSize: number): FlipTransformation {
    return { flips: this.random.uniform(batchSize, 0, 1).map((u) => u <= 0.5) };
  }

  transformImages(images: tf.Tensor4D, { flips }: FlipTransformation): tf.Tensor4D {
    // Keras: where(flips, flip(images), images). Here each image is read through its own index
    // map, x' = width - 1 - x and / or y' = height - 1 - y (whole pixels, so nearest sampling
    // copies them exactly): one pass over the batch instead of a reverse and a select.
    const [, height, width] = images.shape;
    const horizontal = this.mode !== 'vertical';
    const vertical = this.mode !== 'horizontal';
    const transforms = flips.map((flip) =>
      flip
        ? [horizontal ? -1 : 1, 0, horizontal ? width - 1 : 0, 0, vertical ? -1 : 1, vertical ? height - 1 : 0, 0, 0]
        : [1, 0, 0, 0, 1, 0, 0, 0],
    );
    return projectiveTransform(images, transforms, { interpolation: 'nearest', fillMode: 'nearest', fillValue: 0 });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), mode: this.mode };
  }
}
tf.serialization.registerClass(RandomFlip);

/** `randomFlip({ mode: 'horizontal' })`: Keras' `layers.RandomFlip("horizontal")`. */
export function randomFlip(args: RandomFlipArgs = {}): RandomFlip {
  return new RandomFlip(args);
}
