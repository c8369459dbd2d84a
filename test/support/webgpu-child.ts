/**
 * Test support: the parts of the webgpu tests that need a WebGPU adapter, run in a child process
 * whose environment names the adapter (Dawn reads VK_ICD_FILENAMES when it loads: the test process
 * cannot switch it). `node --import tsx test/support/webgpu-child.ts <scenario>` prints one JSON
 * line last; test/backend-webgpu.test.ts starts it with lavapipeEnv() (test/support/vulkan.ts).
 *
 * - select: the backend ready() chooses, backendInfo(), backendSummary(), and (on webgpu) what
 *   explainBackendError says for a missing kernel and for a synchronous read;
 * - hardware: ready() told that the adapter is a hardware one (the probe replaced): webgpu is
 *   chosen by the default order, and reported as running on the GPU;
 * - train: the lesson's head trained one epoch on wasm and then on webgpu from the same seed, the
 *   same data, unshuffled: the per-batch losses of both;
 * - library: the library's reads that used to be synchronous, on wasm and then on webgpu.
 */
import * as tf from '@tensorflow/tfjs';
import { backendInfo, backendSummary, explainBackendError, ready, setBackend } from '../../lib/backends/selection';
import { buildHead } from '../../lib/train/head';
import { sparseCategoricalCrossentropy } from '../../lib/train/losses';
import { fit } from '../../lib/train/fit';
import { setRandomSeed } from '../../lib/core/random';
import { checkClassLabels, checkClassLabelsAsync } from '../../lib/train/label-checks';
import { evaluate } from '../../lib/train/evaluate';
import { confusionMatrix } from '../../lib/train/confusion';
import { imageGrid } from '../../lib/data/show';
import { fingerprintModelAsync, fingerprintTensorAsync } from '../../lib/features/fingerprint';
import { projectiveTransform } from '../../lib/layers/augmentation/projective-transform';
import { rotationTransform } from '../../lib/layers/augmentation/random-rotation';
import { readWeightsH5, saveWeightsH5 } from '../../lib/weights/h5';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { installKerasCompat } from '../../lib/compat/install';

installKerasCompat();

const scenario = process.argv[2];

function explained(work: () => unknown): string {
  try {
    work();
    return 'no error';
  } catch (e) {
    return (explainBackendError(e) as Error).message;
  }
}

async function select(): Promise<object> {
  const started = Date.now();
  const info = await ready();
  const result: Record<string, unknown> = { info, summary: backendSummary(info), seconds: (Date.now() - started) / 1000 };
  if (info.backend === 'webgpu') {
    result.missingKernel = explained(() => tf.unique(tf.tensor1d([1, 2, 1])));
    // 4096 values computed on the GPU (above the size webgpu computes on the CPU).
    result.syncRead = explained(() => tf.mul(tf.ones([4096]), 3).dataSync());
    const sum = tf.sum(tf.mul(tf.ones([4096]), 3));
    result.asyncRead = (await sum.data())[0];
  }
  return result;
}

async function hardware(): Promise<object> {
  const probe = async () => ({
    adapter: {
      vendor: 'stand-in',
      architecture: 'stand-in',
      device: 'stand-in',
      description: 'a hardware adapter (stand-in for lavapipe)',
      software: false,
    },
  });
  const info = await ready({ probeWebGpu: probe });
  return { info, summary: backendSummary(info) };
}

/** n samples of 1024 features and labels in [0, 10), the same on every backend (a seeded generator). */
function data(n: number): { x: tf.Tensor2D; y: tf.Tensor1D } {
  let state = 12345;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const x = Float32Array.from({ length: n * 1024 }, () => next() * 2 - 1);
  const y = Int32Array.from({ length: n }, () => Math.floor(next() * 10));
  return { x: tf.tensor2d(x, [n, 1024]), y: tf.tensor1d(y, 'int32') };
}

/** The lesson's head, built and trained one epoch from seed 1: the loss after each batch. */
async function trainHead(x: tf.Tensor, y: tf.Tensor): Promise<{ losses: number[]; model: tf.LayersModel; seconds: number }> {
  setRandomSeed(1);
  const input = tf.input({ shape: [1024] });
  const model = tf.model({ inputs: input, outputs: buildHead(input, { hidden: 50, dropout: 0, classes: 10 }) });
  model.compile({ optimizer: tf.train.adam(), loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  const losses: number[] = [];
  const started = Date.now();
  await fit(model, x, y, {
    batchSize: 16,
    epochs: 1,
    shuffle: false,
    verbose: 0,
    callbacks: [{ onBatchEnd: async (_batch: number, logs?: tf.Logs) => void losses.push(Number(logs?.loss)) }],
  });
  return { losses, model, seconds: (Date.now() - started) / 1000 };
}

async function train(): Promise<object> {
  const n = Number(process.env.SAMPLES ?? 64);
  const chosen = await ready();
  const { x, y } = data(n);
  const onWasm = await trainHead(x, y);
  await setBackend('webgpu');
  const onWebGpu = await trainHead(x, y);
  return {
    chosen: chosen.backend,
    after: backendInfo().backend,
    wasm: onWasm.losses,
    webgpu: onWebGpu.losses,
    seconds: { wasm: onWasm.seconds, webgpu: onWebGpu.seconds },
  };
}

/** What the library computes with values it reads, on the backend in use (`tag` names the run). */
async function libraryReads(tag: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const { x, y } = data(48);
  // Computed on the device: no copy of the values on the host (4096 and more values on webgpu).
  const onDevice = <T extends tf.Tensor>(t: T) => tf.mul(t, 1) as T;
  out.fingerprint = await fingerprintTensorAsync(onDevice(x));

  // A frozen prefix (Dense 1024 -> 32) and the head: fit computes the prefix's features once
  // (the feature cache: fingerprints of weights and inputs), predict and evaluate run synchronously.
  setRandomSeed(3);
  const input = tf.input({ shape: [1024] });
  const frozen = tf.layers.dense({ units: 32, activation: 'relu', trainable: false });
  const logits = buildHead(frozen.apply(input) as tf.SymbolicTensor, { hidden: 16, dropout: 0, classes: 10 });
  const model = tf.model({ inputs: input, outputs: logits });
  model.compile({ optimizer: tf.train.adam(), loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  out.modelFingerprint = await fingerprintModelAsync(model);
  const history = await fit(model, x, y, { batchSize: 16, epochs: 1, shuffle: false, verbose: 0, executor: 'tfjs', cache: 'memory' });
  out.fitLoss = history.history.loss[0];
  const predicted = model.predict(onDevice(x)) as tf.Tensor;
  out.predictHead = Array.from(await predicted.slice([0, 0], [1, 10]).data());
  const [loss] = model.evaluate(onDevice(x), onDevice(y), { batchSize: 16 }) as tf.Scalar[];
  out.tfjsEvaluateLoss = (await loss.data())[0];
  const result = await evaluate(model, onDevice(x), onDevice(y), { verbose: 0 });
  out.evaluate = { loss: result.loss, accuracy: result.accuracy, counts: result.confusion.counts };

  // Labels: the synchronous check cannot read labels computed on the GPU (and skips them), the async one can.
  const badLabels = tf.add(tf.zeros([4096], 'int32'), tf.scalar(12, 'int32'));
  out.syncLabelCheck = explained(() => checkClassLabels(badLabels, 10, 'check'));
  out.asyncLabelCheck = await checkClassLabelsAsync(badLabels, 10, 'check').then(
    () => 'no error',
    (e: Error) => e.message,
  );
  out.confusionOfDeviceTensor = explained(() => confusionMatrix(onDevice(y), predicted.argMax(-1)));
  out.confusionOfValues = confusionMatrix(await y.data(), await predicted.argMax(-1).data(), { classes: 10 }).counts;

  // Images made from data are shown; images computed on the device are an error saying what to do.
  const images = tf.tensor4d(
    Float32Array.from({ length: 4 * 32 * 32 * 3 }, (_, i) => (i % 256) / 255),
    [4, 32, 32, 3],
  );
  out.showImages = explained(() => imageGrid(images, [0, 1, 2, 3], { columns: 4 }));
  out.showDeviceImages = explained(() => imageGrid(onDevice(tf.tile(images, [32, 1, 1, 1]))));

  // The projective transform of the augmentation layers, and its gradient.
  const transforms = [
    rotationTransform(17, 32, 32),
    rotationTransform(-40, 32, 32),
    rotationTransform(90, 32, 32),
    rotationTransform(5, 32, 32),
  ];
  const weights = tf.tensor4d(
    Float32Array.from({ length: 4 * 32 * 32 * 3 }, (_, i) => ((i * 7919) % 13) / 13),
    [4, 32, 32, 3],
  );
  const transformed = projectiveTransform(onDevice(images) as tf.Tensor4D, transforms, {
    interpolation: 'bilinear',
    fillMode: 'reflect',
    fillValue: 0,
  });
  out.transform = Array.from(await transformed.data());
  const gradient = tf.grad((t: tf.Tensor) =>
    tf.sum(
      tf.mul(
        projectiveTransform(t as tf.Tensor4D, transforms, { interpolation: 'bilinear', fillMode: 'constant', fillValue: 0.5 }),
        weights,
      ),
    ),
  );
  out.transformGradient = Array.from(await gradient(onDevice(images)).data());

  // Saving weights (HDF5, written synchronously) after reading them asynchronously.
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), `tslab-dl-webgpu-${tag}-`)), 'weights.h5');
  await saveWeightsH5(model, file);
  const saved = await readWeightsH5(file);
  out.savedKernelHead = Array.from(saved.layers.find((l) => l.weights.length === 2)!.weights[0].values.slice(0, 4));
  out.modelKernelHead = Array.from(
    (
      await model.layers
        .find((l) => l.weights.length === 2)!
        .weights[0].read()
        .data()
    ).slice(0, 4),
  );
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  return out;
}

async function library(): Promise<object> {
  await ready();
  const wasm = await libraryReads('wasm');
  await setBackend('webgpu');
  const webgpu = await libraryReads('webgpu');
  return { wasm, webgpu };
}

(async () => {
  const scenarios: Record<string, () => Promise<object>> = { select, hardware, train, library };
  const result = scenarios[scenario] ? await scenarios[scenario]() : { error: `unknown scenario ${scenario}` };
  // Dawn's device keeps no handle open, but tfjs' webgpu backend may: exit, once stdout (a pipe,
  // written asynchronously) has taken the whole line.
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
})().catch((e) => {
  process.stdout.write(`${JSON.stringify({ error: String(e?.stack ?? e) })}\n`, () => process.exit(1));
});
