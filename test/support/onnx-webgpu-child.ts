/**
 * The GPU part of test/onnx-webgpu.test.ts, run in a child process: Dawn (in ONNX Runtime and in
 * the `webgpu` package) reads the Vulkan loader's environment (VK_ICD_FILENAMES) when it loads,
 * so each environment needs its own process. Prints one line, RESULT and JSON, with what it saw.
 *
 *   node --import tsx test/support/onnx-webgpu-child.ts lavapipe     # with lavapipeEnv()
 *   node --import tsx test/support/onnx-webgpu-child.ts no-adapter   # with a Vulkan loader that finds no driver
 */
import * as tf from '@tensorflow/tfjs';
import type * as Ort from 'onnxruntime-node';
import { setBackend } from '../../lib/backends/selection';
import { DenseNet121 } from '../../lib/applications';
import { createOnnxSession } from '../../lib/onnx';
import { resolveRoute } from '../../lib/features/run';
import { frozenFeatures } from '../../lib/features/extract';
import { calibrateBatchNorm, randomImages, randomizeWeights, relativeError } from '../../bench/onnx-fixtures';

/** onnxruntime-node with InferenceSession.create recording the session options it gets. */
function recordingLoader(sessions: Ort.InferenceSession.SessionOptions[]) {
  return (name: string) => {
    const ort = require(name) as typeof Ort;
    const InferenceSession = {
      create: (bytes: Uint8Array, options: Ort.InferenceSession.SessionOptions) => {
        sessions.push(options);
        return ort.InferenceSession.create(bytes, options);
      },
    };
    return { ...ort, InferenceSession };
  };
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function lavapipe(): Promise<object> {
  const base = await DenseNet121({ includeTop: false, weights: null, inputShape: [64, 64, 3], pooling: 'avg' });
  const x = randomImages([3, 64, 64, 3], 21);
  randomizeWeights(base, 17);
  const calibration = randomImages([2, 64, 64, 3], 43);
  calibrateBatchNorm(base, calibration, 47);
  calibration.dispose();

  const sessions: Ort.InferenceSession.SessionOptions[] = [];
  const loader = recordingLoader(sessions);
  const cpu = await createOnnxSession(base, { provider: 'cpu', loader });
  let started = performance.now();
  const yCpu = await cpu.run(x);
  const cpuMs = performance.now() - started;
  started = performance.now();
  const gpu = await createOnnxSession(base, { provider: 'webgpu', loader });
  const gpuSessionMs = performance.now() - started;
  started = performance.now();
  const yGpu = await gpu.run(x);
  const gpuFirstMs = performance.now() - started;
  started = performance.now();
  const yGpu2 = await gpu.run(x);
  const gpuMs = performance.now() - started;
  const result = {
    translated: gpu.translatedLayers,
    total: gpu.totalLayers,
    cpu: { providers: cpu.providers, note: cpu.providerNote, ms: cpuMs },
    gpu: {
      providers: gpu.providers,
      provider: gpu.provider,
      note: gpu.providerNote,
      fellBack: gpu.fellBack,
      sessionMs: gpuSessionMs,
      firstMs: gpuFirstMs,
      ms: gpuMs,
    },
    sessionOptions: sessions.map((o) => ({ executionProviders: o.executionProviders, extra: o.extra })),
    relativeError: relativeError(yGpu, yCpu),
    repeatRelativeError: relativeError(yGpu2, yGpu),
    maxAbsDifference: tf.tidy(() => tf.max(tf.abs(tf.sub(yGpu, yCpu))).dataSync()[0]),
    maxAbsOutput: tf.tidy(() => tf.max(tf.abs(yCpu)).dataSync()[0]),
  };
  tf.dispose([yCpu, yGpu, yGpu2]);
  await Promise.all([cpu.dispose(), gpu.dispose()]);

  // Only a software adapter here: 'auto' (and a plain executor) must not take it.
  const auto = await resolveRoute('auto');
  const plain = await createOnnxSession(base);
  const features = await frozenFeatures(base, x, { executor: 'auto', cache: false });
  const out = {
    ...result,
    auto: { route: auto, executorProvider: plain.provider, executorNote: plain.providerNote, featuresProvider: features.provider },
  };
  features.release();
  await plain.dispose();
  x.dispose();
  return out;
}

async function noAdapter(): Promise<object> {
  const input = tf.input({ shape: [4, 4, 3] });
  const model = tf.model({ inputs: input, outputs: tf.layers.conv2d({ filters: 2, kernelSize: 3 }).apply(input) as tf.SymbolicTensor });
  const forced = await resolveRoute('onnx-webgpu').then(() => 'no error', message);
  const forcedExecutor = await createOnnxSession(model, { provider: 'webgpu' }).then(() => 'no error', message);
  // A probe that (wrongly) reports a hardware adapter: ONNX Runtime's own Dawn finds none, the
  // session fails, and the executor falls back to the CPU with a note; 'best' then skips WebGPU.
  const hardware = {
    webgpu: async () => ({ adapter: { vendor: 'nvidia', architecture: '', device: '', description: 'Pretend GPU', software: false } }),
  };
  const first = await createOnnxSession(model, { providerProbes: hardware });
  const second = await createOnnxSession(model, { providerProbes: hardware });
  const forcedSession = await createOnnxSession(model, { provider: 'webgpu', providerProbes: hardware }).then(() => 'no error', message);
  const out = {
    forced,
    forcedExecutor,
    fallback: { provider: first.provider, fellBack: first.fellBack, note: first.providerNote },
    afterFailure: { provider: second.provider, fellBack: second.fellBack, note: second.providerNote },
    forcedSession,
  };
  await Promise.all([first.dispose(), second.dispose()]);
  return out;
}

(async () => {
  await setBackend('cpu');
  const mode = process.argv[2];
  const result = mode === 'lavapipe' ? await lavapipe() : mode === 'no-adapter' ? await noAdapter() : { error: `unknown mode ${mode}` };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
})().catch((e) => {
  process.stdout.write(`RESULT ${JSON.stringify({ error: e instanceof Error ? e.stack : String(e) })}\n`);
});
