/**
 * A stand-in for the ImageNet weights where they cannot be had (no internet, CI), written as a
 * Keras-layout .h5 file that the application (`DenseNet121({ weights: path })`, ...) loads like
 * the real one.
 *
 * Keras' random initialisation alone is a poor stand-in: with every BatchNormalization at its
 * initial statistics (mean 0, variance 1), activations shrink layer after layer and the pooled
 * features of a random DenseNet121 are tiny (standard deviation ~0.03). The head's
 * BatchNormalization then needs hundreds of updates before its moving variance, starting at 1,
 * reaches theirs; early stopping ends the run first and validation accuracy stays at chance, in
 * Keras as here. A pre-trained network's BatchNormalization statistics match the activations its
 * data produces. The stand-in keeps Keras' random kernels and sets each BatchNormalization's
 * moving mean and variance to the statistics of its input on the learner's own images, layer
 * after layer, which is what pre-training leaves them at. A network without BatchNormalization
 * (VGG16) gets the same effect by scaling each ReLU layer's kernel so its output has unit
 * root-mean-square on those images (LSUV initialisation, Mishkin & Matas 2016).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import * as applications from '../applications';
import { ApplicationArgs } from '../applications/build-steps';
import { ValueError } from '../core/errors';
import { fingerprintTensorAsync } from '../features/fingerprint';
import { canReadSync } from '../core/tensor-reads';
import { upscale } from '../layers/upscale';
import { runLayerwise } from '../graph/layerwise';
import { saveRandomState, setRandomSeed } from '../core/random';
import { saveWeightsH5 } from '../weights/h5';
import { tslabCacheDir } from '../weights/imagenet';
import { sharedCacheStats, sharedFile } from '../core/shared-cache';
import { CALIBRATION_IMAGES } from '../settings/lesson-environment';

/** Options of {@link standInWeights}: the calibration images, input size, seed, and where the file goes. */
export interface StandInOptions {
  /** Images [n, height, width, 3] the statistics come from (scaled as the model will see them). At most `calibrationImages` are used. */
  images: tf.Tensor;
  /** Side of the upscaled input. Defaults to 160, as the lesson. */
  size?: number;
  /** Seed of the random kernels. Defaults to 2, as the lesson. */
  seed?: number;
  /** How many images to compute the statistics on. Defaults to 16. */
  calibrationImages?: number;
  /**
   * Where the file goes. Defaults to tslab-dl's model cache, `models/standin/` under its root; a
   * file missing there is then also looked for in the instructor's shared cache (verified, never written).
   */
  folder?: string;
}

/** A builder of `applications` (DenseNet121, MobileNetV2, ...), or its name. */
export type StandInModel = string | ((args: never) => Promise<tf.LayersModel>);

const APPLICATION_NAMES = Object.keys(applications).filter(
  (name) => /^[A-Z]/.test(name) && typeof (applications as Record<string, unknown>)[name] === 'function',
);

function resolveBuilder(model: StandInModel): { name: string; build: (args: ApplicationArgs) => Promise<tf.LayersModel> } {
  const build = typeof model === 'string' ? (applications as Record<string, unknown>)[model] : model;
  const name = typeof model === 'string' ? model : ((model as { name?: string } | undefined)?.name ?? '');
  if (typeof build !== 'function' || !APPLICATION_NAMES.includes(name)) {
    throw new ValueError(
      `standInWeights: model must be one of ${APPLICATION_NAMES.join(', ')} (a name or the builder). Received ${typeof model === 'string' ? `'${model}'` : String(name ?? model)}.`,
    );
  }
  return { name, build: build as (args: ApplicationArgs) => Promise<tf.LayersModel> };
}

/**
 * The path of a weights file (no top) for `model` with Keras' random kernels calibrated on
 * `images`; made once per (model, images, size, seed) and then reused.
 */
export async function standInWeights(model: StandInModel, options: StandInOptions): Promise<string> {
  const { name, build } = resolveBuilder(model);
  const { images, size = 160, seed = 2, calibrationImages = CALIBRATION_IMAGES } = options;
  if (!(images instanceof tf.Tensor) || images.rank !== 4 || images.shape[3] !== 3 || images.shape[0] === 0) {
    throw new ValueError(
      `standInWeights: options.images must be a non-empty batch of RGB images [n, height, width, 3]. Received ${images instanceof tf.Tensor ? `a tensor of shape [${images.shape}]` : typeof images}.`,
    );
  }
  const sample = images.slice(0, Math.min(calibrationImages, images.shape[0]));
  const key = createHash('sha256')
    .update(`${await fingerprintTensorAsync(sample)}|${size}|${seed}`)
    .digest('hex')
    .slice(0, 16);
  const folder = options.folder ?? path.join(tslabCacheDir(), 'standin');
  const file = path.join(folder, `${name.toLowerCase()}_standin_${key}_notop.h5`);
  if (fs.existsSync(file)) {
    sample.dispose();
    return file;
  }
  if (options.folder === undefined) {
    const shared = await sharedFile(path.join('models', 'standin', path.basename(file)), {
      fallback: 'making the stand-in weights in your own cache instead',
    });
    if (shared.status === 'verified') {
      sharedCacheStats.standInHits++;
      sample.dispose();
      return shared.path;
    }
  }

  const restoreRandom = saveRandomState();
  setRandomSeed(seed);
  const inputs = tf.input({ shape: images.shape.slice(1) });
  const upscaled = upscale({ height: size, width: size }).apply(inputs) as tf.SymbolicTensor;
  let base: tf.LayersModel | undefined;
  try {
    base = await build({ includeTop: false, pooling: 'max', weights: null, inputTensor: upscaled, inputShape: [size, size, 3] });
    calibrate(base, sample);
    fs.mkdirSync(folder, { recursive: true });
    // saveWeightsH5 writes a temporary file and renames it: no half-written stand-in is ever reused.
    await saveWeightsH5(base, file);
  } finally {
    restoreRandom();
    sample.dispose();
    base?.dispose();
  }
  return file;
}

/** The lesson's stand-in: {@link standInWeights} for DenseNet121. */
export function denseNet121StandInWeights(options: StandInOptions): Promise<string> {
  return standInWeights('DenseNet121', options);
}

/**
 * Runs `model` on `x` layer by layer in inference mode and, on the way, sets each
 * BatchNormalization's moving statistics to the moments of its input (or, in a network
 * without BatchNormalization, scales each ReLU layer to unit output RMS). Each layer is thus
 * calibrated on what the layers before it, already calibrated, produce.
 */
function calibrate(model: tf.LayersModel, x: tf.Tensor): void {
  const hasBatchNorm = containsBatchNorm(model);
  const outputs = runLayerwise(model, [x], {
    beforeLayer(layer, inputs) {
      if (layer.getClassName() === 'BatchNormalization') setMovingStatistics(layer, inputs[0]);
    },
    afterLayer(layer, ys) {
      return !hasBatchNorm && isPositivelyHomogeneous(layer) ? [scaleToUnitRms(layer, ys[0]), ...ys.slice(1)] : ys;
    },
  });
  tf.dispose(outputs);
}

function containsBatchNorm(model: tf.LayersModel): boolean {
  return model.layers.some((l) => (l instanceof tf.LayersModel ? containsBatchNorm(l) : l.getClassName() === 'BatchNormalization'));
}

function weightNamed(layer: tf.layers.Layer, suffix: string): tf.LayerVariable | undefined {
  return layer.weights.find((w) => w.originalName.endsWith(suffix));
}

/** Moving mean and variance := the moments of `input` over every axis but the layer's. */
function setMovingStatistics(layer: tf.layers.Layer, input: tf.Tensor): void {
  const axis = (layer.getConfig().axis as number | undefined) ?? -1;
  const channel = axis < 0 ? input.rank + axis : axis;
  const reduce = Array.from({ length: input.rank }, (_, i) => i).filter((i) => i !== channel);
  const mean = weightNamed(layer, 'moving_mean');
  const variance = weightNamed(layer, 'moving_variance');
  if (!mean || !variance) throw new Error(`standInWeights: ${layer.name} has no moving statistics to calibrate.`);
  tf.tidy(() => {
    const moments = tf.moments(input, reduce);
    mean.write(moments.mean);
    variance.write(moments.variance);
  });
}

/** A layer with a kernel whose output scales with it: ReLU or linear activation. */
function isPositivelyHomogeneous(layer: tf.layers.Layer): boolean {
  if (!weightNamed(layer, 'kernel')) return false;
  const activation = layer.getConfig().activation;
  return activation === 'relu' || activation === 'linear' || activation === undefined;
}

/** Scales the layer's kernel and bias by 1 / RMS(y), and y with them (exact for ReLU). */
function scaleToUnitRms(layer: tf.layers.Layer, y: tf.Tensor): tf.Tensor {
  if (!canReadSync()) return scaleToUnitRmsOnDevice(layer, y);
  const rmsTensor = tf.tidy(() => tf.sqrt(tf.mean(tf.square(y))));
  const rms = rmsTensor.dataSync()[0];
  rmsTensor.dispose();
  if (!(rms > 0) || !Number.isFinite(rms)) return y;
  for (const suffix of ['kernel', 'bias']) {
    const w = weightNamed(layer, suffix);
    if (w) {
      const scaled = tf.div(w.read(), rms);
      w.write(scaled);
      scaled.dispose();
    }
  }
  const scaled = tf.div(y, rms);
  y.dispose();
  return scaled;
}

/**
 * {@link scaleToUnitRms} without reading the RMS (webgpu cannot read a result computed on the GPU
 * synchronously, lib/core/tensor-reads.ts): divides by it where it is positive and finite, else by 1,
 * which changes nothing, as the synchronous version leaves such a layer alone.
 */
function scaleToUnitRmsOnDevice(layer: tf.layers.Layer, y: tf.Tensor): tf.Tensor {
  const divisor = tf.tidy(() => {
    const rms = tf.sqrt(tf.mean(tf.square(y)));
    return tf.where(tf.logicalAnd(tf.greater(rms, 0), tf.isFinite(rms)), rms, tf.onesLike(rms));
  });
  for (const suffix of ['kernel', 'bias']) {
    const w = weightNamed(layer, suffix);
    if (w) {
      const scaled = tf.div(w.read(), divisor);
      w.write(scaled);
      scaled.dispose();
    }
  }
  const scaled = tf.div(y, divisor);
  y.dispose();
  divisor.dispose();
  return scaled;
}
