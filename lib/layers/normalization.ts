/**
 * Keras' Normalization layer (tf_keras/layers/preprocessing/normalization.py), which tfjs 4.22
 * lacks: `y = (x - mean) / max(sqrt(variance), 1e-7)` per position of the kept `axis`
 * (`invert: true` undoes it: `y = mean + x * max(sqrt(variance), 1e-7)`).
 *
 * Without `mean`/`variance` arguments the layer holds them as non-trainable weights, in Keras'
 * order and names: `mean` (zeros), `variance` (ones), `count` (a scalar, the number of samples
 * `adapt` saw; int64 in Keras, float32 here since tfjs has no int64). That is how EfficientNet
 * builds it, and its weight file carries the ImageNet values. Note that Keras' EfficientNet
 * files store the standard deviations [0.229, 0.224, 0.225] as the `variance` (the layer then
 * divides by their square roots); Keras' EfficientNet compensates with a Rescaling layer after
 * this one when `weights: 'imagenet'` (see lib/applications/efficientnet.ts). This layer computes
 * exactly what Keras computes with whatever the file holds.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../core/errors';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** Keras' backend.epsilon(): the smallest standard deviation the layer divides by. */
export const NORMALIZATION_EPSILON = 1e-7;

export interface NormalizationArgs extends LayerArgs {
  /**
   * The axis or axes that keep their own mean and variance (e.g. the channels); the others are
   * reduced. null: one mean and variance for everything. Defaults to -1 (the last axis).
   */
  axis?: number | number[] | null;
  /** A fixed mean (a number, or one per kept position); with it the layer has no weights. Defaults to none (weights). */
  mean?: number | number[];
  /** A fixed variance, given together with `mean`. Defaults to none (weights). */
  variance?: number | number[];
  /** Whether to undo the normalisation instead: `mean + x * sqrt(variance)`. Defaults to false. */
  invert?: boolean;
}

function checkStatistic(name: string, value: unknown): number | number[] | undefined {
  if (value === undefined || value === null) return undefined;
  const ok = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (ok(value)) return value as number;
  if (Array.isArray(value) && value.length > 0 && value.every(ok)) return [...value] as number[];
  throw new ValueError(
    `Normalization: \`${name}\` must be a finite number or an array of them. Received ${name}=${JSON.stringify(value)}.`,
  );
}

/**
 * Keras' Normalization layer, which tfjs 4.22 lacks: `y = (x - mean) / max(sqrt(variance), 1e-7)`
 * per position of the kept `axis` (`invert: true` undoes it). Without fixed `mean` and `variance`
 * it holds them as non-trainable weights `mean`, `variance` and `count`, as Keras does (how
 * EfficientNet builds it). Made by {@link normalization}; registered for serialisation as 'Normalization'.
 */
export class Normalization extends tf.layers.Layer {
  /** The name tfjs serialises this layer under. */
  static className = 'Normalization';
  /** The kept axes as given (Keras' `axis`, standardised to a list; [] for null). */
  readonly axis: number[];
  /** Whether the layer undoes the normalisation: `mean + x * sqrt(variance)`. */
  readonly invert: boolean;
  /** The fixed mean given as an argument, if any (otherwise the mean is a weight). */
  readonly inputMean?: number | number[];
  /** The fixed variance given as an argument, if any (otherwise the variance is a weight). */
  readonly inputVariance?: number | number[];
  private broadcastShape: number[] = [];
  private keptShape: number[] = [];
  private meanWeight?: tf.LayerVariable;
  private varianceWeight?: tf.LayerVariable;

  constructor(args: NormalizationArgs = {}) {
    super(args);
    const axis = args.axis === undefined ? -1 : args.axis;
    this.axis = axis === null ? [] : typeof axis === 'number' ? [axis] : [...axis];
    if (!this.axis.every((a) => Number.isInteger(a))) {
      throw new ValueError(
        `Normalization: \`axis\` must be an integer, an array of integers or null. Received axis=${JSON.stringify(args.axis)}.`,
      );
    }
    this.inputMean = checkStatistic('mean', args.mean);
    this.inputVariance = checkStatistic('variance', args.variance);
    if ((this.inputMean === undefined) !== (this.inputVariance === undefined)) {
      throw new ValueError(
        `Normalization: when setting values directly, both \`mean\` and \`variance\` must be set. ` +
          `Received mean=${JSON.stringify(args.mean)} and variance=${JSON.stringify(args.variance)}.`,
      );
    }
    this.invert = args.invert ?? false;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    if (Array.isArray(inputShape[0])) {
      throw new ValueError(`Normalization '${this.name}' takes a single input; received ${inputShape.length}.`);
    }
    const shape = inputShape as tf.Shape;
    const ndim = shape.length;
    if (this.axis.some((a) => a < -ndim || a >= ndim)) {
      throw new ValueError(
        `Normalization '${this.name}': all \`axis\` values must be in the range [-${ndim}, ${ndim}). Found ndim: ${ndim}, axis: [${this.axis.join(', ')}].`,
      );
    }
    const keep = [...new Set(this.axis.map((a) => (a < 0 ? a + ndim : a)))].sort((a, b) => a - b);
    for (const d of keep) {
      if (shape[d] === null) {
        throw new ValueError(
          `Normalization '${this.name}': all \`axis\` values to be kept must have a known size. ` +
            `Got axis: [${this.axis.join(', ')}], input shape: [${shape.join(', ')}], with unknown axis at index: ${d}.`,
        );
      }
    }
    this.keptShape = keep.map((d) => shape[d] as number);
    this.broadcastShape = shape.map((d, i) => (keep.includes(i) ? (d as number) : 1));
    const size = this.keptShape.reduce((a, b) => a * b, 1);
    for (const [name, value] of [
      ['mean', this.inputMean],
      ['variance', this.inputVariance],
    ] as const) {
      if (Array.isArray(value) && value.length !== 1 && value.length !== size) {
        throw new ValueError(
          `Normalization '${this.name}': \`${name}\` has ${value.length} values, expected 1 or ${size} (the kept shape [${this.keptShape.join(', ')}]).`,
        );
      }
    }
    if (this.inputMean === undefined) {
      this.meanWeight = this.addWeight('mean', this.keptShape, 'float32', tf.initializers.zeros(), undefined, false);
      this.varianceWeight = this.addWeight('variance', this.keptShape, 'float32', tf.initializers.ones(), undefined, false);
      this.addWeight('count', [], 'float32', tf.initializers.zeros(), undefined, false);
    }
    this.built = true;
  }

  /** The mean and variance as tensors of the broadcast shape (the caller disposes them). */
  statistics(): { mean: tf.Tensor; variance: tf.Tensor } {
    const fixed = (v: number | number[]) =>
      tf.reshape(tf.mul(tf.ones(this.keptShape), typeof v === 'number' ? tf.scalar(v) : tf.tensor(v)), this.broadcastShape);
    return tf.tidy(() => {
      if (this.meanWeight && this.varianceWeight) {
        return {
          mean: tf.reshape(this.meanWeight.read(), this.broadcastShape),
          variance: tf.reshape(this.varianceWeight.read(), this.broadcastShape),
        };
      }
      return { mean: fixed(this.inputMean as number | number[]), variance: fixed(this.inputVariance as number | number[]) };
    });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return inputShape as tf.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const values = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
      const { mean, variance } = this.statistics();
      const std = tf.maximum(tf.sqrt(variance), NORMALIZATION_EPSILON);
      return this.invert ? tf.add(mean, tf.mul(values, std)) : tf.div(tf.sub(values, mean), std);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      axis: this.axis,
      invert: this.invert,
      mean: this.inputMean ?? null,
      variance: this.inputVariance ?? null,
    };
  }
}
tf.serialization.registerClass(Normalization);

/** `normalization({ axis: 3 })`: Keras' `layers.Normalization(axis=3)`. */
export function normalization(args: NormalizationArgs = {}): Normalization {
  return new Normalization(args);
}
