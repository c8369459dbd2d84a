/**
 * Micro-benchmark: images/s of the DenseNet121 base (160x160, max pooling, random
 * weights) at batch 32 through the ONNX executor and through tfjs (wasm backend),
 * plus the ONNX executor's variants (BatchNormalization folding, onnxruntime's graph
 * optimisation level, threads), to show where the speed comes from.
 *
 *     node --import tsx bench/onnx.ts [--quick]     # prints, writes out/onnx-bench.json
 *
 * Other processes share the cores: the load average is recorded with the figures.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { setBackend } from '../lib/backends/selection';
import { DenseNet121 } from '../lib/applications';
import { createOnnxSession, OnnxSessionOptions, onnxRuntimeInfo } from '../lib/onnx';
import { calibrateBatchNorm, randomImages, randomizeWeights } from './onnx-fixtures';
import { OnnxProfile, summarizeOnnxProfile } from './onnx-profile';

export interface ExecutorFigure {
  executor: string;
  imagesPerSecond: number;
  images: number;
  /** Seconds for those images (ONNX: the median of the timed runs). */
  seconds: number;
  /** ONNX: images/s of the fastest timed run (the median is in imagesPerSecond). */
  bestImagesPerSecond?: number;
  /** Seconds to translate the model and open the session (ONNX only). */
  setupSeconds?: number;
}

export interface OnnxBenchResult {
  model: string;
  batchSize: number;
  cores: number;
  loadAverageBefore: number[];
  loadAverageAfter: number[];
  onnxruntime: string | undefined;
  onnx: ExecutorFigure;
  wasm?: ExecutorFigure;
  /** onnx images/s divided by wasm images/s. */
  speedup?: number;
  variants: (ExecutorFigure & { options: string })[];
  /** Where onnxruntime's time goes, from a separate, profiled pass (profiling slows it a little). */
  profile?: OnnxProfile;
  peakRssMiB: number;
}

export interface OnnxBenchOptions {
  batchSize?: number;
  /** Timed batches through ONNX. Defaults to 4. */
  onnxBatches?: number;
  /** Timed batches through tfjs wasm (about 5 s each here). Defaults to 1; 0 skips it. */
  wasmBatches?: number;
  /** Also time the variants. Defaults to true. */
  variants?: boolean;
  /** Also profile the ONNX executor's kernels. Defaults to true. */
  profile?: boolean;
  log?: (line: string) => void;
}

let peakRss = 0;
function sampleRss(): void {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}

async function timeOnnx(
  model: tf.LayersModel,
  x: tf.Tensor,
  batchSize: number,
  options: OnnxSessionOptions,
  label: string,
  repeats: number,
): Promise<ExecutorFigure> {
  const t0 = performance.now();
  const executor = await createOnnxSession(model, options);
  const setupSeconds = (performance.now() - t0) / 1000;
  try {
    // Warm-up: onnxruntime allocates its buffers on the first run.
    const warm = await executor.run(x.slice(0, batchSize), { batchSize });
    warm.dispose();
    // The median of a few timed runs: other processes share the cores.
    const times: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const t1 = performance.now();
      const y = await executor.run(x, { batchSize, onBatchEnd: sampleRss });
      times.push((performance.now() - t1) / 1000);
      y.dispose();
    }
    times.sort((a, b) => a - b);
    const seconds = times[Math.floor(times.length / 2)];
    return {
      executor: label,
      imagesPerSecond: x.shape[0] / seconds,
      bestImagesPerSecond: x.shape[0] / times[0],
      images: x.shape[0],
      seconds,
      setupSeconds,
    };
  } finally {
    await executor.dispose();
  }
}

/** One profiled pass of the ONNX executor over `x`: kernel times by group. */
async function profileOnnx(model: tf.LayersModel, x: tf.Tensor, batchSize: number): Promise<OnnxProfile> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-onnx-profile-'));
  try {
    const executor = await createOnnxSession(model, { profilePrefix: path.join(dir, 'densenet121') });
    try {
      (await executor.run(x, { batchSize })).dispose();
    } finally {
      await executor.dispose();
    }
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
    if (files.length !== 1) throw new Error(`onnxruntime wrote ${files.length} profile files in ${dir}; expected 1.`);
    return summarizeOnnxProfile(path.join(dir, files[0]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function timeTfjs(model: tf.LayersModel, x: tf.Tensor, batchSize: number): Promise<ExecutorFigure> {
  // Warm-up on two images: wasm compiles its kernels on first use.
  tf.tidy(() => model.predict(x.slice(0, 2)));
  const t = performance.now();
  for (let start = 0; start < x.shape[0]; start += batchSize) {
    const y = tf.tidy(() => model.predict(x.slice(start, Math.min(batchSize, x.shape[0] - start))) as tf.Tensor);
    await y.data();
    y.dispose();
    sampleRss();
  }
  const seconds = (performance.now() - t) / 1000;
  return { executor: `tfjs ${tf.getBackend()}`, imagesPerSecond: x.shape[0] / seconds, images: x.shape[0], seconds };
}

export async function benchOnnxExecutor(options: OnnxBenchOptions = {}): Promise<OnnxBenchResult> {
  const log = options.log ?? (() => {});
  const batchSize = options.batchSize ?? 32;
  const onnxBatches = options.onnxBatches ?? 4;
  const wasmBatches = options.wasmBatches ?? 1;
  await setBackend('wasm');
  const loadAverageBefore = os.loadavg();
  const model = await DenseNet121({ includeTop: false, weights: null, inputShape: [160, 160, 3], pooling: 'max' });
  randomizeWeights(model, 1);
  // Activations of a trained network's scale (random BN statistics let them drift toward 0 or huge values).
  const calibration = randomImages([2, 160, 160, 3], 3);
  calibrateBatchNorm(model, calibration, 5);
  calibration.dispose();
  const x = randomImages([batchSize * Math.max(onnxBatches, wasmBatches, 1), 160, 160, 3]);
  try {
    const onnx = await timeOnnx(model, x.slice(0, batchSize * onnxBatches), batchSize, {}, 'onnx', 5);
    log(
      `onnx: ${onnx.imagesPerSecond.toFixed(1)} images/s, median of 5 runs (${onnx.images} images in ${onnx.seconds.toFixed(2)} s; ` +
        `fastest run ${onnx.bestImagesPerSecond!.toFixed(1)} images/s; set-up ${onnx.setupSeconds!.toFixed(2)} s)`,
    );
    let wasm: ExecutorFigure | undefined;
    if (wasmBatches > 0) {
      wasm = await timeTfjs(model, x.slice(0, batchSize * wasmBatches), batchSize);
      log(`${wasm.executor}: ${wasm.imagesPerSecond.toFixed(1)} images/s (${wasm.images} images in ${wasm.seconds.toFixed(2)} s)`);
    }
    let profile: OnnxProfile | undefined;
    if (options.profile ?? true) {
      const profiled = x.slice(0, batchSize * Math.min(onnxBatches, 2));
      profile = await profileOnnx(model, profiled, batchSize).finally(() => profiled.dispose());
      const ms = profile.msPerImage;
      log(
        `onnx kernels per image: convolutions ${ms.convolution.toFixed(2)} ms (${profile.convolutionGflops.toFixed(0)} GFLOP/s), ` +
          `BatchNormalization ${ms['batch normalization'].toFixed(2)} ms, Concat ${ms.concatenation.toFixed(2)} ms, other ${ms.other.toFixed(2)} ms`,
      );
    }
    const variants: OnnxBenchResult['variants'] = [];
    if (options.variants ?? true) {
      const cases: [string, OnnxSessionOptions][] = [
        ['no BN folding', { foldBatchNorm: false }],
        ['onnxruntime optimisations disabled', { graphOptimizationLevel: 'disabled' }],
        ['no BN folding, optimisations disabled', { foldBatchNorm: false, graphOptimizationLevel: 'disabled' }],
        ['32 images per onnxruntime call', { maxImagesPerCall: 32 }],
        ['1 thread', { threads: 1 }],
        ['idle threads sleep (no spinning)', { spinning: false }],
      ];
      for (const [label, opts] of cases) {
        const figure = await timeOnnx(model, x.slice(0, batchSize * 2), batchSize, opts, 'onnx', 3);
        variants.push({ ...figure, options: label });
        log(`onnx, ${label}: ${figure.imagesPerSecond.toFixed(1)} images/s`);
      }
    }
    return {
      model: 'DenseNet121 base, 160x160x3, max pooling, random weights',
      batchSize,
      cores: os.cpus().length,
      loadAverageBefore,
      loadAverageAfter: os.loadavg(),
      onnxruntime: onnxRuntimeInfo().version,
      onnx,
      wasm,
      speedup: wasm ? onnx.imagesPerSecond / wasm.imagesPerSecond : undefined,
      variants,
      profile,
      peakRssMiB: Math.round(peakRss / 2 ** 20),
    };
  } finally {
    x.dispose();
    model.dispose();
  }
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const result = await benchOnnxExecutor({ onnxBatches: quick ? 2 : 4, variants: !quick, log: (line) => console.log(line) });
  const out = path.join(__dirname, '..', 'out', 'onnx-bench.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(
    `speed-up onnx / wasm: ${result.speedup?.toFixed(1) ?? 'n/a'}x; load average before ${result.loadAverageBefore.map((l) => l.toFixed(2)).join(' ')}, ` +
      `after ${result.loadAverageAfter.map((l) => l.toFixed(2)).join(' ')}; peak RSS ${result.peakRssMiB} MiB; written to ${path.relative(process.cwd(), out)}`,
  );
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
