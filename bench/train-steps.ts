/**
 * Training speed on the wasm backend against PyTorch on the same machine, in the same run:
 *
 * - the Carpentries episode-4 CNN (Conv2D 50 3x3 relu, MaxPooling2D, Conv2D 50, MaxPooling2D,
 *   Flatten, Dense 50 relu, Dense 10; 64x64x3 images, batch 32, adam): one epoch;
 * - fine-tuning DenseNet121's top (from conv5_block16_0_bn on, BatchNormalization in inference
 *   mode, the lesson's head): one epoch on features cached at the cut;
 * - one augmented epoch of the lesson (random flips before the frozen DenseNet121): the base runs
 *   on the prefix engine for every image.
 *
 * PyTorch's figures come from bench/python/train_peers.py (Debian's python3-torch); each figure is
 * the median of a few epochs after a warm-up one.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { clearFeatureMemory, featureStats, keras, ready, setTrainable, tfjsFit, upscale } from '../lib';

export interface TrainStepFigures {
  images: number;
  cnn: { wasmSecondsPerEpoch: number; torchSecondsPerEpoch?: number; ratioToTorch?: number };
  densenetTop: { wasmSecondsPerEpoch: number; torchSecondsPerEpoch?: number; ratioToTorch?: number };
  augmentedEpoch: { images: number; seconds: number; imagesPerSecond: number; baseImagesPerEpoch: number; layer: string };
  torchThreads?: number;
  torchError?: string;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Median seconds per epoch of `fit` run for 1 + `repeats` epochs in one call, the first left out
 * (kernels set up, features cached): what an epoch costs, without the call's own set-up.
 */
async function epochSeconds(fit: (args: tf.ModelFitArgs) => Promise<unknown>, repeats: number): Promise<number> {
  const times: number[] = [];
  let started = 0;
  await fit({
    batchSize: 32,
    epochs: repeats + 1,
    verbose: 0,
    callbacks: {
      onEpochBegin: async () => void (started = performance.now()),
      onEpochEnd: async (epoch) => void (epoch > 0 && times.push((performance.now() - started) / 1000)),
    },
  });
  return median(times);
}

function lossAndMetrics() {
  return { loss: keras.losses.SparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] };
}

async function cnnEpoch(x: tf.Tensor, y: tf.Tensor, repeats: number): Promise<number> {
  keras.utils.setRandomSeed(1);
  const inputs = keras.Input([64, 64, 3]);
  let h = keras.layers.Conv2D(50, [3, 3], { activation: 'relu' }).apply(inputs);
  h = keras.layers.MaxPooling2D([2, 2]).apply(h);
  h = keras.layers.Conv2D(50, [3, 3], { activation: 'relu' }).apply(h);
  h = keras.layers.MaxPooling2D([2, 2]).apply(h);
  h = keras.layers.Flatten().apply(h);
  h = keras.layers.Dense(50, { activation: 'relu' }).apply(h);
  const model = keras.Model({ inputs, outputs: keras.layers.Dense(10).apply(h) });
  model.compile({ optimizer: 'adam', ...lossAndMetrics() });
  try {
    return await epochSeconds((args) => tfjsFit(model, x, y, args), repeats);
  } finally {
    model.dispose();
  }
}

/** The lesson's model on 64x64 images upscaled to 160, with `before` applied to the input. */
async function lessonModel(before?: (t: tf.SymbolicTensor) => tf.SymbolicTensor): Promise<tf.LayersModel> {
  keras.utils.setRandomSeed(2);
  const inputs = keras.Input([64, 64, 3]);
  const start = before ? before(inputs) : inputs;
  const base = await keras.applications.DenseNet121({
    includeTop: false,
    pooling: 'max',
    weights: null,
    inputTensor: upscale({ height: 160, width: 160 }).apply(start),
    inputShape: [160, 160, 3],
  });
  base.trainable = false;
  let out = base.output as tf.SymbolicTensor;
  out = keras.layers.Flatten().apply(out);
  out = keras.layers.BatchNormalization().apply(out);
  out = keras.layers.Dense(50, { activation: 'relu' }).apply(out);
  out = keras.layers.Dropout(0.5).apply(out);
  out = keras.layers.Dense(10).apply(out);
  const model = keras.Model({ inputs, outputs: out });
  model.compile({ optimizer: 'adam', ...lossAndMetrics() });
  return model;
}

async function densenetTopEpoch(x: tf.Tensor, y: tf.Tensor, repeats: number): Promise<number> {
  const model = await lessonModel();
  try {
    setTrainable(model, { from: 'conv5_block16_0_bn' });
    model.compile({ optimizer: keras.optimizers.Adam({ learningRate: 1e-5 }), ...lossAndMetrics() });
    return await epochSeconds((args) => model.fit(x, y, args), repeats);
  } finally {
    model.dispose();
  }
}

async function augmentedEpoch(x: tf.Tensor, y: tf.Tensor): Promise<TrainStepFigures['augmentedEpoch']> {
  const layers = keras.layers as unknown as Record<string, ((...args: unknown[]) => tf.layers.Layer) | undefined>;
  const flip = layers.RandomFlip;
  const layer = flip ? 'RandomFlip' : 'GaussianNoise';
  const model = await lessonModel(
    (t) => (flip ? flip('horizontal') : tf.layers.gaussianNoise({ stddev: 0.05 })).apply(t) as tf.SymbolicTensor,
  );
  try {
    const before = featureStats.imagesComputed;
    const started = performance.now();
    await model.fit(x, y, { batchSize: 32, epochs: 1, verbose: 0 });
    const seconds = (performance.now() - started) / 1000;
    return {
      images: x.shape[0],
      seconds,
      imagesPerSecond: x.shape[0] / seconds,
      baseImagesPerEpoch: featureStats.imagesComputed - before,
      layer,
    };
  } finally {
    model.dispose();
  }
}

/** PyTorch's seconds per epoch for the same two training tasks, or why they could not be had. */
function torchPeers(images: number, repeats: number): { cnn?: number; densenet_top?: number; threads?: number; error?: string } {
  const run = spawnSync('/usr/bin/python3', [path.join(__dirname, 'python', 'train_peers.py'), String(images), String(repeats)], {
    encoding: 'utf8',
  });
  if (run.status !== 0) return { error: (run.stderr || String(run.error)).trim().split('\n').pop() };
  return JSON.parse(run.stdout.trim().split('\n').pop()!);
}

export async function benchTrainSteps({ images = 64, augmentedImages = 200, repeats = 3 } = {}): Promise<TrainStepFigures> {
  await ready();
  clearFeatureMemory();
  const x = tf.randomUniform([images, 64, 64, 3], 0, 1, 'float32', 5);
  const y = tf.tensor1d(
    Array.from({ length: images }, (_, i) => i % 10),
    'int32',
  );
  const ax = tf.randomUniform([augmentedImages, 64, 64, 3], 0, 1, 'float32', 6);
  const ay = tf.tensor1d(
    Array.from({ length: augmentedImages }, (_, i) => i % 10),
    'int32',
  );
  try {
    const cnn = await cnnEpoch(x, y, repeats);
    const top = await densenetTopEpoch(x, y, repeats);
    const augmented = await augmentedEpoch(ax, ay);
    const torch = torchPeers(images, repeats);
    const ratio = (ours: number, theirs?: number) => (theirs ? theirs / ours : undefined);
    return {
      images,
      cnn: { wasmSecondsPerEpoch: cnn, torchSecondsPerEpoch: torch.cnn, ratioToTorch: ratio(cnn, torch.cnn) },
      densenetTop: { wasmSecondsPerEpoch: top, torchSecondsPerEpoch: torch.densenet_top, ratioToTorch: ratio(top, torch.densenet_top) },
      augmentedEpoch: augmented,
      torchThreads: torch.threads,
      torchError: torch.error,
    };
  } finally {
    tf.dispose([x, y, ax, ay]);
  }
}

if (require.main === module) {
  benchTrainSteps().then((f) => console.log(JSON.stringify(f, null, 2)));
}
