/**
 * Keras 2 legacy HDF5 weight files (`model.save_weights('x.h5')`, the keras-applications
 * files), read and written with h5wasm in a worker thread (lib/weights/h5-worker.ts).
 *
 * Layout (Keras' tf_keras/saving/legacy/hdf5_format.py, `save_weights_to_hdf5_group` and
 * `load_weights_from_hdf5_group`):
 * - root attribute `layer_names` (or `layer_names0`, `layer_names1`, ... when it would exceed
 *   the 64 KiB HDF5 object-header limit): every layer of the model, weights or not;
 * - one group per layer, named by the layer, with attribute `weight_names`;
 * - weight `W` of layer `L` at `L/W`, e.g. `/conv1/conv/conv1/conv/kernel:0` ('/' nests groups).
 * Keras loads by position among the layers that have weights, not by name, and checks counts
 * and shapes; so does {@link loadWeightsH5}, with errors that name the layer and the shapes.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../backends/selection';
import { replaceFileAtomic } from '../core/atomic-write';
import { DataFileError, ValueError } from '../core/errors';
import type { H5LayerToWrite } from './h5-worker';
import { inH5Worker } from './run-h5-worker';

export { HDF5_OBJECT_HEADER_LIMIT, splitForHeaderLimit } from './h5-worker';

/** The first bytes of every HDF5 file. */
const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Checks the file exists and starts like HDF5 before handing it to the HDF5 library. */
function checkReadable(file: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new DataFileError(
      file,
      'no such file. Pass the path of a Keras .h5 weights file (absolute, or relative to ' + process.cwd() + ').',
    );
  }
  if (!stat.isFile()) throw new DataFileError(file, 'is a directory, not a Keras .h5 weights file.');
  if (stat.size === 0) throw new DataFileError(file, 'is empty (0 bytes): delete it and download it again.');
  const head = Buffer.alloc(HDF5_SIGNATURE.length);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  // HDF5 allows a user block before the signature (at 512, 1024, ...); Keras files have none,
  // so only a file without the signature at 0 is left for the library to judge.
  if (!head.equals(HDF5_SIGNATURE) && stat.size < 512) {
    throw new DataFileError(
      file,
      `is not an HDF5 file (${stat.size} bytes, no HDF5 signature). Keras weight files are HDF5 files ending in .h5.`,
    );
  }
}

/** One weight as stored in the file. */
export interface H5Weight {
  /** The name in the layer's `weight_names`, e.g. 'conv1/conv/kernel:0'. */
  name: string;
  shape: number[];
  values: Float32Array;
}

/** One layer group of the file (only layers that have weights). */
export interface H5Layer {
  name: string;
  weights: H5Weight[];
}

/** The content of a Keras legacy weights file. */
export interface H5WeightsFile {
  file: string;
  /** Every name in `layer_names`, including layers without weights. */
  layerNames: string[];
  /** The layers that have weights, in file order. */
  layers: H5Layer[];
  /** Root attributes such as backend and keras_version, when present. */
  kerasVersion?: string;
  backend?: string;
}

/**
 * Reads every layer's weights from a Keras 2 legacy .h5 file (weights or whole-model file).
 * h5wasm runs in a worker thread that ends when done (lib/weights/run-h5-worker.ts).
 */
export async function readWeightsH5(file: string): Promise<H5WeightsFile> {
  checkReadable(file);
  const { result } = await inH5Worker({ task: 'read', file });
  return result!;
}

/** What {@link loadWeightsH5} loaded. */
export interface H5LoadReport {
  file: string;
  /** Layers with weights that received values. */
  layers: number;
  /** Weight tensors assigned. */
  weights: number;
  /**
   * Layers matched by position whose names differ between model and file (Keras matches by
   * position too; e.g. Keras 3 names `conv1_conv` where Keras 2 wrote `conv1/conv`).
   */
  renamed: { model: string; file: string }[];
}

function shapeText(shape: readonly (number | null)[]): string {
  return `[${shape.join(', ')}]`;
}

function layerSummary(layer: { name: string; shapes: (readonly (number | null)[])[] }): string {
  return `\`${layer.name}\` (${layer.shapes.length} weight(s): ${layer.shapes.map(shapeText).join(' ') || 'none'})`;
}

/** The first position where the model's and the file's layers with weights disagree. */
function firstMismatch(model: tf.layers.Layer[], saved: H5Layer[]): string {
  const n = Math.max(model.length, saved.length);
  for (let k = 0; k < n; k++) {
    const m = model[k];
    const s = saved[k];
    const mShapes = m ? m.weights.map((w) => w.shape) : [];
    const sShapes = s ? s.weights.map((w) => w.shape) : [];
    const same =
      m &&
      s &&
      m.name === s.name &&
      mShapes.length === sShapes.length &&
      mShapes.every((shape, i) => shapeText(shape) === shapeText(sShapes[i]));
    if (!same) {
      const mText = m ? `the model has ${layerSummary({ name: m.name, shapes: mShapes })}` : 'the model has no more layers';
      const sText = s ? `the file has ${layerSummary({ name: s.name, shapes: sShapes })}` : 'the file has no more layers';
      return `First mismatch at layer #${k}: ${mText}, ${sText}.`;
    }
  }
  return 'The layers agree.';
}

/**
 * The saved weights of one layer in the order of `layer.weights`. Keras pairs them by position;
 * when every weight name of the layer is found in the file exactly once, they are paired by name
 * instead. Same result for plain layers, but a nested model lists its weights trainable-first,
 * so a file saved while it was frozen has another order, and BatchNormalization statistics of
 * equal shapes would otherwise be swapped silently.
 */
function savedInModelOrder(layer: tf.layers.Layer, saved: H5Layer): H5Weight[] {
  const byName = new Map<string, H5Weight[]>();
  for (const w of saved.weights) byName.set(w.name, [...(byName.get(w.name) ?? []), w]);
  const named = layer.weights.map((w) => byName.get(kerasWeightName(w)));
  if (named.every((found) => found?.length === 1)) return named.map((found) => found![0]);
  return saved.weights;
}

/**
 * Loads a Keras 2 legacy .h5 weights file into `model`, matching layers by position among the
 * layers that have weights (Keras' `load_weights` for .h5). Every count and shape is checked
 * before any weight is changed, so a failed load leaves the model as it was.
 */
export async function loadWeightsH5(model: tf.LayersModel, file: string): Promise<H5LoadReport> {
  await ready();
  const saved = await readWeightsH5(file);
  const layers = model.layers.filter((layer) => layer.weights.length > 0);
  const modelName = model.name ? `\`${model.name}\`` : 'the model';
  if (layers.length !== saved.layers.length) {
    throw new ValueError(
      `${file}: the file has ${saved.layers.length} layers with weights, ${modelName} has ${layers.length}: ` +
        `this weights file is for a different model (or for the model with/without its classification top). ` +
        firstMismatch(layers, saved.layers),
    );
  }
  const assignments = layers.map((layer, k) => {
    const s = saved.layers[k];
    if (layer.weights.length !== s.weights.length) {
      throw new ValueError(
        `${file}: weight count mismatch for layer #${k} (named \`${layer.name}\` in ${modelName}, \`${s.name}\` in the file): ` +
          `the layer expects ${layer.weights.length} weight(s), the file has ${s.weights.length}. ` +
          firstMismatch(layers, saved.layers),
      );
    }
    const values = savedInModelOrder(layer, s);
    layer.weights.forEach((w, i) => {
      if (shapeText(w.shape) !== shapeText(values[i].shape)) {
        throw new ValueError(
          `${file}: shape mismatch in layer #${k} (named \`${layer.name}\` in ${modelName}, \`${s.name}\` in the file) for weight ` +
            `\`${w.originalName}\` (\`${values[i].name}\` in the file): the model expects ${shapeText(w.shape)}, the file has ${shapeText(values[i].shape)}.`,
        );
      }
    });
    return values;
  });
  tf.tidy(() => {
    layers.forEach((layer, k) => {
      layer.setWeights(assignments[k].map((w) => tf.tensor(w.values, w.shape, 'float32')));
    });
  });
  const renamed = layers.flatMap((layer, k) =>
    layer.name === saved.layers[k].name ? [] : [{ model: layer.name, file: saved.layers[k].name }],
  );
  if (renamed.length > 0) {
    // Keras matches by position too, so this is not an error; say so in case the file is not the one meant.
    process.stderr.write(
      `tslab-dl: loaded ${file} by position (as Keras does); ${renamed.length} of ${layers.length} layer names differ ` +
        `(first: \`${renamed[0].model}\` in the model, \`${renamed[0].file}\` in the file).\n`,
    );
  }
  return { file, layers: layers.length, weights: layers.reduce((n, layer) => n + layer.weights.length, 0), renamed };
}

/** The Keras name of a tfjs weight: its scoped name plus the ':0' TensorFlow adds. */
export function kerasWeightName(weight: tf.LayerVariable): string {
  return `${weight.originalName}:0`;
}

/**
 * Writes `model`'s weights in Keras 2's legacy .h5 layout (what `model.save_weights('x.h5')`
 * writes), so Keras and {@link loadWeightsH5} can read them. Atomic: the file appears complete
 * or not at all.
 */
export async function saveWeightsH5(model: tf.LayersModel, file: string): Promise<void> {
  await ready();
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir)) throw new DataFileError(file, `cannot be written: the folder ${dir} does not exist.`);
  const layers = model.layers;
  // Every weight's values, read asynchronously: a synchronous read fails on webgpu for weights
  // computed on the GPU (lib/core/tensor-reads.ts). They are copied to the HDF5 worker, not moved:
  // a tensor's data() may be the backend's own storage.
  const toWrite: H5LayerToWrite[] = [];
  for (const layer of layers) {
    const weights: H5Weight[] = [];
    for (const w of layer.weights) {
      weights.push({ name: kerasWeightName(w), shape: w.shape as number[], values: (await w.read().data()) as Float32Array });
    }
    toWrite.push({ name: layer.name, weights });
  }
  try {
    await replaceFileAtomic(file, (temporary) => inH5Worker({ task: 'write', file, temporary, layers: toWrite }).then(() => undefined));
  } catch (e) {
    if (e instanceof ValueError || e instanceof DataFileError) throw e;
    throw new DataFileError(file, `cannot be written: ${String((e as Error)?.message ?? e).split('\n')[0]}`);
  }
}
