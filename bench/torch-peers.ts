/**
 * PyTorch on this CPU as a peer of the frozen-base path: bench/python/base_peers.py run with the
 * Python that has torch and torchvision (Debian's python3-torch and python3-torchvision), its
 * JSON line read into typed figures.
 *
 * - DenseNet121's base as the lesson uses it (160x160, batch 32, max pooling), images/s in the
 *   default layout, channels_last, and bfloat16 autocast (labelled by whether the CPU has AMX);
 * - its multiply-adds per image, so that its rate can be put against the CPU's float32 peak;
 * - the lesson the Keras way (the whole model on every batch): seconds per training and per
 *   validation image, one epoch of 878 + 293 images, 30 epochs.
 *
 * Each at torch's default number of threads and, when that is fewer than the cores, at all cores.
 *
 *     node --import tsx bench/torch-peers.ts [--quick]
 */
import { spawnSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';

/** One variant of the base through PyTorch. */
export interface TorchBaseFigure {
  /** 'default' (NCHW float32), 'channels_last' (float32), 'bf16_amx' or 'bf16_no_amx' (bfloat16 autocast). */
  variant: 'default' | 'channels_last' | 'bf16_amx' | 'bf16_no_amx';
  /** What was run, in words. */
  label: string;
  threads: number;
  /** Median over the timed batches; undefined when skipped. */
  imagesPerSecond?: number;
  /** Of the fastest timed batch. */
  fastestImagesPerSecond?: number;
  /** Why the variant was not timed. */
  skipped?: string;
}

/** The lesson the Keras way through PyTorch, at one thread count. */
export interface TorchLessonFigure {
  threads: number;
  /** Images the per-image figures were measured on (fewer than the lesson's with --quick). */
  timedTrainImages: number;
  timedValidationImages: number;
  trainSecondsPerImage: number;
  validationSecondsPerImage: number;
  /** One epoch of 878 training and 293 validation images. */
  epochSeconds: number;
  /** 30 such epochs, as the lesson's fit asks for without early stopping. */
  epochs30Seconds: number;
}

/** Everything bench/python/base_peers.py measured, and with which Python. */
export interface TorchPeers {
  python: string;
  torch: string;
  torchvision: string;
  /** torch.get_num_threads() before the script changed it. */
  defaultThreads: number;
  cores: number;
  /** Whether /proc/cpuinfo lists amx_bf16. */
  amx: boolean;
  /** Whether /proc/cpuinfo lists avx512_bf16 (bfloat16 dot products without AMX). */
  avx512Bf16: boolean;
  batchSize: number;
  imageSize: number;
  model: string;
  /** Multiply-adds per image of the base's convolutions, counted with forward hooks. */
  macsPerImage: number;
  /** 2 flops per multiply-add. */
  gflopPerImage: number;
  base: TorchBaseFigure[];
  lesson: TorchLessonFigure[];
  /** Wall time of the script. */
  seconds: number;
  /** os.loadavg() before and after the script: other processes on the cores slow torch's threads most. */
  loadAverageBefore: number[];
  loadAverageAfter: number[];
}

/** The figures, or why there are none. */
export type TorchPeersResult = TorchPeers | { skipped: string };

const SCRIPT = path.join(__dirname, 'python', 'base_peers.py');

/** The first of $TSLAB_DL_PYTHON, Debian's /usr/bin/python3 and python3 on PATH that imports torch and torchvision. */
function findTorchPython(): { python?: string; why: string } {
  const tried: string[] = [];
  for (const python of [process.env.TSLAB_DL_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p)) {
    const r = spawnSync(python, ['-c', 'import torch, torchvision'], { encoding: 'utf8' });
    if (r.status === 0) return { python, why: '' };
    const reason = r.error ? ((r.error as NodeJS.ErrnoException).code ?? r.error.message) : r.stderr.trim().split('\n').pop();
    tried.push(`${python}: ${reason}`);
  }
  return {
    why: `no Python with torch and torchvision (${tried.join('; ')}); on Debian/Ubuntu: apt-get install python3-torch python3-torchvision`,
  };
}

/** Runs bench/python/base_peers.py (`quick`: fewer batches, the lesson on 128 + 64 images scaled up). */
export function benchTorchPeers({ quick = false } = {}): TorchPeersResult {
  const found = findTorchPython();
  if (!found.python) return { skipped: found.why };
  const loadAverageBefore = os.loadavg();
  const started = performance.now();
  const run = spawnSync(found.python, [SCRIPT, ...(quick ? ['--quick'] : [])], { encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
  const seconds = (performance.now() - started) / 1000;
  if (run.status !== 0) {
    const why = run.error?.message ?? run.stderr.trim().split('\n').pop() ?? `exit ${run.status}`;
    return { skipped: `${path.relative(process.cwd(), SCRIPT)} failed under ${found.python}: ${why}` };
  }
  const line = run.stdout.trim().split('\n').pop() ?? '';
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return {
      skipped: `${path.relative(process.cwd(), SCRIPT)} printed no JSON line; its last line: ${JSON.stringify(line.slice(0, 200))}`,
    };
  }
  const base = (raw.base as Record<string, unknown>[]).map((b): TorchBaseFigure => ({
    variant: b.variant as TorchBaseFigure['variant'],
    label: b.label as string,
    threads: b.threads as number,
    imagesPerSecond: b.images_per_second as number | undefined,
    fastestImagesPerSecond: b.fastest_images_per_second as number | undefined,
    skipped: b.skipped as string | undefined,
  }));
  const lesson = (raw.lesson as Record<string, number>[]).map((l): TorchLessonFigure => ({
    threads: l.threads,
    timedTrainImages: l.timed_train_images,
    timedValidationImages: l.timed_validation_images,
    trainSecondsPerImage: l.train_seconds_per_image,
    validationSecondsPerImage: l.validation_seconds_per_image,
    epochSeconds: l.epoch_seconds,
    epochs30Seconds: l.epochs_30_seconds,
  }));
  const macsPerImage = raw.macs_per_image as number;
  return {
    python: found.python,
    torch: raw.torch as string,
    torchvision: raw.torchvision as string,
    defaultThreads: raw.default_threads as number,
    cores: raw.cores as number,
    amx: raw.amx as boolean,
    avx512Bf16: raw.avx512_bf16 as boolean,
    batchSize: raw.batch as number,
    imageSize: raw.image_size as number,
    model: raw.model as string,
    macsPerImage,
    gflopPerImage: (2 * macsPerImage) / 1e9,
    base,
    lesson,
    seconds,
    loadAverageBefore,
    loadAverageAfter: os.loadavg(),
  };
}

if (require.main === module) {
  console.log(JSON.stringify(benchTorchPeers({ quick: process.argv.includes('--quick') }), null, 2));
}
