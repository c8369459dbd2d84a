/**
 * The h5wasm side of lib/weights/h5.ts, run in a worker thread (lib/weights/run-h5-worker.ts).
 *
 * Why a worker: h5wasm's WebAssembly memory grows to hold the file being read and never shrinks,
 * so reading a 28 MB weights file in the kernel's own thread left about 60 MB more resident for
 * the rest of the session. A worker that exits when done hands that memory back to the system.
 *
 * This module loads no TensorFlow.js: the worker starts in a fraction of a second. It receives
 * one {@link H5WorkerRequest} as `workerData`, posts one {@link H5WorkerResponse}, and ends.
 */
import * as path from 'path';
import { isMainThread, parentPort, workerData } from 'worker_threads';
import { DataFileError, ValueError } from '../core/errors';
import type { H5Layer, H5Weight, H5WeightsFile } from './h5';

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

/** Marks `workerData` as ours, so that importing this module anywhere else does nothing. */
export const H5_WORKER_TAG = 'tslab-dl h5 worker';

/** Read the Keras weights file `file` ({@link H5WeightsFile}). */
export interface H5ReadRequest {
  task: 'read';
  file: string;
}

/** One layer to write: its name and its weights with their Keras names. */
export interface H5LayerToWrite {
  name: string;
  weights: H5Weight[];
}

/** Write `layers` in Keras 2's legacy layout into `temporary`; errors name `file`, the destination. */
export interface H5WriteRequest {
  task: 'write';
  file: string;
  temporary: string;
  layers: H5LayerToWrite[];
}

/** What the worker is asked to do. */
export type H5WorkerRequest = H5ReadRequest | H5WriteRequest;

/**
 * An error thrown in the worker, as what it takes to construct it again in the calling thread:
 * the class and its constructor arguments (a DataFileError's message without the file prefix).
 */
export type H5WorkerError =
  | { kind: 'DataFileError'; file: string; message: string }
  | { kind: 'ValueError'; message: string }
  | { kind: 'Error'; message: string; stack?: string };

/** The worker's one answer. */
export type H5WorkerResponse = { ok: true; result: H5WeightsFile | null } | { ok: false; error: H5WorkerError };

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
function readWeightsFile(file: string): Promise<H5WeightsFile> {
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

/** Writes `request.layers` in Keras 2's legacy .h5 layout (what `model.save_weights('x.h5')` writes). */
async function writeWeightsFile({ file, temporary, layers }: H5WriteRequest): Promise<void> {
  try {
    await withHdf5Errors((h5wasm) => {
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
          writeStringListAttr(
            group,
            'weight_names',
            layer.weights.map((w) => w.name),
          );
          for (const w of layer.weights) {
            const slash = w.name.lastIndexOf('/');
            const parent = slash >= 0 ? ensureGroup(group, w.name.slice(0, slash), h5wasm) : group;
            parent.create_dataset({ name: w.name.slice(slash + 1), data: w.values, shape: w.shape, dtype: '<f' });
          }
        }
      } finally {
        f.close();
      }
    });
  } catch (e) {
    if (e instanceof ValueError || e instanceof DataFileError) throw e;
    throw new DataFileError(file, `cannot be written: ${hdf5Reason(e)}`);
  }
}

/** `e` as what it takes to throw it again, same class and message, in the calling thread. */
function describeError(e: unknown): H5WorkerError {
  if (e instanceof DataFileError) return { kind: 'DataFileError', file: e.file, message: e.message.slice(`${e.file}: `.length) };
  if (e instanceof ValueError) return { kind: 'ValueError', message: e.message };
  return { kind: 'Error', message: String((e as Error)?.message ?? e), stack: (e as Error)?.stack };
}

/** What the calling thread asked for, done: the result, or the error as {@link describeError} gives it. */
export async function answerH5Request(request: H5WorkerRequest): Promise<H5WorkerResponse> {
  try {
    return { ok: true, result: request.task === 'read' ? await readWeightsFile(request.file) : (await writeWeightsFile(request), null) };
  } catch (e) {
    return { ok: false, error: describeError(e) };
  }
}

/** Does what the calling thread asked, and answers once; the worker then has nothing left to do and ends. */
async function serve(port: NonNullable<typeof parentPort>, request: H5WorkerRequest): Promise<void> {
  const response = await answerH5Request(request);
  // The values move to the calling thread without a copy. A weight may share its buffer with others.
  const buffers = new Set<ArrayBuffer>();
  if (response.ok && response.result) {
    for (const layer of response.result.layers) for (const w of layer.weights) buffers.add(w.values.buffer as ArrayBuffer);
  }
  port.postMessage(response, [...buffers]);
}

if (!isMainThread && parentPort && (workerData as { tag?: string } | null)?.tag === H5_WORKER_TAG) {
  void serve(parentPort, (workerData as { request: H5WorkerRequest }).request);
}
