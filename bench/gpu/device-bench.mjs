#!/usr/bin/env node
// The GPU figures, measured with the library's own code (dist/, built by `npm run build`), for one
// run on a machine with a GPU (bench/gpu/run-on-device.sh carries and starts it):
//
//   1. DenseNet121's base (include_top false, max pooling, random weights: nothing to download) at
//      HWxHW, batch BATCH: images/s through the frozen-prefix runner on ONNX Runtime's CPU,
//      WebGPU and CUDA providers (those usable here) and on the tfjs webgpu backend, with the
//      largest difference of each GPU route's features from the CPU provider's on the same batch;
//   2. one fine-tuning step (trainOnBatch at batch BATCH, DenseNet121's last block and the head
//      trainable) on the tfjs webgpu backend, and its loss against wasm's on the same batch;
//   3. the whole lesson (notebooks/01-transfer-learning.ipynb's cells, in lesson mode: the
//      synthetic twin of the data and stand-in weights when offline) on the route tslab-dl picks.
//
// Prints what it does and ends with one line `FIGURES {json}`, also written to $OUT/figures.json.
// Settings (environment): HW (160), BATCH (32), BATCHES timed per route (10), LESSON (1: run 3),
// ROUTES (onnx-cpu,onnx-webgpu,onnx-cuda,tfjs-webgpu). A dry run on a software Vulkan:
//   HW=48 BATCH=4 BATCHES=2 TSLAB_DL_SAMPLES=64 node bench/gpu/device-bench.mjs
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const lib = require(path.join(root, 'dist', 'lib', 'index.js'));
const { createPrefixRunner } = require(path.join(root, 'dist', 'lib', 'features', 'run.js'));
const { providerStatuses } = require(path.join(root, 'dist', 'lib', 'onnx', 'providers.js'));
const { resetBackendChoice } = require(path.join(root, 'dist', 'lib', 'backends', 'selection.js'));
const { tf, keras } = lib;

const HW = Number(process.env.HW ?? 160);
const BATCH = Number(process.env.BATCH ?? 32);
const BATCHES = Number(process.env.BATCHES ?? 10);
const ROUTES = (process.env.ROUTES ?? 'onnx-cpu,onnx-webgpu,onnx-cuda,tfjs-webgpu').split(',');
const figures = { settings: { HW, BATCH, BATCHES }, base: {}, errors: {} };
const log = (...parts) => console.log(`[${((performance.now() / 1000) | 0).toString().padStart(4)} s]`, ...parts);

/** DenseNet121's frozen base as the lesson builds it (max pooling), random weights from seed 1. */
async function denseNetBase() {
  keras.utils.setRandomSeed(1);
  const base = await keras.applications.DenseNet121({ includeTop: false, pooling: 'max', weights: null, inputShape: [HW, HW, 3] });
  base.trainable = false;
  return base;
}

/** Times `run(batch)` over BATCHES batches after two untimed ones; images/s and the first output. */
async function timeRoute(name, run, batch) {
  const first = await run(batch);
  const reference = Float32Array.from(await first.data());
  first.dispose();
  (await run(batch)).dispose();
  const started = performance.now();
  for (let i = 0; i < BATCHES; i++) {
    const out = await run(batch);
    await out.data();
    out.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  const imagesPerSecond = (BATCHES * BATCH) / seconds;
  log(`${name}: ${imagesPerSecond.toFixed(1)} images/s (${BATCHES} batches of ${BATCH} at ${HW}x${HW}, ${seconds.toFixed(2)} s)`);
  return { imagesPerSecond, values: reference };
}

function difference(values, reference) {
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < values.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(values[i] - reference[i]));
    maxRef = Math.max(maxRef, Math.abs(reference[i]));
  }
  return { maxAbsDifference: maxAbs, relativeError: maxAbs / (maxRef || 1) };
}

async function baseThroughput() {
  await lib.setBackend('wasm');
  const statuses = await providerStatuses();
  figures.providers = statuses.map((s) => ({ name: s.name, usable: s.usable, automatic: s.automatic, detail: s.detail }));
  log(
    'ONNX Runtime providers:',
    statuses.map((s) => `${s.name} ${s.usable ? (s.automatic ? 'usable' : 'forced only') : 'not usable'} (${s.detail})`).join('; '),
  );
  const base = await denseNetBase();
  const batch = tf.randomUniform([BATCH, HW, HW, 3], 0, 1, 'float32', 7);
  let reference;
  for (const route of ROUTES.filter((r) => r.startsWith('onnx-'))) {
    const provider = statuses.find((s) => s.name === route.slice(5));
    if (!provider?.usable) {
      figures.errors[route] = `not usable here: ${provider?.detail}`;
      continue;
    }
    try {
      const runner = await createPrefixRunner(base, route);
      if (runner.note) log(runner.note);
      const timed = await timeRoute(runner.name, async (b) => (await runner.runBatch(b))[0], batch);
      await runner.dispose();
      figures.base[route] = { imagesPerSecond: timed.imagesPerSecond, engine: runner.name };
      if (route === 'onnx-cpu') reference = timed.values;
      else if (reference) Object.assign(figures.base[route], difference(timed.values, reference));
    } catch (e) {
      figures.errors[route] = String(e?.message ?? e).split('\n')[0];
      log(`${route} failed: ${figures.errors[route]}`);
    }
  }
  const cpuValues = reference;
  tf.dispose([batch]);
  base.dispose();
  if (!ROUTES.includes('tfjs-webgpu')) return cpuValues;
  try {
    await lib.setBackend('webgpu');
    const info = lib.backendInfo();
    log('tfjs backend:', lib.backendSummary(info));
    const gpuBase = await denseNetBase();
    const gpuBatch = tf.randomUniform([BATCH, HW, HW, 3], 0, 1, 'float32', 7);
    const timed = await timeRoute('tfjs webgpu', async (b) => lib.tfjsPredict(gpuBase, b, { batchSize: BATCH }), gpuBatch);
    figures.base['tfjs-webgpu'] = {
      imagesPerSecond: timed.imagesPerSecond,
      adapter: info.webgpu?.adapter,
      ...(cpuValues ? difference(timed.values, cpuValues) : {}),
    };
    tf.dispose(gpuBatch);
    gpuBase.dispose();
  } catch (e) {
    figures.errors['tfjs-webgpu'] = String(e?.message ?? e).split('\n')[0];
    log(`tfjs webgpu failed: ${figures.errors['tfjs-webgpu']}`);
  }
  return cpuValues;
}

/** One training step with DenseNet121's last dense block and the head trainable; loss and seconds. */
async function fineTuningStep(backend) {
  await lib.setBackend(backend);
  keras.utils.setRandomSeed(3);
  const inputs = keras.Input([HW, HW, 3]);
  const base = await keras.applications.DenseNet121({ includeTop: false, pooling: 'max', weights: null, inputTensor: inputs });
  let out = keras.layers.BatchNormalization().apply(base.output);
  out = keras.layers.Dense(10).apply(out);
  const model = keras.models.Model({ inputs, outputs: out });
  lib.setTrainable(model, { from: 'conv5_block1_0_bn' });
  model.compile({ optimizer: tf.train.adam(1e-5), loss: keras.losses.SparseCategoricalCrossentropy({ fromLogits: true }) });
  const x = tf.randomUniform([BATCH, HW, HW, 3], 0, 1, 'float32', 11);
  const y = tf.tensor1d(
    Array.from({ length: BATCH }, (_, i) => i % 10),
    'int32',
  );
  const loss = await model.trainOnBatch(x, y);
  const started = performance.now();
  const second = await model.trainOnBatch(x, y);
  const seconds = (performance.now() - started) / 1000;
  tf.dispose([x, y]);
  model.dispose();
  log(
    `fine-tuning step on ${backend}: ${seconds.toFixed(3)} s, first loss ${Number(loss).toFixed(6)}, second ${Number(second).toFixed(6)}`,
  );
  return { seconds, firstLoss: Number(loss), secondLoss: Number(second) };
}

/** The lesson's cells (notebooks/01-transfer-learning.ipynb), timed on the route chosen by default. */
async function wholeLesson() {
  const started = performance.now();
  await lib.lessonMode();
  let { trainImages, trainLabels, valImages, valLabels } = await lib.loadDollarStreet(
    path.join(root, 'notebooks', 'data', 'dataset_dollarstreet'),
  );
  trainImages = trainImages.div(255);
  valImages = valImages.div(255);
  keras.utils.setRandomSeed(2);
  const inputs = keras.Input(trainImages.shape.slice(1));
  const upscaled = lib.upscale({ height: 160, width: 160, method: 'bilinear' }).apply(inputs);
  const baseModel = await keras.applications.DenseNet121({
    includeTop: false,
    pooling: 'max',
    weights: 'imagenet',
    inputTensor: upscaled,
    inputShape: [160, 160, 3],
  });
  baseModel.trainable = false;
  let out = baseModel.output;
  out = keras.layers.Flatten().apply(out);
  out = keras.layers.BatchNormalization().apply(out);
  out = keras.layers.Dense(50, { activation: 'relu' }).apply(out);
  out = keras.layers.Dropout(0.5).apply(out);
  out = keras.layers.Dense(10).apply(out);
  const model = keras.models.Model({ inputs, outputs: out });
  model.compile({ optimizer: 'adam', loss: keras.losses.SparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  const earlyStopper = keras.callbacks.EarlyStopping({ monitor: 'val_accuracy', patience: 5 });
  const fitStarted = performance.now();
  const history = await model.fit(trainImages, trainLabels, {
    batchSize: 32,
    epochs: 30,
    callbacks: [earlyStopper],
    validationData: [valImages, valLabels],
    verbose: 0,
  });
  const seconds = (performance.now() - started) / 1000;
  const valAccuracy = history.history.val_accuracy;
  const result = {
    seconds,
    fitSeconds: (performance.now() - fitStarted) / 1000,
    epochs: valAccuracy.length,
    finalValAccuracy: valAccuracy[valAccuracy.length - 1],
    where: lib.whereItRuns(),
    trainImages: trainImages.shape[0],
  };
  log(
    `the lesson: ${seconds.toFixed(1)} s (fit ${result.fitSeconds.toFixed(1)} s, ${result.epochs} epochs, val accuracy ${(result.finalValAccuracy * 100).toFixed(1)}%) on ${result.where}`,
  );
  return result;
}

async function main() {
  log(
    `tslab-dl device bench: node ${process.version}, ${process.env.VK_DRIVER_FILES ? `VK_DRIVER_FILES=${process.env.VK_DRIVER_FILES}` : 'default Vulkan drivers'}`,
  );
  await lib.ready();
  await baseThroughput();
  figures.fineTuning = {};
  for (const backend of ['webgpu', 'wasm']) {
    try {
      figures.fineTuning[backend] = await fineTuningStep(backend);
    } catch (e) {
      figures.errors[`fine-tuning ${backend}`] = String(e?.message ?? e).split('\n')[0];
      log(`fine-tuning on ${backend} failed: ${figures.errors[`fine-tuning ${backend}`]}`);
    }
  }
  const { webgpu, wasm } = figures.fineTuning;
  if (webgpu && wasm) figures.fineTuning.firstLossDifference = Math.abs(webgpu.firstLoss - wasm.firstLoss);
  if (process.env.LESSON !== '0') {
    try {
      // The default selection, as a learner's kernel makes it.
      resetBackendChoice();
      await lib.ready();
      figures.lesson = await wholeLesson();
    } catch (e) {
      figures.errors.lesson = String(e?.stack ?? e)
        .split('\n')
        .slice(0, 3)
        .join(' ');
      log(`the lesson failed: ${figures.errors.lesson}`);
    }
  }
  const line = JSON.stringify(figures);
  if (process.env.OUT) fs.writeFileSync(path.join(process.env.OUT, 'figures.json'), `${line}\n`);
  process.stdout.write(`FIGURES ${line}\n`, () => process.exit(0));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
