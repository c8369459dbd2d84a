/**
 * Fixtures shared by the ONNX executor's tests and benchmark: random weights
 * (including BatchNormalization statistics, which a fresh model has at 0 and 1,
 * hiding any mix-up between mean, variance, gamma and beta), random images,
 * and the error measure the acceptance criterion uses.
 */
import * as tf from '@tensorflow/tfjs';
import { flattenLayerGraph } from '../lib/onnx/layer-graph';

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

/**
 * Sets every BatchNormalization's moving statistics close to the statistics of its
 * input on `x` (mean shifted by up to 0.1 standard deviation, variance scaled by
 * 0.8..1.25), layer by layer in one pass, with random gamma and beta.
 *
 * With statistics drawn blindly, a deep random network's activations drift far
 * from zero mean and unit variance, and its output hardly depends on the image,
 * so comparing two engines on it proves little. Calibrated, the features vary
 * across images as a trained network's do.
 */
export function calibrateBatchNorm(model: tf.LayersModel, x: tf.Tensor, seed = 1): void {
  const graph = flattenLayerGraph(model);
  if (graph.inputs.length !== 1) throw new Error('calibrateBatchNorm: the model must have one input');
  let s = seed;
  const uniform = (shape: number[], lo: number, hi: number) => tf.randomUniform(shape, lo, hi, 'float32', s++);
  tf.tidy(() => {
    const env = new Map<string, tf.Tensor>([[graph.inputs[0].key, tf.cast(x, 'float32')]]);
    for (const call of graph.calls) {
      const inputs = call.inputKeys.map((k) => env.get(k)!);
      const layer = call.layer;
      if (layer.getClassName() === 'BatchNormalization') {
        const config = layer.getConfig();
        const rank = inputs[0].rank;
        const axis = ((config.axis as number) + rank) % rank;
        const reduce = [...Array(rank).keys()].filter((a) => a !== axis);
        const { mean, variance } = tf.moments(inputs[0], reduce);
        const channels = mean.shape[0]!;
        const std = tf.sqrt(tf.add(variance, 1e-6));
        const weights: tf.Tensor[] = [];
        for (const w of layer.weights) {
          const name = w.originalName ?? w.name;
          if (/moving_mean/.test(name)) weights.push(tf.add(mean, tf.mul(std, uniform([channels], -0.1, 0.1))));
          else if (/moving_variance/.test(name)) weights.push(tf.mul(variance, uniform([channels], 0.8, 1.25)));
          else if (/gamma/.test(name)) weights.push(uniform([channels], 0.5, 1.5));
          else weights.push(uniform([channels], -0.2, 0.2));
        }
        layer.setWeights(weights);
      }
      const y = layer.apply(inputs.length === 1 ? inputs[0] : inputs, { ...call.callArgs, training: false });
      (Array.isArray(y) ? y : [y]).forEach((t, i) => env.set(call.outputKeys[i], t as tf.Tensor));
    }
  });
}

/** The spread of a batch of outputs: standard deviation across samples relative to the mean magnitude. */
export function spreadAcrossSamples(y: tf.Tensor): number {
  return tf.tidy(() => tf.moments(y, 0).variance.mean().sqrt().div(y.abs().mean()).dataSync()[0]);
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
