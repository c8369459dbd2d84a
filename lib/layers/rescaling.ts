/**
 * Keras' Rescaling layer (tf_keras/layers/preprocessing/image_preprocessing.py):
 * `y = x * scale + offset` in float32, where `scale` and `offset` are numbers or, as Keras
 * allows, one number per channel (broadcast over the last axis).
 *
 * tfjs 4.22 has a Rescaling layer for scalars only; EfficientNet with ImageNet weights needs a
 * per-channel one (`Rescaling([1 / sqrt(0.229), 1 / sqrt(0.224), 1 / sqrt(0.225)])`). This class
 * does both and registers itself under Keras' and tfjs' class name 'Rescaling' (same config keys,
 * same result for scalars), so a saved tfjs model with either kind loads back.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../core/errors';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** A number, or one number per channel (the last axis). */
export type ChannelValues = number | number[];

export interface RescalingArgs extends LayerArgs {
  /** Multiplies the input: a number or one per channel. Required. */
  scale: ChannelValues;
  /** Added after scaling: a number or one per channel. Defaults to 0. */
  offset?: ChannelValues;
}

function checkValues(name: string, value: unknown): ChannelValues {
  const ok = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (ok(value)) return value as number;
  if (Array.isArray(value) && value.length > 0 && value.every(ok)) return [...value] as number[];
  throw new ValueError(
    `Rescaling: \`${name}\` must be a finite number or a non-empty array of them (one per channel). Received ${name}=${JSON.stringify(value)}.`,
  );
}

/**
 * Keras' Rescaling layer: `y = x * scale + offset` in float32, where `scale` and `offset` are
 * numbers or one number per channel (broadcast over the last axis). tfjs' own Rescaling takes
 * scalars only; this one replaces it under the class name 'Rescaling' (same config keys), so
 * saved models with either kind load back. Made by {@link rescaling}.
 */
export class Rescaling extends tf.layers.Layer {
  /** The name tfjs serialises this layer under (Keras' and tfjs' 'Rescaling'). */
  static className = 'Rescaling';
  /** Multiplies the input: a number or one per channel. */
  readonly scale: ChannelValues;
  /** Added after scaling: a number or one per channel. */
  readonly offset: ChannelValues;

  constructor(args: RescalingArgs) {
    super(args);
    this.scale = checkValues('scale', args?.scale);
    this.offset = checkValues('offset', args.offset ?? 0);
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const channels = shape[shape.length - 1];
    for (const [name, value] of [
      ['scale', this.scale],
      ['offset', this.offset],
    ] as const) {
      if (Array.isArray(value) && value.length !== 1 && channels !== null && value.length !== channels) {
        throw new ValueError(
          `Rescaling '${this.name}': \`${name}\` has ${value.length} values but the input has ${channels} channels ` +
            `(shape [${shape.join(', ')}]); give one value per channel or a single number.`,
        );
      }
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const values = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
      const asTensor = (v: ChannelValues) => (typeof v === 'number' ? tf.scalar(v) : tf.tensor1d(v));
      // Keras: cast(inputs) * scale + offset, the same two float32 operations.
      return tf.add(tf.mul(values, asTensor(this.scale)), asTensor(this.offset));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), scale: this.scale, offset: this.offset };
  }
}
tf.serialization.registerClass(Rescaling);

/** `rescaling({ scale: 1 / 255 })`: Keras' `layers.Rescaling(1.0 / 255.0)`. */
export function rescaling(args: RescalingArgs): Rescaling {
  return new Rescaling(args);
}
