/**
 * What every data augmentation layer shares, after Keras 3's `BaseImagePreprocessingLayer`
 * (keras/src/layers/preprocessing/image_preprocessing/base_image_preprocessing_layer.py):
 *
 * - `call(images, { training })`: with `training: true` (as in `fit`), draws the random
 *   parameters for the batch (`getRandomTransformation`, one set per image) and applies them
 *   (`transformImages`); otherwise (`predict`, `evaluate`, no kwargs) returns the images as they
 *   are, cast to float32 as Keras casts to the compute dtype.
 * - images of rank 4 (batch, height, width, channels) or 3 (one image), channels last unless
 *   `dataFormat: 'channelsFirst'`;
 * - `seed` and `dataFormat` in the config; no weights.
 *
 * The layers are tfjs layers (tf.layers.Layer), registered for serialisation under Keras' class
 * names, so a saved model with them loads back (lib/weights/model-files.ts, tf.loadLayersModel).
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../../core/errors';
import { checkSeed, RandomSource } from './random-source';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** Order of the image axes: 'channelsLast' is (batch, height, width, channels). */
export type ImageDataFormat = 'channelsLast' | 'channelsFirst';

/** Arguments every augmentation layer takes (besides tfjs' name, inputShape, dtype, ...). */
export interface AugmentationArgs extends LayerArgs {
  /** Seed of the layer's own random generator. Defaults to none: draws from Math.random, which keras.utils.setRandomSeed seeds. */
  seed?: number | null;
  /** Order of the image axes. Defaults to 'channelsLast' (Keras' image_data_format default). */
  dataFormat?: ImageDataFormat;
}

/** 'channelsLast' or 'channelsFirst' (also Keras' 'channels_last' / 'channels_first'). */
function checkDataFormat(layer: string, value: unknown): ImageDataFormat {
  if (value === undefined || value === null || value === 'channelsLast' || value === 'channels_last') return 'channelsLast';
  if (value === 'channelsFirst' || value === 'channels_first') return 'channelsFirst';
  throw new ValueError(
    `${layer}: received an invalid value for \`dataFormat\`, expected 'channelsLast' or 'channelsFirst'. Received: dataFormat=${JSON.stringify(value)}.`,
  );
}

/**
 * The base of the data augmentation layers ({@link RandomFlip}, {@link RandomRotation},
 * {@link RandomZoom}, {@link RandomTranslation}, {@link RandomContrast}), after Keras 3's
 * BaseImagePreprocessingLayer: with `training: true` (as in `fit`) each image gets its own random
 * transformation; otherwise (predict, evaluate) the images pass unchanged, cast to float32. Takes
 * images of rank 4 (batch, height, width, channels) or 3 (one image); has no weights.
 */
export abstract class ImageAugmentationLayer<Transformation> extends tf.layers.Layer {
  /** Seed of the layer's own random generator; null draws from Math.random. */
  readonly seed: number | null;
  /** Order of the image axes. */
  readonly dataFormat: ImageDataFormat;
  /** The layer's random draws: its own seeded generator, or Math.random. */
  protected readonly random: RandomSource;

  constructor(layer: string, args: AugmentationArgs = {}) {
    super(args);
    this.seed = checkSeed(layer, args.seed);
    this.dataFormat = checkDataFormat(layer, args.dataFormat);
    this.random = new RandomSource(this.seed);
  }

  /**
   * Keras' `get_random_transformation`: draws the parameters for `batchSize` images of
   * `height` x `width` pixels, one set per image, advancing the layer's random sequence.
   */
  abstract getRandomTransformation(batchSize: number, height: number, width: number): Transformation;

  /**
   * Keras' `transform_images`: applies `transformation` (from {@link getRandomTransformation}) to
   * float32 images [batch, height, width, channels], channels last. No randomness.
   */
  abstract transformImages(images: tf.Tensor4D, transformation: Transformation): tf.Tensor4D;

  private imageShape(shape: tf.Shape): tf.Shape {
    if (shape.length !== 3 && shape.length !== 4) {
      throw new ValueError(
        `${this.getClassName()} '${this.name}' expects images of rank 4 (batch, height, width, channels) or 3 (one image); ` +
          `received an input of shape [${shape.map((d) => d ?? 'null').join(', ')}].`,
      );
    }
    return shape;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return this.imageShape((Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { [key: string]: unknown } = {}): tf.Tensor {
    return tf.tidy(() => {
      const input = Array.isArray(inputs) ? inputs[0] : inputs;
      this.imageShape(input.shape);
      const images = input.dtype === 'float32' ? input : tf.cast(input, 'float32');
      // Keras: training=None (predict, evaluate, a plain call) is inference: the identity.
      if (kwargs.training !== true) return images === input ? input.clone() : images;
      let batch = (input.rank === 3 ? tf.expandDims(images, 0) : images) as tf.Tensor4D;
      if (this.dataFormat === 'channelsFirst') batch = tf.transpose(batch, [0, 2, 3, 1]);
      const [size, height, width] = batch.shape;
      if (size === 0) return images.clone();
      let output = this.transformImages(batch, this.getRandomTransformation(size, height, width));
      if (this.dataFormat === 'channelsFirst') output = tf.transpose(output, [0, 3, 1, 2]);
      return input.rank === 3 ? tf.squeeze(output, [0]) : output;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed, dataFormat: this.dataFormat };
  }

  // Typed by what it is given (tfjs types every apply as any kind of tensor), as lib/layers/upscale.ts.
  override apply(inputs: tf.SymbolicTensor | tf.SymbolicTensor[], kwargs?: { [key: string]: unknown }): tf.SymbolicTensor;
  override apply(inputs: tf.Tensor | tf.Tensor[], kwargs?: { [key: string]: unknown }): tf.Tensor;
  override apply(
    inputs: tf.Tensor | tf.Tensor[] | tf.SymbolicTensor | tf.SymbolicTensor[],
    kwargs?: { [key: string]: unknown },
  ): tf.Tensor | tf.SymbolicTensor {
    return super.apply(inputs, kwargs) as tf.Tensor | tf.SymbolicTensor;
  }
}
