/**
 * Peak memory of training the lesson's model at batch 32, tfjs' way (`model.fit`) and the
 * library's (`fit(model, ...)`): each in a fresh process, on the full-size synthetic set (878 + 293
 * images), one epoch, so that neither inherits the other's caches. Reports the process' largest
 * resident set and TensorFlow.js' own peak bytes (tf.profile).
 *
 *     node --import tsx bench/fit-memory.ts              both, as JSON
 *     node --import tsx bench/fit-memory.ts method|function   one run (what the above spawns)
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { fit, keras, loadDollarStreet, makeSyntheticDollarStreet, upscale } from '../lib';

export interface FitMemory {
  via: 'model.fit' | 'fit()';
  peakRssMiB: number;
  tfPeakMiB: number;
  seconds: number;
}

async function once(via: 'method' | 'function'): Promise<FitMemory> {
  const folder = path.join(os.tmpdir(), 'tslab-dl-bench-fit-memory');
  if (!fs.existsSync(path.join(folder, 'train_images.npy'))) await makeSyntheticDollarStreet(folder);
  const data = await loadDollarStreet(folder);
  const trainX = data.trainImages.div(255);
  const valX = data.valImages.div(255);
  keras.utils.setRandomSeed(2);
  const inputs = keras.Input(trainX.shape.slice(1));
  const upscaled = upscale({ height: 160, width: 160 }).apply(inputs);
  const base = await keras.applications.DenseNet121({
    includeTop: false,
    pooling: 'max',
    weights: null,
    inputTensor: upscaled,
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
  model.compile({ optimizer: 'adam', loss: keras.losses.SparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  const args = { batchSize: 32, epochs: 1, validationData: [valX, data.valLabels] as [tf.Tensor, tf.Tensor], verbose: 0 as const };
  const started = performance.now();
  const profile = await tf.profile(async () => {
    if (via === 'method') await model.fit(trainX, data.trainLabels, args);
    else await fit(model, trainX, data.trainLabels, args);
  });
  return {
    via: via === 'method' ? 'model.fit' : 'fit()',
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    tfPeakMiB: profile.peakBytes / 2 ** 20,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Both runs, each in its own process. */
export function benchFitMemory(): FitMemory[] {
  return (['method', 'function'] as const).map((via) => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', __filename, via], { encoding: 'utf8', cwd: path.join(__dirname, '..') });
    const line = run.stdout.trim().split('\n').pop() ?? '';
    if (run.status !== 0 || !line.startsWith('{')) throw new Error(`bench/fit-memory.ts ${via} failed:\n${run.stdout}${run.stderr}`);
    return JSON.parse(line) as FitMemory;
  });
}

if (require.main === module) {
  const via = process.argv[2];
  if (via === 'method' || via === 'function') {
    once(via).then((figure) => console.log(JSON.stringify(figure)));
  } else {
    console.log(JSON.stringify(benchFitMemory(), null, 2));
  }
}
