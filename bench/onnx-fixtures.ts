/**
 * Fixtures shared by the ONNX executor's tests and benchmark: random weights
 * (including BatchNormalization statistics, which a fresh model has at 0 and 1,
 * hiding any mix-up between mean, variance, gamma and beta), random images,
 * and the error measure the acceptance criterion uses.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Gives every BatchNormalization random gamma/beta/moving statistics and every
 * bias random values; kernels keep their (random) initialisation. Deterministic for a seed.
 */
export function randomizeWeights(model: tf.LayersModel | tf.layers.Layer, seed = 1): void {
  let s = seed;
  const uniform = (shape: number[], lo: number, hi: number) => tf.randomUniform(shape, lo, hi, 'float32', s++);
  const layers = 'layers' in model ? allLayers(model as tf.LayersModel) : [model];
  for (const layer of layers) {
    if (layer.weights.length === 0) continue;
    const values = layer.weights.map((w) => {
      const name = w.originalName ?? w.name;
      const shape = w.shape as number[];
      if (/moving_variance/.test(name)) return uniform(shape, 0.5, 1.5);
      if (/moving_mean/.test(name)) return uniform(shape, -0.5, 0.5);
      if (/gamma/.test(name)) return uniform(shape, 0.5, 1.5);
      if (/beta|bias/.test(name)) return uniform(shape, -0.2, 0.2);
      if (/alpha/.test(name)) return uniform(shape, 0, 0.5);
      return w.read().clone();
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

function allLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.flatMap((l) => ('layers' in l ? allLayers(l as unknown as tf.LayersModel) : [l]));
}

/** Images with values uniform in [lo, hi), deterministic for a seed. */
export function randomImages(shape: number[], seed = 7, lo = 0, hi = 1): tf.Tensor {
  return tf.randomUniform(shape, lo, hi, 'float32', seed);
}

/** max |actual - expected| / max |expected|: the acceptance measure (< 1e-4). */
export function relativeError(actual: tf.Tensor, expected: tf.Tensor): number {
  return tf.tidy(() => {
    const diff = tf.max(tf.abs(tf.sub(actual, expected))).dataSync()[0];
    const scale = tf.max(tf.abs(expected)).dataSync()[0];
    return scale === 0 ? diff : diff / scale;
  });
}
