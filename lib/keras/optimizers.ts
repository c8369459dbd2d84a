/**
 * `keras.optimizers`: Adam, SGD and RMSprop with Keras 3's defaults, as tfjs optimizers for
 * `model.compile({ optimizer })`.
 *
 * tfjs' factories take positional arguments and some have no default learning rate
 * (`tf.train.sgd(lr)`); Adam and RMSprop without an explicit epsilon take the backend's epsilon,
 * which is 1e-4 on float16 backends (WebGL without float32 textures) instead of Keras' 1e-7.
 * Here every hyper-parameter is passed explicitly, so the optimizer is the same on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { checkInRange, checkPositiveNumber, withDefaults } from './arguments';

export interface AdamArgs {
  /** Step size. Defaults to 0.001. */
  learningRate?: number;
  /** Decay rate of the first-moment estimates (Keras' beta_1). Defaults to 0.9. */
  beta1?: number;
  /** Decay rate of the second-moment estimates (Keras' beta_2). Defaults to 0.999. */
  beta2?: number;
  /** Small constant for numerical stability. Defaults to 1e-7. */
  epsilon?: number;
}

/**
 * Keras' `Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)`
 * (keras/src/optimizers/adam.py): `keras.optimizers.Adam({ learningRate: 1e-3 })`.
 */
export function Adam(args: AdamArgs = {}): tf.AdamOptimizer {
  const { learningRate, beta1, beta2, epsilon } = withDefaults({ learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }, args);
  checkPositiveNumber('Adam', 'learningRate', learningRate, 'Keras uses 0.001.');
  checkInRange('Adam', 'beta1', beta1, 0, 1, true);
  checkInRange('Adam', 'beta2', beta2, 0, 1, true);
  checkPositiveNumber('Adam', 'epsilon', epsilon, 'Keras uses 1e-7.');
  return tf.train.adam(learningRate, beta1, beta2, epsilon);
}

export interface SGDArgs {
  /** Step size. Defaults to 0.01. */
  learningRate?: number;
  /** Momentum in [0, 1]; 0 is plain gradient descent. Defaults to 0. */
  momentum?: number;
  /** Whether to use Nesterov momentum (only with momentum > 0). Defaults to false. */
  nesterov?: boolean;
}

/**
 * Keras' `SGD(learning_rate=0.01, momentum=0.0, nesterov=False)` (keras/src/optimizers/sgd.py):
 * tfjs' `tf.train.sgd` without momentum, `tf.train.momentum` with it (the same updates for a
 * constant learning rate: tfjs accumulates gradients, Keras learning-rate-scaled gradients).
 */
export function SGD(args: SGDArgs = {}): tf.SGDOptimizer | tf.MomentumOptimizer {
  const { learningRate, momentum, nesterov } = withDefaults({ learningRate: 0.01, momentum: 0, nesterov: false }, args);
  checkPositiveNumber('SGD', 'learningRate', learningRate, 'Keras uses 0.01.');
  // keras/src/optimizers/sgd.py: "`momentum` must be a float between [0, 1]."
  checkInRange('SGD', 'momentum', momentum, 0, 1);
  // Keras keeps no momentum variable when momentum is 0, whatever `nesterov` says.
  return momentum === 0 ? tf.train.sgd(learningRate) : tf.train.momentum(learningRate, momentum, nesterov);
}

export interface RMSpropArgs {
  /** Step size. Defaults to 0.001. */
  learningRate?: number;
  /** Discounting factor of the moving average of squared gradients (tfjs' `decay`). Defaults to 0.9. */
  rho?: number;
  /** Momentum; 0 for none. Defaults to 0. */
  momentum?: number;
  /** Small constant for numerical stability. Defaults to 1e-7. */
  epsilon?: number;
  /** Normalise by the estimated variance instead of the second moment. Defaults to false. */
  centered?: boolean;
}

/**
 * Keras' `RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False)`
 * (keras/src/optimizers/rmsprop.py): `keras.optimizers.RMSprop({ learningRate: 1e-3 })`.
 */
export function RMSprop(args: RMSpropArgs = {}): tf.RMSPropOptimizer {
  const { learningRate, rho, momentum, epsilon, centered } = withDefaults(
    { learningRate: 0.001, rho: 0.9, momentum: 0, epsilon: 1e-7, centered: false },
    args,
  );
  checkPositiveNumber('RMSprop', 'learningRate', learningRate, 'Keras uses 0.001.');
  checkInRange('RMSprop', 'rho', rho, 0, 1, true);
  checkInRange('RMSprop', 'momentum', momentum, 0, 1);
  checkPositiveNumber('RMSprop', 'epsilon', epsilon, 'Keras uses 1e-7.');
  return tf.train.rmsprop(learningRate, rho, momentum, epsilon, centered);
}
