/**
 * Keras' Flatten: (batch, d1, d2, ...) -> (batch, d1 * d2 * ...).
 *
 * tfjs' Flatten requires rank >= 3; Keras accepts any rank: a (batch, 1024) input, such as
 * DenseNet121's pooled output in the lesson, passes through unchanged, and (batch,) becomes
 * (batch, 1) (tfjs-layers src/layers/core.ts: `minNDim: 3`; keras/src/layers/reshaping/flatten.py).
 *
 * The class registers under tfjs' own name 'Flatten', so models saved with it load in plain
 * tfjs, and models saved by Keras or tfjs load with Keras' behaviour once tslab-dl is imported.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../core/errors';

export interface FlattenArgs {
  /** 'channelsLast' (Keras' default) or 'channelsFirst'. Defaults to 'channelsLast'. */
  dataFormat?: 'channelsFirst' | 'channelsLast';
  /** Layer name. Defaults to a unique 'flatten_N'. */
  name?: string;
  /** Used only when this is a model's first layer. Defaults to none. */
  inputShape?: tf.Shape;
  /** Like inputShape, with the batch axis first. Defaults to none. */
  batchInputShape?: tf.Shape;
  /** Flatten has no weights; kept for Keras' Layer arguments. Defaults to true. */
  trainable?: boolean;
}

type ShapeArg = tf.Shape | tf.Shape[];

function singleShape(shape: ShapeArg): tf.Shape {
  return Array.isArray(shape[0]) ? (shape as tf.Shape[])[0] : (shape as tf.Shape);
}

/**
 * Keras' Flatten: (batch, d1, d2, ...) to (batch, d1 * d2 * ...), in channels-last order. Unlike
 * tfjs' own Flatten it accepts any rank: (batch, 1024), such as DenseNet121's pooled output in the
 * lesson, passes through unchanged, and (batch,) becomes (batch, 1). Made by {@link flatten} and
 * `keras.layers.Flatten()`; registered under tfjs' name 'Flatten'.
 */
export class Flatten extends tf.layers.Layer {
  /** The name tfjs serialises this layer under (tfjs' own 'Flatten'). */
  static className = 'Flatten';
  /** The order of the input's axes: 'channelsLast' (the default when undefined) or 'channelsFirst'. */
  readonly dataFormat?: 'channelsFirst' | 'channelsLast';

  constructor(args: FlattenArgs = {}) {
    super(args);
    if (args.dataFormat !== undefined && args.dataFormat !== 'channelsFirst' && args.dataFormat !== 'channelsLast') {
      throw new ValueError(
        `flatten({ dataFormat }): expected 'channelsLast' or 'channelsFirst'. Received ${JSON.stringify(args.dataFormat)}.`,
      );
    }
    this.dataFormat = args.dataFormat;
    this.inputSpec = [{ minNDim: 1 }];
  }

  override computeOutputShape(inputShape: ShapeArg): tf.Shape {
    const shape = singleShape(inputShape);
    const rest = shape.slice(1);
    if (rest.some((d) => d == null)) {
      throw new ValueError(
        `flatten(): the input shape [${shape.map((d) => d ?? 'null')}] is not fully defined after the batch axis; ` +
          `give the model input a complete shape, e.g. tf.input({ shape: [64, 64, 3] }).`,
      );
    }
    return [shape[0], rest.reduce((a: number, b) => a * (b as number), 1)];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      let x = Array.isArray(inputs) ? inputs[0] : inputs;
      if (x.rank === 2) return x.clone(); // Keras: already flat
      if (this.dataFormat === 'channelsFirst' && x.rank > 2) {
        // Flatten in channels-last order, as Keras does for channels_first data.
        x = tf.transpose(x, [0, ...Array.from({ length: x.rank - 2 }, (_, i) => i + 2), 1]);
      }
      return tf.reshape(x, [x.shape[0], -1]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = {};
    if (this.dataFormat !== undefined) config.dataFormat = this.dataFormat;
    return { ...config, ...super.getConfig() };
  }
}
tf.serialization.registerClass(Flatten);

/** Keras' `layers.Flatten()`: flattens all axes after the batch axis; rank 2 passes through. */
export function flatten(args: FlattenArgs = {}): Flatten {
  return new Flatten(args);
}
