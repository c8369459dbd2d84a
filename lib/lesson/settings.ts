/**
 * The lesson notebook's set-up in one call: which data, which weights, how many epochs.
 *
 * On a learner's machine: the real Dollar Street 10 files and the ImageNet weights when they are
 * there. Elsewhere (CI, a laptop offline): the synthetic stand-in and random weights, announced
 * loudly. `npm run lesson` passes its options through the environment, which the kernel inherits:
 *
 * - TSLAB_DL_DATA: folder of the real data (default: data/dataset_dollarstreet/ here or in a
 *   parent folder);
 * - TSLAB_DL_WEIGHTS: 'imagenet' (the default: used when the file is cached, otherwise a stand-in
 *   calibrated on the training images, see lib/lesson/stand-in-weights.ts), 'none' (random), or an .h5 path;
 * - TSLAB_DL_SAMPLES: training images of the synthetic stand-in (validation: a third);
 * - TSLAB_DL_EPOCHS: maximum epochs (default 30, as the lesson).
 */
import * as fs from 'fs';
import * as path from 'path';
import { DENSENET121_WEIGHT_PATH_NO_TOP, DENSENET121_WEIGHTS_FILE_NO_TOP } from '../applications/densenet';
import { backendInfo, ready } from '../backends/selection';
import { display } from '../notebook/display';
import { loudNotice } from './banner';
import { ValueError } from '../core/errors';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_DOLLAR_STREET_FOLDER, dollarStreetSource, loadDollarStreet, resolveLessonData } from '../data';
import { denseNet121StandInWeights } from './stand-in-weights';
import { weightsCandidates } from '../weights/imagenet';

/** The weights file of the lesson's base: Keras' DenseNet121 without top. */
const LESSON_WEIGHTS_FILE = DENSENET121_WEIGHTS_FILE_NO_TOP;
const LESSON_WEIGHTS_URL = DENSENET121_WEIGHT_PATH_NO_TOP;

/** Options of {@link lessonSettings}; each defaults to the environment `npm run lesson` sets (TSLAB_DL_DATA, ...). */
export interface LessonOptions {
  /** Folder of the real data. Defaults to $TSLAB_DL_DATA, else data/dataset_dollarstreet/ found here or in a parent folder. */
  dataFolder?: string;
  /** 'imagenet', null (random) or an .h5 path. Defaults to $TSLAB_DL_WEIGHTS, else 'imagenet' when the file is cached, else a stand-in. */
  weights?: 'imagenet' | null | string;
  /** Training images of the synthetic stand-in. Defaults to $TSLAB_DL_SAMPLES, else 878 (as the real data). */
  samples?: number;
  /** Maximum epochs. Defaults to $TSLAB_DL_EPOCHS, else 30. */
  epochs?: number;
}

/** What {@link lessonSettings} decided: the lesson's data, weights and epochs, with a description of each. */
export interface LessonSettings {
  /** The folder loadDollarStreet reads: the real data, or the synthetic stand-in. */
  dataFolder: string;
  /** Whether that is the real Dollar Street 10 or the synthetic stand-in. */
  dataSource: 'real' | 'synthetic';
  /** The data in one line, for reports. */
  dataDescription: string;
  /** What to pass to DenseNet121({ weights }). */
  weights: 'imagenet' | null | string;
  /** The weights in one line, e.g. 'random initialisation (asked for)'. */
  weightsDescription: string;
  /** Maximum epochs of training. */
  epochs: number;
}

function positiveInteger(value: string | number | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!(Number.isInteger(n) && n > 0)) throw new ValueError(`${name} must be a positive integer. Received ${JSON.stringify(value)}.`);
  return n;
}

/** data/dataset_dollarstreet/ in the working folder or the nearest parent that has it. */
function findDataFolder(): string {
  let dir = process.cwd();
  for (;;) {
    const candidate = path.join(dir, DEFAULT_DOLLAR_STREET_FOLDER);
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(DEFAULT_DOLLAR_STREET_FOLDER);
    dir = parent;
  }
}

async function chooseWeights(
  requested: string | null | undefined,
  dataFolder: string,
): Promise<Pick<LessonSettings, 'weights' | 'weightsDescription'>> {
  if (requested === null || requested === 'none') return { weights: null, weightsDescription: 'random initialisation (asked for)' };
  if (requested && requested !== 'imagenet') {
    const file = path.resolve(requested);
    if (!fs.existsSync(file))
      throw new ValueError(`weights: the file ${file} does not exist. Pass 'imagenet', 'none' or the path of an .h5 weights file.`);
    return { weights: file, weightsDescription: `from ${file}` };
  }
  const spec = { fileName: LESSON_WEIGHTS_FILE, url: LESSON_WEIGHTS_URL };
  const cached = weightsCandidates(spec).find((f) => fs.existsSync(f));
  if (cached) return { weights: 'imagenet', weightsDescription: `ImageNet (${cached})` };
  if (requested === 'imagenet') return { weights: 'imagenet', weightsDescription: 'ImageNet (to be downloaded)' };

  // No ImageNet file: a stand-in calibrated on the learner's images (lib/lesson/stand-in-weights.ts).
  const data = await loadDollarStreet(dataFolder);
  let file: string;
  try {
    const images = tf.tidy(() => data.trainImages.div(255)) as tf.Tensor4D;
    try {
      file = await denseNet121StandInWeights({ images });
    } finally {
      images.dispose();
    }
  } finally {
    Object.values(data).forEach((t) => t.dispose());
  }
  display(
    loudNotice('USING STAND-IN WEIGHTS', [
      `the ImageNet weights of DenseNet121 are not in Keras' cache (${weightsCandidates(spec)[0]}).`,
      "Instead: Keras' random initialisation, with each BatchNormalization's statistics computed from the training images",
      `(what pre-training leaves them at), saved in Keras' layout as ${file}.`,
      "Its features are not ImageNet's, and neither are the accuracies.",
      `To use the real weights: download ${LESSON_WEIGHTS_URL} into that folder, or pass weights: 'imagenet' to download it now.`,
    ]),
  );
  return {
    weights: file,
    weightsDescription: `stand-in (random kernels, BatchNormalization statistics from the training images: ${file})`,
  };
}

/** Decides the lesson's data, weights and epochs, says which, and makes the synthetic stand-in if needed. */
export async function lessonSettings(options: LessonOptions = {}): Promise<LessonSettings> {
  await ready();
  const env = process.env;
  const epochs = positiveInteger(options.epochs ?? env.TSLAB_DL_EPOCHS, 'epochs (TSLAB_DL_EPOCHS)') ?? 30;
  const samples = positiveInteger(options.samples ?? env.TSLAB_DL_SAMPLES, 'samples (TSLAB_DL_SAMPLES)');
  const realFolder = path.resolve(options.dataFolder ?? env.TSLAB_DL_DATA ?? findDataFolder());
  const synthetic = samples ? { train: samples, test: Math.max(1, Math.round(samples / 3)) } : {};
  const syntheticFolder = path.join(path.dirname(realFolder), `dataset_dollarstreet_synthetic${samples ? `_${samples}` : ''}`);
  if ((await dollarStreetSource(realFolder)).kind === 'real' && samples) {
    console.log(`Note: samples=${samples} only sizes the synthetic stand-in; the real data is used whole.`);
  }
  const data = await resolveLessonData({ folder: realFolder, syntheticFolder, synthetic });
  const weights = await chooseWeights(options.weights !== undefined ? options.weights : env.TSLAB_DL_WEIGHTS, data.folder);
  const settings: LessonSettings = {
    dataFolder: data.folder,
    dataSource: data.source,
    dataDescription: data.description,
    ...weights,
    epochs,
  };
  console.log(
    `Lesson settings: data ${settings.dataDescription}; weights ${settings.weightsDescription}; ` +
      `at most ${epochs} epochs; TensorFlow.js backend ${backendInfo().backend}.`,
  );
  return settings;
}
