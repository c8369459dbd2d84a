/**
 * Dense layers initialised like Keras.
 *
 * Keras' `layers.Dense` draws its kernel from glorot_uniform (uniform in ±sqrt(6 / (fan_in +
 * fan_out))) and starts its bias at zero; tfjs' `tf.layers.dense` defaults to glorotNormal
 * (tfjs-layers src/layers/core.ts), which changes what a freshly built model computes and how it trains.
 */
import * as tf from '@tensorflow/tfjs';

export type DenseArgs = Parameters<typeof tf.layers.dense>[0];

/**
 * `tf.layers.dense` with Keras' defaults: `kernelInitializer: 'glorotUniform'`,
 * `biasInitializer: 'zeros'`. Any argument given explicitly wins.
 */
export function dense(args: DenseArgs): tf.layers.Layer {
  return tf.layers.dense({ kernelInitializer: 'glorotUniform', biasInitializer: 'zeros', ...args });
}
