/**
 * Keras 2 legacy HDF5 weight files (`model.save_weights('x.h5')`, the keras-applications
 * files), read and written with h5wasm.
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

// h5wasm is ESM-only, loaded with import() below. Its types resolve fine; TS only objects that a
// CommonJS file could not require() it, which this file never does (TS 5.0, used by `npm run
// build`, has no stable syntax to say so).
// @ts-ignore TS1479
type H5wasm = typeof import('h5wasm/node');
type H5Group = InstanceType<H5wasm['Group']>;
type H5Dataset = InstanceType<H5wasm['Dataset']>;
type H5File = InstanceType<H5wasm['File']>;

/** HDF5's object-header limit that makes Keras split long attributes into name0, name1, ... */
export const HDF5_OBJECT_HEADER_LIMIT = 64512;
const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

let h5wasmModule: Promise<H5wasm> | undefined;

/** h5wasm is ESM-only: load it once with a real dynamic import (kept as-is by tsc's Node16 mode). */
function loadH5wasm(): Promise<H5wasm> {
  if (!h5wasmModule) {
    h5wasmModule = (async () => {
      const h5wasm = await import('h5wasm/node');
      await h5wasm.ready;
      return h5wasm;
    })();
  }
  return h5wasmModule;
}

/**
 * Runs `fn` with HDF5 errors thrown as exceptions instead of printed to stderr
 * (HDF5's default prints a long diagnostic stack and h5wasm then throws "name not defined!").
 */
async function withHdf5Errors<T>(fn: (h5wasm: H5wasm) => T): Promise<T> {
  const h5wasm = await loadH5wasm();
  h5wasm.Module.activate_throwing_error_handler();
  try {
    return fn(h5wasm);
  } finally {
    h5wasm.Module.deactivate_throwing_error_handler();
  }
}

/** The innermost reason of an HDF5 diagnostic stack, e.g. "truncated file: eof = 1000, ...". */
function hdf5Reason(e: unknown): string {
  const text = String((e as Error)?.message ?? e);
  const reasons = [...text.matchAll(/#\d+: .*? in [\w]+\(\): (.*)/g)].map((m) => m[1].trim());
  return reasons.length > 0 ? reasons[reasons.length - 1] : text.split('\n')[0];
}

function describeOpenFailure(file: string, e: unknown): DataFileError {
  const reason = hdf5Reason(e);
  const truncated = /truncated file: eof = (\d+).*stored_eof = (\d+)/.exec(reason);
  if (truncated) {
    return new DataFileError(
      file,
      `the HDF5 file is truncated: ${truncated[1]} bytes on disk, but the file says it has ${truncated[2]}. ` +
        'The download or copy was probably interrupted: delete it and download it again.',
    );
  }
  if (/signature not found/.test(reason)) {
    return new DataFileError(
      file,
      'is not an HDF5 file (no HDF5 signature). Keras weight files are HDF5 files ending in .h5: check that this is the right file, or delete it and download it again.',
    );
  }
  return new DataFileError(file, `cannot be read as an HDF5 file: ${reason}. Delete it and download it again.`);
}

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

function asStrings(value: unknown): string[] {
  if (value == null) return [];
  if (typeof value === 'string') return [value];
  if (value instanceof Uint8Array) return [Buffer.from(value).toString('utf8').replace(/\0+$/, '')];
  if (ArrayBuffer.isView(value)) {
    // Keras writes an empty float64 array for a layer without weights.
    if ((value as unknown as ArrayLike<number>).length === 0) return [];
    throw new Error(`expected strings, found numbers`);
  }
  if (Array.isArray(value)) return value.flatMap(asStrings);
  throw new Error(`expected strings, found ${typeof value}`);
}

/** Reads a string-list attribute stored whole (`name`) or split by Keras (`name0`, `name1`, ...). */
function readStringListAttr(file: string, where: string, obj: H5Group, name: string): string[] | undefined {
  const attrs = obj.attrs;
  const read = (key: string): string[] => {
    try {
      return asStrings(attrs[key].value);
    } catch (e) {
      throw new DataFileError(
        file,
        `attribute \`${key}\` of ${where} is not a list of strings (${(e as Error).message}); this is not a Keras weights file.`,
      );
    }
  };
  if (name in attrs) return read(name);
  if (!(`${name}0` in attrs)) return undefined;
  const values: string[] = [];
  for (let i = 0; `${name}${i}` in attrs; i++) values.push(...read(`${name}${i}`));
  return values;
}

/** The group holding `layer_names`: the root, or `model_weights` in a whole-model .h5 file. */
function weightsRoot(file: string, f: H5File, h5wasm: H5wasm): H5Group {
  if ('layer_names' in f.attrs || 'layer_names0' in f.attrs) return f;
  const keys = f.keys();
  const modelWeights = keys.includes('model_weights') ? f.get('model_weights') : null;
  if (modelWeights instanceof h5wasm.Group) return modelWeights;
  if (keys.includes('layers') && (keys.includes('vars') || keys.includes('optimizer'))) {
    throw new DataFileError(
      file,
      'is a Keras 3 `.weights.h5` file; only the Keras 2 (legacy HDF5) layout is supported. ' +
        'Save it with Keras 2 (`model.save_weights("x.h5")` in tf.keras 2.x) or use the official keras-applications file.',
    );
  }
  throw new DataFileError(
    file,
    'has no `layer_names` attribute: it is an HDF5 file but not a Keras weights file ' +
      `(top-level entries: ${keys.slice(0, 8).join(', ') || 'none'}).`,
  );
}

function readDataset(file: string, layer: string, weightName: string, ds: H5Dataset): H5Weight {
  const meta = ds.metadata;
  const shape = (ds.shape ?? []) as number[];
  const where = `weight \`${weightName}\` of layer \`${layer}\``;
  // type 1 = H5T_FLOAT: Keras weights are float32, some converters write float64. type 0 =
  // H5T_INTEGER: Keras' Normalization layer stores its `count:0` as an int64 scalar.
  const isFloat = meta.type === 1 && (meta.size === 4 || meta.size === 8);
  const isInteger = meta.type === 0 && meta.size <= 8;
  if (!isFloat && !isInteger) {
    throw new DataFileError(file, `${where} has dtype ${ds.dtype}; expected float32, float64 or an integer type.`);
  }
  let raw: unknown;
  try {
    raw = ds.value;
  } catch (e) {
    throw new DataFileError(file, `${where} cannot be read: ${hdf5Reason(e)}. The file is damaged: delete it and download it again.`);
  }
  // A scalar dataset (shape []) reads as a number, or a bigint for 64-bit integers.
  const values =
    raw instanceof Float32Array
      ? raw
      : typeof raw === 'number' || typeof raw === 'bigint'
        ? Float32Array.of(Number(raw))
        : Float32Array.from(raw as ArrayLike<number | bigint>, (v) => Number(v));
  const expected = shape.reduce((a, b) => a * b, 1);
  if (values.length !== expected) {
    throw new DataFileError(file, `${where} has ${values.length} values for shape [${shape.join(', ')}]; the file is damaged.`);
  }
  return { name: weightName, shape, values };
}

/** Reads every layer's weights from a Keras 2 legacy .h5 file (weights or whole-model file). */
export async function readWeightsH5(file: string): Promise<H5WeightsFile> {
  checkReadable(file);
  return withHdf5Errors((h5wasm) => {
    let f: H5File;
    try {
      f = new h5wasm.File(path.resolve(file), 'r');
    } catch (e) {
      throw describeOpenFailure(file, e);
    }
    try {
      const root = weightsRoot(file, f, h5wasm);
      const layerNames = readStringListAttr(file, 'the file', root, 'layer_names') ?? [];
      const layers: H5Layer[] = [];
      for (const name of layerNames) {
        const group = root.get(name);
        if (!group || !(group instanceof h5wasm.Group)) {
          throw new DataFileError(
            file,
            `\`layer_names\` lists layer \`${name}\` but the file has no group \`/${name}\`; the file is damaged or not a Keras weights file.`,
          );
        }
        const weightNames = readStringListAttr(file, `layer \`${name}\``, group, 'weight_names') ?? [];
        if (weightNames.length === 0) continue;
        const weights = weightNames.map((weightName) => {
          const ds = group.get(weightName);
          if (!ds || !(ds instanceof h5wasm.Dataset)) {
            throw new DataFileError(
              file,
              `layer \`${name}\` lists weight \`${weightName}\` but there is no dataset \`/${name}/${weightName}\`; the file is damaged.`,
            );
          }
          return readDataset(file, name, weightName, ds);
        });
        layers.push({ name, weights });
      }
      const attr = (key: string) => (key in root.attrs ? String(root.attrs[key].value) : undefined);
      return { file, layerNames, layers, kerasVersion: attr('keras_version'), backend: attr('backend') };
    } catch (e) {
      if (e instanceof DataFileError) throw e;
      throw new DataFileError(file, `cannot be read: ${hdf5Reason(e)}. The file is damaged: delete it and download it again.`);
    } finally {
      f.close();
    }
  });
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

/** numpy.array_split: `chunks` parts, the first (length % chunks) one element longer. */
function arraySplit<T>(values: T[], chunks: number): T[][] {
  const base = Math.floor(values.length / chunks);
  const extra = values.length % chunks;
  const parts: T[][] = [];
  for (let i = 0, start = 0; i < chunks; i++) {
    const size = base + (i < extra ? 1 : 0);
    parts.push(values.slice(start, start + size));
    start += size;
  }
  return parts;
}

/**
 * Keras' save_attributes_to_hdf5_group: a string list stored as fixed-length strings is split
 * into the fewest numpy.array_split parts that each fit under the object-header limit.
 */
export function splitForHeaderLimit(values: string[]): string[][] {
  const itemsize = Math.max(1, ...values.map((v) => Buffer.byteLength(v)));
  if (itemsize > HDF5_OBJECT_HEADER_LIMIT) {
    throw new ValueError(`a name is longer than ${HDF5_OBJECT_HEADER_LIMIT} bytes and cannot be stored in an HDF5 attribute.`);
  }
  let chunks = 1;
  while (arraySplit(values, chunks).some((part) => part.length * itemsize > HDF5_OBJECT_HEADER_LIMIT)) chunks++;
  return arraySplit(values, chunks);
}

function writeStringListAttr(obj: H5Group, name: string, values: string[]): void {
  if (values.length === 0) {
    // What Keras writes for a layer without weights: np.asarray([]), an empty float64 array.
    obj.create_attribute(name, new Float64Array(0), [0], '<d');
    return;
  }
  const dtype = `S${Math.max(1, ...values.map((v) => Buffer.byteLength(v)))}`;
  const parts = splitForHeaderLimit(values);
  if (parts.length === 1) {
    obj.create_attribute(name, values, [values.length], dtype);
  } else {
    parts.forEach((part, i) => obj.create_attribute(`${name}${i}`, part, [part.length], dtype));
  }
}

function ensureGroup(root: H5Group, groupPath: string, h5wasm: H5wasm): H5Group {
  let group = root;
  for (const part of groupPath.split('/').filter((p) => p.length > 0)) {
    const existing = group.get(part);
    if (existing instanceof h5wasm.Group) group = existing;
    else if (existing) throw new ValueError(`cannot create group \`${groupPath}\`: \`${part}\` is already a dataset.`);
    else group = group.create_group(part);
  }
  return group;
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
  // Every weight's values, read asynchronously first: a synchronous read fails on webgpu for
  // weights computed on the GPU (lib/core/tensor-reads.ts), and the HDF5 writing below is synchronous.
  const values = new Map<tf.LayerVariable, Float32Array>();
  for (const layer of layers) for (const w of layer.weights) values.set(w, (await w.read().data()) as Float32Array);
  try {
    await replaceFileAtomic(file, (temporary) =>
      withHdf5Errors((h5wasm) => {
        const f = new h5wasm.File(temporary, 'w');
        try {
          writeStringListAttr(
            f,
            'layer_names',
            layers.map((l) => l.name),
          );
          f.create_attribute('backend', 'tensorflow', null, 'S10');
          f.create_attribute('keras_version', '2.15.0', null, 'S6');
          f.create_attribute('generated_by', 'tslab-dl', null, 'S8');
          for (const layer of layers) {
            const group = ensureGroup(f, layer.name, h5wasm);
            const weights = layer.weights;
            writeStringListAttr(group, 'weight_names', weights.map(kerasWeightName));
            for (const w of weights) {
              const name = kerasWeightName(w);
              const slash = name.lastIndexOf('/');
              const parent = slash >= 0 ? ensureGroup(group, name.slice(0, slash), h5wasm) : group;
              parent.create_dataset({ name: name.slice(slash + 1), data: values.get(w)!, shape: w.shape as number[], dtype: '<f' });
            }
          }
        } finally {
          f.close();
        }
      }),
    );
  } catch (e) {
    if (e instanceof ValueError || e instanceof DataFileError) throw e;
    throw new DataFileError(file, `cannot be written: ${hdf5Reason(e)}`);
  }
}
