/**
 * The lesson's data: Dollar Street 10, four .npy files (Zenodo record 10970014, https://zenodo.org/records/10970014).
 *
 * `loadDollarStreet` reads them into tensors as the Python lesson's first cell
 * does with `np.load`: images [n, height, width, 3] as stored (0..255, not
 * scaled: the lesson's next cell divides by 255), labels [n] as int32.
 * Every file is read and checked before any tensor is made, so an error leaves
 * nothing allocated.
 */
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../backends/selection';
import { DataFileError } from '../core/errors';
import { inLessonMode, lessonHooks, rememberTrainingImages } from '../settings/lesson-environment';
import { describeBlockedPath, pathState } from './file-problems';
import { NpyArray, NpyData, NpyFormatError, NpyTooLargeError, readNpy } from './npy';

/** Class names of labels 0..9, in the order of the dataset. */
export const DOLLAR_STREET_CLASSES: readonly string[] = Object.freeze([
  'day bed',
  'dishrag',
  'plate',
  'running shoe',
  'soap dispenser',
  'street sign',
  'table lamp',
  'tile roof',
  'toilet seat',
  'washing machine',
]);

/** The four files, by the role the lesson gives them (the "test" files are its validation set). */
export const DOLLAR_STREET_FILES = Object.freeze({
  trainImages: 'train_images.npy',
  trainLabels: 'train_labels.npy',
  valImages: 'test_images.npy',
  valLabels: 'test_labels.npy',
});

/** The Zenodo record that publishes the data. */
export const DOLLAR_STREET_RECORD_URL = 'https://zenodo.org/records/10970014';
/** Where the files themselves are: this + file name. */
export const DOLLAR_STREET_BASE_URL = 'https://zenodo.org/records/10970014/files/';
/** Where the lesson keeps them. */
export const DEFAULT_DOLLAR_STREET_FOLDER = 'data/dataset_dollarstreet/';

/** The lesson's four arrays as tensors. */
export interface DollarStreetData {
  /** [n, height, width, 3] float32, values as stored (0..255). */
  trainImages: tf.Tensor4D;
  /** [n] int32, class indices 0..9. */
  trainLabels: tf.Tensor1D;
  /** [m, height, width, 3] float32, from test_images.npy. */
  valImages: tf.Tensor4D;
  /** [m] int32, from test_labels.npy. */
  valLabels: tf.Tensor1D;
}

/** A string as a single-quoted TypeScript literal, for code shown in messages. */
export function codeString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** How to get the files, for messages about missing or damaged ones. */
export function whereToGetDollarStreet(folder: string): string {
  const quoted = codeString(folder);
  return (
    `Download the four Dollar Street 10 files (${Object.values(DOLLAR_STREET_FILES).join(', ')}) from ` +
    `${DOLLAR_STREET_RECORD_URL} (e.g. ${DOLLAR_STREET_BASE_URL}train_images.npy) into ${path.resolve(folder)}, ` +
    `or run \`await fetchDollarStreet(${quoted})\`. Without internet, ` +
    `\`await makeSyntheticDollarStreet('data/dataset_dollarstreet_synthetic/')\` writes a synthetic stand-in ` +
    `with the same layout (drawn shapes, not photographs) that loadDollarStreet can read.`
  );
}

function describeShape(shape: number[]): string {
  return `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
}

/** Reads one file, turning format and file-system errors into messages that say what to do. */
async function readDataFile(file: string, folder: string): Promise<NpyArray> {
  try {
    return await readNpy(file);
  } catch (e) {
    // Valid, only large: its message says the size, the limit and how to split it; downloading again would not help.
    if (e instanceof NpyTooLargeError) throw e;
    const again = `Download it again: \`await fetchDollarStreet(${codeString(folder)}, { force: true })\`, or from ${DOLLAR_STREET_BASE_URL}${path.basename(file)}.`;
    if (e instanceof NpyFormatError) throw new DataFileError(file, `${e.reason} ${again}`);
    const error = e as NodeJS.ErrnoException;
    const blocked = error.code ? await describeBlockedPath(file, error) : undefined;
    if (blocked) throw new DataFileError(file, blocked);
    throw new DataFileError(file, `cannot be read (${error.code ?? error.message}). ${again}`);
  }
}

function checkImages(images: NpyArray, file: string): void {
  const { shape } = images;
  if (shape.length !== 4 || shape[3] !== 3) {
    let hint = '';
    if (shape.length === 4 && shape[1] === 3) hint = ' It looks channels-first: in Python, np.transpose(images, (0, 2, 3, 1)) makes it channels-last.';
    else if (shape.length === 4 && shape[3] === 4) hint = ' It looks like RGBA: drop the alpha channel (images[..., :3]).';
    else if (shape.length === 3) hint = ' It looks like greyscale images without a channel axis.';
    throw new DataFileError(
      file,
      `should hold colour images of shape (n, height, width, 3) (rank 4, 3 channels last), but holds shape ${describeShape(shape)}.${hint}`,
    );
  }
  if (shape[0] === 0 || shape[1] === 0 || shape[2] === 0) {
    throw new DataFileError(file, `holds no pixels: its shape is ${describeShape(shape)}.`);
  }
  if (images.dtype === 'float16' || images.dtype === 'float32' || images.dtype === 'float64') {
    const data = images.data as Float32Array | Float64Array;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        throw new DataFileError(file, `holds a non-finite pixel value (${data[i]}) at flat index ${i}: images must be numbers 0..255.`);
      }
    }
  }
}

/** Checks the labels and returns them as int32 (accepting shape (n,) or (n, 1)). */
function checkLabels(labels: NpyArray, file: string, imageCount: number, imageFile: string): Int32Array {
  const { shape } = labels;
  if (!(shape.length === 1 || (shape.length === 2 && shape[1] === 1))) {
    throw new DataFileError(file, `should hold one class index per image, shape (n,), but holds shape ${describeShape(shape)}.`);
  }
  if (shape[0] !== imageCount) {
    throw new DataFileError(
      file,
      `holds ${shape[0]} labels, but ${path.basename(imageFile)} holds ${imageCount} images: ` +
        `the two files must come from the same split (one label per image).`,
    );
  }
  const classes = DOLLAR_STREET_CLASSES.length;
  const out = new Int32Array(shape[0]);
  const data = labels.data;
  for (let i = 0; i < data.length; i++) {
    const value = data[i];
    const number = typeof value === 'bigint' ? (value >= 0n && value < BigInt(classes) ? Number(value) : NaN) : value;
    if (typeof value !== 'bigint' && !Number.isInteger(number)) {
      throw new DataFileError(file, `label ${value} at index ${i} is not an integer: labels must be class indices 0..${classes - 1}.`);
    }
    if (!(number >= 0 && number < classes)) {
      throw new DataFileError(
        file,
        `label ${value} at index ${i} is outside 0..${classes - 1}: Dollar Street 10 has ${classes} classes (${DOLLAR_STREET_CLASSES.join(', ')}).`,
      );
    }
    out[i] = number;
  }
  return out;
}

/** Pixels as float32, the dtype the lesson's model takes. */
function toFloat32(data: NpyData): Float32Array {
  if (data instanceof Float32Array) return data;
  const out = new Float32Array(data.length);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    // Number(bigint) per element is slow (about 1 s for the lesson's images); combining the two
    // 32-bit halves gives the same correctly rounded double. The data is in this machine's byte order.
    const words = new Uint32Array(data.buffer, data.byteOffset, data.length * 2);
    const [low, high] = os.endianness() === 'LE' ? [0, 1] : [1, 0];
    const signed = data instanceof BigInt64Array;
    for (let i = 0; i < data.length; i++) {
      const hi = words[2 * i + high];
      out[i] = (signed ? hi | 0 : hi) * 4294967296 + words[2 * i + low];
    }
  } else {
    out.set(data);
  }
  return out;
}

/** Warns (does not fail) when pixel values do not look like the lesson's 0..255. */
function warnAboutRange(pixels: Float32Array, file: string): void {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < pixels.length; i++) {
    const p = pixels[i];
    if (p < min) min = p;
    if (p > max) max = p;
  }
  if (max <= 1 && pixels.length > 0) {
    process.stderr.write(
      `Warning: ${file}: pixel values lie in ${min}..${max}, as if already scaled to 0..1; the lesson's next cell divides by 255 again.\n`,
    );
  } else if (min < 0 || max > 255) {
    process.stderr.write(`Warning: ${file}: pixel values lie in ${min}..${max}, outside the 0..255 the lesson expects.\n`);
  }
}

/**
 * Loads Dollar Street 10 from `folder`: train_images.npy, train_labels.npy,
 * test_images.npy, test_labels.npy (the "test" files are the lesson's validation set).
 * Accepts any integer or float dtype (uint8, int32, int64, float32, float64, ...), either byte order.
 * Pixel values are kept as stored (0..255, not scaled); a warning goes to stderr when they look
 * already scaled or out of range. After {@link lessonMode}, a missing folder is first downloaded
 * (or, offline, replaced by the synthetic twin).
 *
 * @param folder - The folder holding the four files. Defaults to {@link DEFAULT_DOLLAR_STREET_FOLDER}
 *   (`'data/dataset_dollarstreet/'`), relative to the working folder.
 * @returns The four tensors: images [n, height, width, 3] float32 and labels [n] int32 (class
 *   indices 0..9, named by {@link DOLLAR_STREET_CLASSES}), for the training and validation sets.
 * @throws A {@link DataFileError} naming the file at fault: missing, unreadable, not a valid .npy,
 *   the wrong shape, labels outside 0..9, or training and validation images of different sizes.
 *   On error no tensor is left allocated.
 * @throws A {@link NpyTooLargeError} when a file is larger than {@link NPY_READ_LIMIT}.
 *
 * @example
 * ```ts
 * const DATA_FOLDER = 'data/dataset_dollarstreet/';
 * let { trainImages, trainLabels, valImages, valLabels } = await loadDollarStreet(DATA_FOLDER);
 * trainImages = trainImages.div(255);
 * valImages = valImages.div(255);
 * ```
 */
export async function loadDollarStreet(folder: string = DEFAULT_DOLLAR_STREET_FOLDER): Promise<DollarStreetData> {
  await ready();
  // In the lesson notebook a missing folder is downloaded, or replaced by the synthetic twin offline
  // (lib/lesson/data.ts, installed by lessonMode()).
  const lesson = lessonHooks();
  if (inLessonMode() && lesson) folder = await lesson.dataFolder(folder);
  const file = (name: string) => path.join(folder, name);
  const files = {
    trainImages: file(DOLLAR_STREET_FILES.trainImages),
    trainLabels: file(DOLLAR_STREET_FILES.trainLabels),
    valImages: file(DOLLAR_STREET_FILES.valImages),
    valLabels: file(DOLLAR_STREET_FILES.valLabels),
  };

  const missing: string[] = [];
  for (const f of Object.values(files)) {
    const state = await pathState(f);
    if (state.kind === 'missing') missing.push(f);
    // There, but not to be opened (a symbolic link loop, no permission): saying "missing" would send the learner to download it.
    if (state.kind === 'blocked') {
      throw new DataFileError(f, (await describeBlockedPath(f, state.error)) ?? `cannot be opened (${state.error.code ?? state.error.message}).`);
    }
  }
  if (missing.length > 0) {
    const others = missing.length > 1 ? ` (and ${missing.slice(1).map((f) => path.basename(f)).join(', ')})` : '';
    throw new DataFileError(missing[0], `is missing${others}. ${whereToGetDollarStreet(folder)}`);
  }

  // Read and check everything first: tensors are made only once all four files are known to be good.
  const trainImages = await readDataFile(files.trainImages, folder);
  checkImages(trainImages, files.trainImages);
  const trainLabels = checkLabels(await readDataFile(files.trainLabels, folder), files.trainLabels, trainImages.shape[0], files.trainImages);
  const valImages = await readDataFile(files.valImages, folder);
  checkImages(valImages, files.valImages);
  const valLabels = checkLabels(await readDataFile(files.valLabels, folder), files.valLabels, valImages.shape[0], files.valImages);
  const [, h, w] = trainImages.shape;
  const [, vh, vw] = valImages.shape;
  if (vh !== h || vw !== w) {
    throw new DataFileError(
      files.valImages,
      `holds ${vh}x${vw} images, but ${path.basename(files.trainImages)} holds ${h}x${w} images: ` +
        `training and validation images must have the same size for one model to take both.`,
    );
  }

  const trainPixels = toFloat32(trainImages.data);
  const valPixels = toFloat32(valImages.data);
  warnAboutRange(trainPixels, files.trainImages);
  warnAboutRange(valPixels, files.valImages);

  const made: tf.Tensor[] = [];
  const keep = <T extends tf.Tensor>(t: T): T => {
    made.push(t);
    return t;
  };
  try {
    const data = {
      trainImages: keep(tf.tensor4d(trainPixels, trainImages.shape as [number, number, number, number], 'float32')),
      trainLabels: keep(tf.tensor1d(trainLabels, 'int32')),
      valImages: keep(tf.tensor4d(valPixels, valImages.shape as [number, number, number, number], 'float32')),
      valLabels: keep(tf.tensor1d(valLabels, 'int32')),
    };
    if (inLessonMode()) rememberTrainingImages(data.trainImages);
    return data;
  } catch (e) {
    for (const t of made) t.dispose();
    throw e;
  }
}
