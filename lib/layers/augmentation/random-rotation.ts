/**
 * Keras 3's RandomRotation (keras/src/layers/preprocessing/image_preprocessing/random_rotation.py):
 * during training, each image of the batch is rotated about its centre by its own random angle,
 * drawn uniformly from [lower * 360°, upper * 360°], where `factor` is a fraction of a full turn:
 * RandomRotation(0.1) rotates by up to ±36°, RandomRotation([-0.2, 0.3]) by -72° to +108°.
 * A positive angle turns the image counter-clockwise. The points the rotation brings in from
 * outside are filled by `fillMode` ('reflect' by default). At inference the images pass through.
 *
 * The transform is Keras' `_compute_affine_matrix` (base_image_preprocessing_layer.py) with no
 * scale, shear or translation, applied as TF's ImageProjectiveTransformV3 (./projective-transform.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { AugmentationArgs, ImageAugmentationLayer } from './base';
import { Factor, parseFactor } from './factor';
import { FillMode, Interpolation, ProjectiveTransform, projectiveTransform, SamplingArgs, samplingOptions } from './projective-transform';

/** Arguments of {@link randomRotation} and {@link RandomRotation}: the angle range `factor`, filling, interpolation, seed. */
export interface RandomRotationArgs extends AugmentationArgs, SamplingArgs {
  /**
   * The range of the angle as a fraction of a full turn (2π): a number f for [-f, f], or
   * [lower, upper]; each in [-1, 1]. Positive turns counter-clockwise. Required.
   */
  factor: Factor;
}

/** Each image's angle (in degrees, as Keras draws it) and the transform that rotates it. */
export interface RotationTransformation {
  angles: number[];
  transforms: ProjectiveTransform[];
}

/**
 * Keras' `_compute_affine_matrix` for a rotation by `degrees` about the centre
 * (cx, cy) = ((width - 1) / 2, (height - 1) / 2):
 * [cos, -sin, cx - cx cos + cy sin, sin, cos, cy - cx sin - cy cos, 0, 0] (output -> input).
 */
export function rotationTransform(degrees: number, height: number, width: number): ProjectiveTransform {
  const angle = degrees * (Math.PI / 180);
  const cx = 0.5 * (width - 1);
  const cy = 0.5 * (height - 1);
  const a0 = Math.cos(angle);
  const a1 = -Math.sin(angle);
  const b0 = Math.sin(angle);
  const b1 = Math.cos(angle);
  return [a0, a1, cx - cx * a0 - cy * a1, b0, b1, cy - cx * b0 - cy * b1, 0, 0];
}

/**
 * Keras 3's RandomRotation: during training each image is rotated about its centre by its own
 * angle, drawn from [lower * 360°, upper * 360°] (`factor` 0.1: up to ±36°; positive turns
 * counter-clockwise), the points brought in filled by `fillMode` ('reflect' by default); at
 * inference the images pass through. Made by {@link randomRotation}.
 */
export class RandomRotation extends ImageAugmentationLayer<RotationTransformation> {
  /** The name tfjs serialises this layer under (Keras' 'RandomRotation'). */
  static className = 'RandomRotation';
  /** [lower, upper], fractions of a full turn. */
  readonly factor: [number, number];
  /** How points brought in from outside the image are filled. */
  readonly fillMode: FillMode;
  /** How pixels between grid points are interpolated. */
  readonly interpolation: Interpolation;
  /** The value `fillMode: 'constant'` fills with. */
  readonly fillValue: number;

  constructor(args: RandomRotationArgs) {
    super('RandomRotation', args);
    this.factor = parseFactor('RandomRotation', 'factor', args?.factor, { low: -1, high: 1 });
    ({ fillMode: this.fillMode, interpolation: this.interpolation, fillValue: this.fillValue } = samplingOptions('RandomRotation', args));
  }

  getRandomTransformation(batchSize: number, height: number, width: number): RotationTransformation {
    const angles = this.random.uniform(batchSize, this.factor[0] * 360, this.factor[1] * 360);
    return { angles, transforms: angles.map((a) => rotationTransform(a, height, width)) };
  }

  transformImages(images: tf.Tensor4D, { transforms }: RotationTransformation): tf.Tensor4D {
    return projectiveTransform(images, transforms, this);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      factor: [...this.factor],
      fillMode: this.fillMode,
      fillValue: this.fillValue,
      interpolation: this.interpolation,
    };
  }
}
tf.serialization.registerClass(RandomRotation);

/** `randomRotation({ factor: 0.1 })`: Keras' `layers.RandomRotation(0.1)`. */
export function randomRotation(args: RandomRotationArgs): RandomRotation {
  return new RandomRotation(args);
}
