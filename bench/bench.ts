/**
 * `npm run bench`: the speed and memory figures of the frozen-base path (README.md, "Speed"), on this machine.
 *
 * 1. images/s of the DenseNet121 base (160x160, batch 32, random weights) on each available
 *    executor: ONNX Runtime and TensorFlow.js (wasm);
 * 2. the whole lesson (`npm run lesson` on the full-size synthetic set: 878 + 293 images, 30 epochs
 *    with early stopping) with the feature cache, cold (empty disk cache) and warm (second run);
 * 3. the lesson without the cache (the whole model every epoch, as Keras does): one epoch through the
 *    notebook at the lesson's batch size (32), and, in this process, the time per image of uncached
 *    training and inference at the lesson's batch size (32), from which one uncached epoch of
 *    878 + 293 images is computed;
 * 4. peak memory (resident set) of the benchmark process and of the kernel during the lessons;
 * 4a. training on wasm against PyTorch in the same run: an epoch of the episode-4 CNN, an epoch
 *    of fine-tuning DenseNet121's top, one augmented epoch of the lesson (bench/train-steps.ts);
 * 4b. peak memory of one epoch of the lesson's model at batch 32 through tfjs' `model.fit` and
 *    through `fit(model, ...)`, each in a fresh process (bench/fit-memory.ts);
 * 5. how far the base's speed is from what this CPU can do at all: its float32 peak (bench/fp32-peak.c,
 *    built with gcc when present), the multiply-adds of DenseNet121 per image, and where onnxruntime's
 *    time goes (a profiled pass), hence the most images/s any float32 executor could reach here;
 * 6. PyTorch on this CPU as the peer (bench/torch-peers.ts, Debian's python3-torch): the same base in
 *    the default layout, channels_last and bfloat16 autocast (labelled by AMX), each against ours
 *    and as a fraction of the float32 peak, and the lesson the Keras way (the whole model every
 *    batch: one epoch timed, 30 extrapolated) against our cold and warm lesson runs;
 * 7. `predict(model, x)` called in a loop on 32 new images each time against the engine alone
 *    (bench/predict-loop.ts): the ONNX session is kept between calls, so the target is 90%.
 *
 * Writes out/bench.json. A benchmark, not a test: it asserts nothing, it reports.
 *     npm run bench [-- --quick]      (--quick: fewer batches, lesson on 200 images)
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { Fp32Peak, measureFp32Peak } from './fp32-peak';
import { benchFitMemory } from './fit-memory';
import { benchTrainSteps } from './train-steps';
import { benchOnnxExecutor } from './onnx';
import { benchPredictLoop } from './predict-loop';
import { benchTorchPeers, TorchBaseFigure, TorchPeers, TorchPeersResult } from './torch-peers';
import type { OnnxProfile } from './onnx-profile';
import { buildHead, DenseNet121, fit, predict, setBackend, sparseCategoricalCrossentropy, upscale } from '../lib';

interface UncachedFigure {
  trainSecondsPerImage: number;
  inferenceSecondsPerImage: number;
  /** 878 training images trained on plus 293 validation images evaluated, without the cache. */
  epochSeconds: number;
  batchSize: number;
}

/** Keras' way, timed: the whole lesson model (frozen base included) for every batch. */
async function benchUncached(images: number): Promise<UncachedFigure> {
  await setBackend('wasm');
  const inputs = tf.input({ shape: [64, 64, 3] });
  const up = upscale({ height: 160, width: 160 }).apply(inputs) as tf.SymbolicTensor;
  const base = await DenseNet121({ includeTop: false, pooling: 'max', weights: null, inputTensor: up, inputShape: [160, 160, 3] });
  base.trainable = false;
  const model = tf.model({ inputs, outputs: buildHead(base.output as tf.SymbolicTensor) });
  model.compile({ optimizer: 'adam', loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  const x = tf.randomUniform([images, 64, 64, 3], 0, 1, 'float32', 3);
  const y = tf.tensor1d(
    Array.from({ length: images }, (_, i) => i % 10),
    'int32',
  );
  const batchSize = 32;
  try {
    let t = performance.now();
    await fit(model, x, y, { batchSize, epochs: 1, cache: false, verbose: 0 });
    const trainSecondsPerImage = (performance.now() - t) / 1000 / images;
    t = performance.now();
    (await predict(model, x, { batchSize, cache: false, verbose: 0 })).dispose();
    const inferenceSecondsPerImage = (performance.now() - t) / 1000 / images;
    return {
      trainSecondsPerImage,
      inferenceSecondsPerImage,
      epochSeconds: 878 * trainSecondsPerImage + 293 * inferenceSecondsPerImage,
      batchSize,
    };
  } finally {
    x.dispose();
    y.dispose();
    model.dispose();
  }
}

const ROOT = path.join(__dirname, '..');
/** Training images of the lesson runs with --quick (validation: a third of it). */
const QUICK_SAMPLES = 200;

interface LessonFigure {
  label: string;
  seconds: number;
  finalLine?: string;
  kernelPeakRssMiB: number;
  /** The peak the kernel should stay under (issue 18: 400 MiB warm, 600 MiB computing the features). */
  targetMiB?: number;
  exitCode: number | null;
}

/** The processes below `root` (children, grandchildren, ...), from /proc. */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/<pid>/stat is the parent; the name before it (in parentheses) may hold spaces.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // ended meanwhile
    }
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of parents) {
      if (parent === pid) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return found;
}

/**
 * Peak resident set (VmHWM) of the tslab-dl kernel that the process `root` started, read while it
 * runs: only that kernel's, not another one open on the machine.
 */
function watchKernelRss(root: number): { stop(): number } {
  let peakKiB = 0;
  const sample = () => {
    try {
      for (const pid of descendants(root)) {
        const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
        if (!cmdline.includes('tslab-dl.js kernel')) continue;
        const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (hwm) peakKiB = Math.max(peakKiB, Number(hwm[1]));
      }
    } catch {
      // no /proc (not Linux), or the kernel ended between two reads: no figure, or the last one
    }
  };
  const timer = setInterval(sample, 250);
  return {
    stop() {
      clearInterval(timer);
      return Math.round(peakKiB / 1024);
    },
  };
}

function runLesson(label: string, args: string[], env: NodeJS.ProcessEnv, targetMiB?: number): Promise<LessonFigure> {
  return new Promise((resolve) => {
    console.log(`\n== lesson: ${label} (npm run lesson -- ${args.join(' ')})`);
    const started = performance.now();
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'lesson.mjs'), ...args], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const rss = watchKernelRss(child.pid!);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      process.stdout.write(d);
    });
    child.on('exit', (code) => {
      const seconds = (performance.now() - started) / 1000;
      const finalLine = out.split('\n').find((l) => l.startsWith('Final validation accuracy'));
      resolve({ label, seconds, finalLine, kernelPeakRssMiB: rss.stop(), targetMiB, exitCode: code });
    });
  });
}

interface SpeedCeiling {
  /** Arithmetic per image of the base's convolutions (2 flops per multiply-add). */
  gflopPerImage: number;
  /** The rate the fastest executor reached, in GFLOP/s. */
  onnxGflops: number;
  fractionOfPeak?: number;
  /** Images/s with every multiply-add at the CPU's peak rate and nothing else costing time. */
  atPeakImagesPerSecond?: number;
  /** Images/s if the convolutions took the time they took and every other kernel none. */
  convolutionsOnlyImagesPerSecond: number;
}

function speedCeiling(imagesPerSecond: number, profile: OnnxProfile | undefined, peakGflops: number | undefined): SpeedCeiling | undefined {
  if (!profile) return undefined;
  const gflopPerImage = (2 * profile.convolutionMacsPerImage) / 1e9;
  return {
    gflopPerImage,
    onnxGflops: imagesPerSecond * gflopPerImage,
    fractionOfPeak: peakGflops ? (imagesPerSecond * gflopPerImage) / peakGflops : undefined,
    atPeakImagesPerSecond: peakGflops ? peakGflops / gflopPerImage : undefined,
    convolutionsOnlyImagesPerSecond: 1000 / profile.msPerImage.convolution,
  };
}

/** An executor of the base with its rate as a fraction of the CPU's float32 peak. */
interface BaseRate {
  label: string;
  imagesPerSecond: number;
  threads?: number;
  /** Of all cores' float32 peak. */
  fractionOfPeak?: number;
  /** Of the peak of the cores it ran on (threads of all cores), where it used fewer than all. */
  fractionOfPeakOfThreads?: number;
}

/** Our base, PyTorch's, and the lesson our way against the Keras way in PyTorch, from figures measured in this run. */
interface PeerComparison {
  /** Arithmetic per image of the base (the ONNX profile's count, else the PyTorch hooks'). */
  gflopPerImage: number;
  ours: BaseRate[];
  /** imagesPerSecond and the fractions are absent where the variant was skipped. */
  torch: (Partial<BaseRate> & Pick<TorchBaseFigure, 'label' | 'variant' | 'skipped'> & { oursOverTorch?: Record<string, number> })[];
  lesson: {
    trainImages: number;
    validationImages: number;
    ours: { coldSeconds?: number; warmSeconds?: number; epochs?: number; uncachedEpochSeconds: number };
    torch: {
      threads: number;
      /** One Keras-way epoch of the lesson's images. */
      epochSeconds: number;
      epochs30Seconds: number;
      /** As many epochs as our run trained before early stopping ended it. */
      atOurEpochsSeconds?: number;
      /** One epoch of 878 + 293 images, beside ours without the cache. */
      fullEpochSeconds: number;
    }[];
  };
}

/** The epochs a lesson run trained, from its "Final validation accuracy ... after N epochs" line. */
function epochsRun(lesson: LessonFigure | undefined): number | undefined {
  const m = lesson?.finalLine?.match(/after (\d+) epochs/);
  return m ? Number(m[1]) : undefined;
}

function comparePeers(
  torch: TorchPeers,
  ours: { label: string; imagesPerSecond: number }[],
  gflopPerImage: number,
  peak: Fp32Peak,
  lessons: LessonFigure[],
  uncached: UncachedFigure,
  trainImages: number,
): PeerComparison {
  const rate = (label: string, imagesPerSecond: number, threads?: number): BaseRate => {
    const gflops = imagesPerSecond * gflopPerImage;
    const usedFewer = threads !== undefined && threads < torch.cores;
    return {
      label,
      imagesPerSecond,
      threads,
      fractionOfPeak: peak.gflops ? gflops / peak.gflops : undefined,
      fractionOfPeakOfThreads: peak.gflops && usedFewer ? gflops / ((peak.gflops * threads) / torch.cores) : undefined,
    };
  };
  const oursRates = ours.map((o) => rate(o.label, o.imagesPerSecond));
  const torchRates = torch.base.map((b) => ({
    ...(b.imagesPerSecond === undefined ? { label: b.label, threads: b.threads } : rate(b.label, b.imagesPerSecond, b.threads)),
    variant: b.variant,
    skipped: b.skipped,
    oursOverTorch: b.imagesPerSecond ? Object.fromEntries(ours.map((o) => [o.label, o.imagesPerSecond / b.imagesPerSecond!])) : undefined,
  }));
  const validationImages = Math.max(1, Math.round(trainImages / 3));
  const epochs = epochsRun(lessons[1]) ?? epochsRun(lessons[0]);
  return {
    gflopPerImage,
    ours: oursRates,
    torch: torchRates,
    lesson: {
      trainImages,
      validationImages,
      ours: { coldSeconds: lessons[0]?.seconds, warmSeconds: lessons[1]?.seconds, epochs, uncachedEpochSeconds: uncached.epochSeconds },
      torch: torch.lesson.map((l) => {
        const epochSeconds = trainImages * l.trainSecondsPerImage + validationImages * l.validationSecondsPerImage;
        return {
          threads: l.threads,
          epochSeconds,
          epochs30Seconds: 30 * epochSeconds,
          atOurEpochsSeconds: epochs ? epochs * epochSeconds : undefined,
          fullEpochSeconds: l.epochSeconds,
        };
      }),
    },
  };
}

const percent = (f?: number): string => (f === undefined ? 'n/a' : `${(100 * f).toFixed(0)}%`);
const minutes = (s: number): string => (s < 120 ? `${s.toFixed(0)} s` : `${(s / 60).toFixed(1)} min`);

/** The summary's lines on PyTorch: the base per variant against ours, then the lesson. */
function peerSummary(torch: TorchPeersResult, c: PeerComparison | undefined, quick: boolean): string[] {
  if ('skipped' in torch) return [`PyTorch peers: skipped: ${torch.skipped}`];
  if (!c) return [];
  const threads = (t?: number) => (t === undefined ? '' : `, ${t} thread${t === 1 ? '' : 's'}`);
  const ofPeak = (r: Partial<BaseRate>) =>
    `${percent(r.fractionOfPeak)} of the float32 peak` +
    (r.fractionOfPeakOfThreads === undefined ? '' : ` (${percent(r.fractionOfPeakOfThreads)} of the ${r.threads} core(s) it ran on)`);
  const lines = [
    `PyTorch ${torch.torch} peers (default ${torch.defaultThreads} thread(s) of ${torch.cores} cores; ${torch.amx ? 'AMX' : 'no AMX'}), ` +
      `DenseNet121 base ${torch.imageSize}x${torch.imageSize}, batch ${torch.batchSize}, ${c.gflopPerImage.toFixed(2)} GFLOP per image:`,
    `  ours: ${c.ours.map((o) => `${o.label} ${o.imagesPerSecond.toFixed(1)} images/s (${ofPeak(o)})`).join(', ')}`,
  ];
  for (const t of c.torch) {
    if (t.skipped) {
      lines.push(`  torch ${t.label}${threads(t.threads)}: skipped: ${t.skipped}`);
      continue;
    }
    const ratios = Object.entries(t.oursOverTorch ?? {})
      .map(([label, r]) => `${label} ${r.toFixed(2)}x`)
      .join(', ');
    lines.push(`  torch ${t.label}${threads(t.threads)}: ${t.imagesPerSecond!.toFixed(1)} images/s, ${ofPeak(t)}; ours/torch: ${ratios}`);
  }
  const l = c.lesson;
  const ours = l.ours;
  lines.push(
    `lesson (${l.trainImages} + ${l.validationImages} images${quick ? ', --quick' : ''}), ours: cold ${ours.coldSeconds?.toFixed(1) ?? 'n/a'} s, ` +
      `warm ${ours.warmSeconds?.toFixed(1) ?? 'n/a'} s (${ours.epochs ?? '?'} epochs, early stopping; whole runs, kernel start included); ` +
      `ours without the cache: ${minutes(ours.uncachedEpochSeconds)} per epoch of 878 + 293 images`,
  );
  for (const t of l.torch) {
    const faster = (label: string, s: number | undefined) => (s ? `${label} ${(t.atOurEpochsSeconds! / s).toFixed(1)}x` : undefined);
    const speedups = [faster('cold', ours.coldSeconds), faster('warm', ours.warmSeconds)].filter(Boolean).join(', ');
    lines.push(
      `  the Keras way in PyTorch${threads(t.threads)}: 1 epoch ${minutes(t.epochSeconds)}, 30 epochs ${minutes(t.epochs30Seconds)}` +
        (t.atOurEpochsSeconds === undefined
          ? ''
          : `, ${ours.epochs} epochs (where ours stopped) ${minutes(t.atOurEpochsSeconds)}; ours faster by: ${speedups}`) +
        `; an epoch of 878 + 293 images ${minutes(t.fullEpochSeconds)} (ours without the cache takes ${(ours.uncachedEpochSeconds / t.fullEpochSeconds).toFixed(2)}x that)`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const started = new Date().toISOString();
  const loadAverageBefore = os.loadavg();

  console.log('== float32 peak of this CPU (one FMA loop per core, all cores at once)');
  const peak = await measureFp32Peak();
  console.log(
    peak.gflops
      ? `${peak.gflops.toFixed(0)} GFLOP/s (${peak.perCoreGflops!.map((g) => g.toFixed(0)).join(' + ')}; ${peak.vectorBits}-bit vectors)`
      : peak.reason,
  );

  console.log('\n== DenseNet121 base, 160x160, batch 32');
  const base = await benchOnnxExecutor({ onnxBatches: quick ? 2 : 4, wasmBatches: 1, variants: false, log: (l) => console.log(l) });
  const ceiling = speedCeiling(base.onnx.imagesPerSecond, base.profile, peak.gflops);

  console.log('\n== predict(model, x) on 32 new images per call, against the engine alone (bench/predict-loop.ts)');
  const predictLoop = await benchPredictLoop({ calls: quick ? 6 : 12, log: (l) => console.log(l) });

  console.log('\n== PyTorch peers on this CPU (bench/python/base_peers.py)');
  const torchPeers = benchTorchPeers({ quick });
  if ('skipped' in torchPeers) console.log(`skipped: ${torchPeers.skipped}`);
  else {
    console.log(
      `torch ${torchPeers.torch} (${torchPeers.python}), default ${torchPeers.defaultThreads} thread(s) of ${torchPeers.cores} cores; ` +
        `${torchPeers.gflopPerImage.toFixed(3)} GFLOP per image by its hooks` +
        (base.profile ? `, ${((2 * base.profile.convolutionMacsPerImage) / 1e9).toFixed(3)} by the ONNX profile` : ''),
    );
    for (const b of torchPeers.base)
      console.log(
        `${b.label}, ${b.threads} thread(s): ${b.skipped ? `skipped: ${b.skipped}` : `${b.imagesPerSecond!.toFixed(1)} images/s`}`,
      );
    for (const l of torchPeers.lesson)
      console.log(
        `the lesson the Keras way, ${l.threads} thread(s): ${l.trainSecondsPerImage.toFixed(3)} s per training image, ` +
          `${l.validationSecondsPerImage.toFixed(3)} s per validation image (timed on ${l.timedTrainImages} + ${l.timedValidationImages}): ` +
          `one epoch of 878 + 293 images ${l.epochSeconds.toFixed(0)} s, 30 epochs ${(l.epochs30Seconds / 60).toFixed(1)} min`,
      );
    const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
    console.log(
      `${torchPeers.seconds.toFixed(0)} s; load average before ${load(torchPeers.loadAverageBefore)}, after ${load(torchPeers.loadAverageAfter)}`,
    );
  }

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-bench-'));
  const env = { ...process.env, TSLAB_DL_CACHE: path.join(work, 'cache') };
  const common = [
    '--data',
    path.join(work, 'data', 'dataset_dollarstreet'),
    '--out',
    path.join(work, 'out'),
    ...(quick ? ['--samples', String(QUICK_SAMPLES)] : []),
  ];
  const lessons: LessonFigure[] = [];
  try {
    // The stand-in weights and the synthetic data are made by the first run and reused: a learner's
    // second run of the notebook, too, finds them.
    lessons.push(await runLesson('with the feature cache, first run (cold disk cache)', [...common, '--cache', 'disk'], env));
    lessons.push(await runLesson('with the feature cache, second run (warm disk cache)', [...common, '--cache', 'disk'], env, 400));
    lessons.push(
      await runLesson(
        'without the cache, 1 epoch at batch 32 (whole model each epoch, as Keras)',
        [...common, '--cache', 'off', '--epochs', '1'],
        env,
      ),
    );
    // A learner's first run where the weights and the data are on disk already: the features computed, nothing else made.
    fs.rmSync(path.join(work, 'cache', 'features'), { recursive: true, force: true });
    lessons.push(
      await runLesson('with the feature cache, features computed (weights and data on disk)', [...common, '--cache', 'disk'], env, 600),
    );
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }

  console.log('\n== uncached training and inference, whole lesson model, in this process');
  const uncached = await benchUncached(quick ? 32 : 64);
  console.log(
    `uncached: ${uncached.trainSecondsPerImage.toFixed(3)} s per training image, ${uncached.inferenceSecondsPerImage.toFixed(3)} s per ` +
      `inference image (batch ${uncached.batchSize}): one epoch of 878 + 293 images = ${uncached.epochSeconds.toFixed(0)} s`,
  );

  console.log('\n== training on wasm vs PyTorch (same machine, same run)');
  const trainSteps = await benchTrainSteps({ images: 64, augmentedImages: quick ? 64 : 200 });
  console.log(JSON.stringify(trainSteps));

  console.log('\n== peak memory of one epoch at batch 32: model.fit vs fit()');
  const fitMemory = benchFitMemory();
  for (const f of fitMemory)
    console.log(
      `${f.via}: peak RSS ${f.peakRssMiB.toFixed(0)} MiB, TensorFlow.js peak ${f.tfPeakMiB.toFixed(0)} MiB, ${f.seconds.toFixed(1)} s`,
    );

  const peers =
    'skipped' in torchPeers
      ? undefined
      : comparePeers(
          torchPeers,
          [
            { label: 'onnx', imagesPerSecond: base.onnx.imagesPerSecond },
            ...(base.wasm ? [{ label: base.wasm.executor, imagesPerSecond: base.wasm.imagesPerSecond }] : []),
          ],
          ceiling?.gflopPerImage ?? torchPeers.gflopPerImage,
          peak,
          lessons,
          uncached,
          quick ? QUICK_SAMPLES : 878,
        );

  const result = {
    started,
    machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    loadAverageBefore,
    loadAverageAfter: os.loadavg(),
    base: {
      model: base.model,
      batchSize: base.batchSize,
      imagesPerSecond: { onnx: base.onnx.imagesPerSecond, [base.wasm?.executor ?? 'tfjs']: base.wasm?.imagesPerSecond },
      onnxFastestRunImagesPerSecond: base.onnx.bestImagesPerSecond,
      onnxSpeedupOverWasm: base.speedup,
      onnxSetupSeconds: base.onnx.setupSeconds,
      peakRssMiB: base.peakRssMiB,
      onnxProfile: base.profile,
      ceiling,
    },
    fp32Peak: peak,
    lesson: lessons,
    uncached,
    trainSteps,
    fitMemory,
    torchPeers,
    peers,
    predictLoop,
    quick,
  };
  const file = path.join(ROOT, 'out', 'bench.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(result, null, 2) + '\n');

  console.log('\n== Summary');
  console.log(
    `base, onnx: ${base.onnx.imagesPerSecond.toFixed(1)} images/s (fastest run ${base.onnx.bestImagesPerSecond?.toFixed(1)}); ${base.wasm?.executor}: ${base.wasm?.imagesPerSecond.toFixed(1)} images/s; ` +
      `speed-up ${base.speedup?.toFixed(1)}x; benchmark peak RSS ${base.peakRssMiB} MiB`,
  );
  if (ceiling) {
    console.log(
      `  ${ceiling.gflopPerImage.toFixed(2)} GFLOP per image: onnx runs at ${ceiling.onnxGflops.toFixed(0)} GFLOP/s` +
        (ceiling.fractionOfPeak
          ? `, ${(100 * ceiling.fractionOfPeak).toFixed(0)}% of this CPU's float32 peak; at 100% of the peak: ${ceiling.atPeakImagesPerSecond!.toFixed(1)} images/s`
          : '') +
        `; with every kernel but the convolutions free: ${ceiling.convolutionsOnlyImagesPerSecond.toFixed(1)} images/s`,
    );
  }
  for (const l of lessons) {
    console.log(
      `lesson ${l.label}: ${l.seconds.toFixed(1)} s, kernel peak RSS ${l.kernelPeakRssMiB} MiB` +
        (l.targetMiB ? ` (target under ${l.targetMiB} MiB: ${l.kernelPeakRssMiB < l.targetMiB ? 'met' : 'NOT met'})` : '') +
        (l.exitCode ? ` (FAILED, exit ${l.exitCode})` : ''),
    );
    if (l.finalLine) console.log(`  ${l.finalLine}`);
  }
  console.log(
    `without the cache: one epoch = ${uncached.epochSeconds.toFixed(0)} s (30 epochs: ${((uncached.epochSeconds * 30) / 60).toFixed(0)} min), ` +
      `from ${uncached.trainSecondsPerImage.toFixed(3)} s per training image at batch ${uncached.batchSize}`,
  );
  const ratio = (r?: number) => (r === undefined ? 'n/a' : `${r.toFixed(2)}x PyTorch`);
  console.log(
    `training on wasm, 64 images: episode-4 CNN ${trainSteps.cnn.wasmSecondsPerEpoch.toFixed(2)} s/epoch (${ratio(trainSteps.cnn.ratioToTorch)}), ` +
      `DenseNet121 top fine-tuning ${trainSteps.densenetTop.wasmSecondsPerEpoch.toFixed(2)} s/epoch (${ratio(trainSteps.densenetTop.ratioToTorch)}); ` +
      `augmented lesson epoch (${trainSteps.augmentedEpoch.layer}): ${trainSteps.augmentedEpoch.imagesPerSecond.toFixed(1)} images/s`,
  );
  for (const line of peerSummary(torchPeers, peers, quick)) console.log(line);
  console.log(
    `predict of 32 images in a loop: ${predictLoop.predictImagesPerSecond.toFixed(1)} images/s, the engine alone ` +
      `${predictLoop.engineImagesPerSecond.toFixed(1)}: ${(100 * predictLoop.ratio).toFixed(0)}% (target 90%); ` +
      `${predictLoop.sessionsOpened} ONNX session(s) opened, first call ${predictLoop.firstCallSeconds.toFixed(2)} s`,
  );
  console.log(
    `one epoch at batch 32: ${fitMemory.map((f) => `${f.via} peak RSS ${f.peakRssMiB.toFixed(0)} MiB (tfjs ${f.tfPeakMiB.toFixed(0)} MiB)`).join(', ')}`,
  );
  console.log(
    `load average before ${loadAverageBefore.map((x) => x.toFixed(2)).join(' ')}, after ${result.loadAverageAfter.map((x) => x.toFixed(2)).join(' ')}`,
  );
  console.log(`written to ${path.relative(process.cwd(), file)}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
