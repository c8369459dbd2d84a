/**
 * Lesson mode's state, and the settings `npm run lesson` (and CI) pass through the environment.
 *
 * The lesson notebook reads like the Python lesson: 30 epochs, the real data folder, ImageNet
 * weights. To run it small or offline, the runner sets environment variables that the kernel
 * inherits; once the notebook has called `lessonMode()` (lib/lesson/mode.ts) the library
 * applies them where they matter, so no cell has to carry them:
 *
 * - TSLAB_DL_EPOCHS: at most this many epochs per fit;
 * - TSLAB_DL_SAMPLES: training images of the synthetic twin (validation: a third of it);
 * - TSLAB_DL_DATA: the folder to read instead of the notebook's data folder;
 * - TSLAB_DL_WEIGHTS: 'imagenet' (default), 'stand-in', 'none', or an .h5 file, for
 *   `weights: 'imagenet'` of the applications.
 *
 * This module holds state only; it imports nothing heavy, so fit and the loaders can ask it.
 */
import * as path from 'path';
import type * as tf from '@tensorflow/tfjs';
import { onBackendReset } from '../backends/reset';
import { ValueError } from '../core/errors';

export interface LessonEnvironment {
  epochs?: number;
  samples?: number;
  dataFolder?: string;
  /** 'stand-in', null (random), an absolute .h5 path; undefined: 'imagenet' as asked. */
  weights?: 'stand-in' | null | string;
}

let active = false;
/** The training images loadDollarStreet last read in lesson mode: what stand-in weights are calibrated on. */
let trainingImages: tf.Tensor | undefined;

function positiveInteger(name: string): number | undefined {
  const value = process.env[name];
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!(Number.isInteger(n) && n > 0)) throw new ValueError(`${name} must be a positive integer. Received ${JSON.stringify(value)}.`);
  return n;
}

/** The runner's settings, read from the environment now. */
export function lessonEnvironment(): LessonEnvironment {
  const weights = process.env.TSLAB_DL_WEIGHTS;
  const data = process.env.TSLAB_DL_DATA;
  return {
    epochs: positiveInteger('TSLAB_DL_EPOCHS'),
    samples: positiveInteger('TSLAB_DL_SAMPLES'),
    dataFolder: data ? path.resolve(data) : undefined,
    weights:
      weights === undefined || weights === '' || weights === 'imagenet'
        ? undefined
        : weights === 'none'
          ? null
          : weights === 'stand-in'
            ? 'stand-in'
            : path.resolve(weights),
  };
}

/** Whether the notebook asked for lesson mode (`lessonMode()`). */
export function inLessonMode(): boolean {
  return active;
}

/** Switches lesson mode on or off (lessonMode() and tests). */
export function setLessonMode(on: boolean): void {
  active = on;
}

/**
 * The last epoch a fit runs to, capped by TSLAB_DL_EPOCHS in lesson mode: at most that many epochs
 * from `initialEpoch` on (a fit that continues another, as fine-tuning does, runs too).
 */
export function lessonEpochCap(epochs: number, initialEpoch = 0): number {
  if (!active) return epochs;
  const cap = lessonEnvironment().epochs;
  return cap !== undefined && Number.isInteger(epochs) && epochs - initialEpoch > cap ? initialEpoch + cap : epochs;
}

/** One line on what the environment changes, or undefined when it changes nothing. */
export function describeLessonEnvironment(env: LessonEnvironment = lessonEnvironment()): string | undefined {
  const parts: string[] = [];
  if (env.epochs !== undefined) parts.push(`at most ${env.epochs} epochs per fit (TSLAB_DL_EPOCHS)`);
  if (env.samples !== undefined)
    parts.push(`a synthetic twin of ${env.samples} training images when the data is missing (TSLAB_DL_SAMPLES)`);
  if (env.dataFolder !== undefined) parts.push(`data read from ${env.dataFolder} (TSLAB_DL_DATA)`);
  if (env.weights !== undefined) {
    parts.push(
      `weights 'imagenet' replaced by ${env.weights === null ? 'random initialisation' : env.weights === 'stand-in' ? 'stand-in weights' : env.weights} (TSLAB_DL_WEIGHTS)`,
    );
  }
  return parts.length ? `Run settings from the environment: ${parts.join('; ')}.` : undefined;
}

// A backend reset loses every tensor: the images are read again when next needed.
onBackendReset(() => (trainingImages = undefined));

/** Keeps (a reference to) the lesson's training images, as loaded (0..255). */
export function rememberTrainingImages(images: tf.Tensor): void {
  trainingImages = images;
}

/** The lesson's training images, unless the learner disposed of them. */
export function rememberedTrainingImages(): tf.Tensor | undefined {
  return trainingImages && !trainingImages.isDisposed ? trainingImages : undefined;
}

/**
 * What lesson mode adds to the loaders below it: the data folder (downloaded, or the synthetic
 * twin offline), TSLAB_DL_WEIGHTS, and stand-in weights. They live in lib/lesson, above the loaders
 * (lib/data, lib/applications), which therefore reach them through this registry; lib/lesson
 * installs them (installLessonHooks, called by 'tslab-dl', lessonMode and compareModels).
 */
export interface LessonHooks {
  /** The folder to read for the data folder `requested`. */
  dataFolder(requested: string): Promise<string>;
  /** What `weights: 'imagenet'` becomes under TSLAB_DL_WEIGHTS in lesson mode; undefined: ImageNet's file. */
  weightsOverride(): 'stand-in' | null | string | undefined;
  /** The path of stand-in weights for `model` at `size` x `size`, announced with `why`. */
  standInForImagenet(
    model: string,
    size: number,
    why: string,
    real: { url: string; fileName: string },
    images?: tf.Tensor,
  ): Promise<string>;
}

let hooks: LessonHooks | undefined;

/** Installs lesson mode's hooks (lib/lesson/hooks.ts). */
export function setLessonHooks(lessonHooks: LessonHooks): void {
  hooks = lessonHooks;
}

/** Lesson mode's hooks, once lib/lesson has installed them. */
export function lessonHooks(): LessonHooks | undefined {
  return hooks;
}
