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
/** How many of the lesson's training images (the first ones) stand-in weights are calibrated on. */
export const CALIBRATION_IMAGES = 16;

/**
 * A copy of the first CALIBRATION_IMAGES training images loadDollarStreet last read in lesson
 * mode, as loaded (0..255): what stand-in weights are calibrated on. A copy, not the whole set:
 * once the notebook drops its images (`trainImages = trainImages.div(255)`) they can be freed
 * (lib/compat/unreachable-tensors.ts).
 */
let calibrationImages: tf.Tensor | undefined;
/** How many training images that load read, for the lesson's results. */
let trainingImageCount: number | undefined;

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
onBackendReset(() => (calibrationImages = undefined));

/** Remembers the first CALIBRATION_IMAGES of the lesson's training images (a copy) and how many there are. */
export function rememberTrainingImages(images: tf.Tensor): void {
  calibrationImages?.dispose();
  calibrationImages = images.slice(0, Math.min(CALIBRATION_IMAGES, images.shape[0]));
  trainingImageCount = images.shape[0];
}

/** The copy of the lesson's first training images (0..255) {@link rememberTrainingImages} kept; undefined before. */
export function rememberedCalibrationImages(): tf.Tensor | undefined {
  return calibrationImages && !calibrationImages.isDisposed ? calibrationImages : undefined;
}

/** How many training images loadDollarStreet last read in lesson mode; undefined before it did. */
export function rememberedTrainingImageCount(): number | undefined {
  return trainingImageCount;
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
