/**
 * A stand-in for the ImageNet weights where they cannot be had (no internet, CI), written as a
 * Keras-layout .h5 file that `DenseNet121({ weights: path })` loads like the real one.
 *
 * Keras' random initialisation alone is a poor stand-in: with every BatchNormalization at its
 * initial statistics (mean 0, variance 1), activations shrink layer after layer and the pooled
 * features of a random DenseNet121 are tiny (standard deviation ~0.03). The head's
 * BatchNormalization then needs hundreds of updates before its moving variance, starting at 1,
 * reaches theirs; early stopping ends the run first and validation accuracy stays at chance, in
 * Keras as here. A pre-trained network's BatchNormalization statistics match the activations its
 * data produces. The stand-in keeps Keras' random convolution kernels and sets each
 * BatchNormalization's moving mean and variance to the batch statistics of the learner's own
 * images (one forward pass in training mode), which is what pre-training leaves them at.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { DenseNet121 } from './applications/densenet';
import { fingerprintTensor } from './features/fingerprint';
import { upscale } from './layers/upscale';
import { randomSeed, setRandomSeed } from './random';
import { saveWeightsH5 } from './weights/h5';
import { tslabCacheDir } from './weights/imagenet';

export interface StandInOptions {
  /** Images the statistics come from (scaled as the model will see them). At most `calibrationImages` are used. */
  images: tf.Tensor4D;
  /** Side of the upscaled input. Defaults to 160, as the lesson. */
  size?: number;
  /** Seed of the random kernels. Defaults to 2, as the lesson. */
  seed?: number;
  /** How many images to compute the statistics on (one batch: wasm memory bounds it). Defaults to 16. */
  calibrationImages?: number;
  /** Where the file goes. Defaults to tslab-dl's model cache. */
  folder?: string;
}

type BatchNormalizationLayer = tf.layers.Layer & { momentum: number };

/**
 * The path of a DenseNet121 (no top) weights file with Keras' random kernels and BatchNormalization
 * statistics calibrated on `images`; made once per (images, size, seed) and then reused.
 */
export async function denseNet121StandInWeights(options: StandInOptions): Promise<string> {
  const { images, size = 160, seed = 2, calibrationImages = 16 } = options;
  const sample = images.slice(0, Math.min(calibrationImages, images.shape[0]));
  const key = createHash('sha256').update(`${fingerprintTensor(sample)}|${size}|${seed}`).digest('hex').slice(0, 16);
  const folder = options.folder ?? path.join(tslabCacheDir(), 'standin');
  const file = path.join(folder, `densenet121_standin_${key}_notop.h5`);
  if (fs.existsSync(file)) {
    sample.dispose();
    return file;
  }

  const previousSeed = randomSeed();
  setRandomSeed(seed);
  const inputs = tf.input({ shape: images.shape.slice(1) });
  const upscaled = upscale({ height: size, width: size }).apply(inputs) as tf.SymbolicTensor;
  let base: tf.LayersModel | undefined;
  try {
    base = await DenseNet121({ includeTop: false, pooling: 'max', weights: null, inputTensor: upscaled, inputShape: [size, size, 3] });
    const norms = base.layers.filter((l) => l.getClassName() === 'BatchNormalization') as BatchNormalizationLayer[];
    // Momentum 0: one training-mode pass sets each moving statistic to its batch statistic.
    // Each layer then normalises with statistics of activations that the layers before it,
    // already calibrated, produce.
    for (const layer of norms) layer.momentum = 0;
    tf.tidy(() => {
      base!.apply(sample, { training: true });
    });
    for (const layer of norms) layer.momentum = 0.99;
    fs.mkdirSync(folder, { recursive: true });
    await saveWeightsH5(base, file);
  } finally {
    setRandomSeed(previousSeed);
    sample.dispose();
    base?.dispose();
  }
  return file;
}
