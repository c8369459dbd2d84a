/**
 * Stand-in weights where `weights: 'imagenet'` cannot be had: in lesson mode when the network does
 * not answer (or TSLAB_DL_WEIGHTS asks for them), elsewhere when the caller asks for the fallback
 * (`weightsFallback: 'stand-in'`). Keras' random kernels with BatchNormalization statistics
 * calibrated on the learner's images (lib/lesson/stand-in-weights.ts), announced loudly: the features
 * are not ImageNet's, and neither are the accuracies.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_DOLLAR_STREET_FOLDER, loadDollarStreet } from '../data';
import { display } from '../notebook/display';
import { ValueError } from '../core/errors';
import { standInWeights } from './stand-in-weights';
import { kerasCacheDir } from '../weights/imagenet';
import { loudNotice } from './banner';
import { inLessonMode, lessonEnvironment, rememberedCalibrationImages } from '../settings/lesson-environment';

/** What `weights: 'imagenet'` becomes under TSLAB_DL_WEIGHTS in lesson mode; undefined: ImageNet's file, as asked. */
export function lessonWeightsOverride(): 'stand-in' | null | string | undefined {
  return inLessonMode() ? lessonEnvironment().weights : undefined;
}

/**
 * The images to calibrate on, scaled as the lesson feeds them (/ 255); the caller disposes them.
 * Only the first CALIBRATION_IMAGES are used: dividing the whole training set would put another
 * 43 MB into the wasm heap, which never shrinks, to keep 16 images.
 */
async function calibrationImages(given: tf.Tensor | undefined): Promise<tf.Tensor> {
  if (given) return given.clone();
  if (!inLessonMode()) {
    throw new ValueError(
      "weightsFallback: 'stand-in' needs images to calibrate on: pass standInImages (the training images, scaled as the model sees them).",
    );
  }
  // In lesson mode the loader keeps a copy of the first training images (rememberTrainingImages).
  if (!rememberedCalibrationImages()) tf.dispose(Object.values(await loadDollarStreet(DEFAULT_DOLLAR_STREET_FOLDER)));
  const remembered = rememberedCalibrationImages()!;
  return tf.tidy(() => remembered.div(255));
}

/**
 * The path of stand-in weights (no top) for `model` at `size` x `size`, announced loudly with
 * `why` and with how to get the real file (`url`, to be saved as `fileName` in Keras' cache).
 */
export async function standInForImagenet(
  model: string,
  size: number,
  why: string,
  real: { url: string; fileName: string },
  images?: tf.Tensor,
): Promise<string> {
  const calibration = await calibrationImages(images);
  let file: string;
  try {
    file = await standInWeights(model, { images: calibration, size });
  } finally {
    calibration.dispose();
  }
  display(
    loudNotice('USING STAND-IN WEIGHTS', [
      `${why}`,
      `Instead: Keras' random initialisation of ${model}, with each BatchNormalization's statistics computed from the training images`,
      `(what pre-training leaves them at), saved in Keras' layout as ${file}.`,
      "Its features are not ImageNet's, and neither are the accuracies.",
      `To use the real weights: download ${real.url} and save it as ${path.join(kerasCacheDir(), real.fileName)}, then run again.`,
    ]),
  );
  return file;
}
