/**
 * Saving and loading whole models on the local disk, on every backend.
 *
 * TensorFlow.js' `file://` handler exists only in tfjs-node; these write the same standard
 * format (a folder with `model.json` and `weights.bin`) through a custom tf.io handler on node's
 * fs, so `tf.loadLayersModel` (tfjs-node's file://, or http:// in a browser) reads it too.
 * Saving is atomic: the folder is written under a temporary name and renamed into place, so a
 * crash or error leaves either the previous model or none, never half a model.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../backends/selection';
import { replaceFolderAtomic, writeNewFileSync } from '../core/atomic-write';
import { DataFileError, ValueError } from '../core/errors';
// Custom layers and frozen-layer semantics must be registered before a model is deserialised.
import '../layers/upscale';
import '../layers/augmentation';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** Options of {@link saveModel}. */
export interface SaveModelOptions {
  /** Also save the optimizer's state (tfjs' `includeOptimizer`). Defaults to false. */
  includeOptimizer?: boolean;
}

/** Refuses to replace a folder that holds something other than a saved model. */
function checkTarget(target: string): void {
  if (!fs.existsSync(target)) return;
  if (!fs.statSync(target).isDirectory()) {
    throw new ValueError(
      `saveModel: ${target} exists and is a file; pass the path of a folder to create (or of an earlier saved model to replace).`,
    );
  }
  const entries = fs.readdirSync(target);
  if (entries.length > 0 && !entries.includes(MODEL_JSON)) {
    throw new ValueError(
      `saveModel: ${target} is a folder that does not hold a saved model (no ${MODEL_JSON}); ` +
        'choose another folder, or delete this one first. Nothing was written.',
    );
  }
}

/** The tf.io handler that writes model.json + weights.bin into a fresh folder. */
function folderSaveHandler(folder: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (!artifacts.modelTopology || artifacts.modelTopology instanceof ArrayBuffer) {
        throw new ValueError('saveModel saves layers models (tf.LayersModel) with their topology; this model has none.');
      }
      const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? []));
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig) modelJson.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
      writeNewFileSync(path.join(folder, WEIGHTS_BIN), weights);
      writeNewFileSync(path.join(folder, MODEL_JSON), JSON.stringify(modelJson));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
  };
}

/**
 * Saves `model` into the folder `dir` as model.json + weights.bin (tfjs' standard layers-model
 * format), replacing an earlier saved model there. Atomic: on any error nothing is changed.
 * Works on every backend (tfjs' own `file://` handler needs tfjs-node); {@link loadModel} and
 * tfjs' `tf.loadLayersModel` read it back, custom layers such as {@link Upscale} included.
 *
 * @param model - The tf.LayersModel to save.
 * @param dir - The folder to create, or that holds an earlier saved model to replace.
 * @param options - `includeOptimizer`: also save the optimizer's state. Defaults to false.
 * @returns A promise of tfjs' SaveResult (sizes of the topology and weights).
 * @throws A {@link ValueError} when `model` is not a tf.LayersModel, or `dir` is a file or a
 *   non-empty folder that holds no saved model (nothing is written then).
 *
 * @example
 * ```ts
 * import { saveModel, loadModel } from 'tslab-dl';
 *
 * await saveModel(model, 'out/transfer-learning-model');
 * const restored = await loadModel('out/transfer-learning-model');
 * ```
 */
export async function saveModel(model: tf.LayersModel, dir: string, options: SaveModelOptions = {}): Promise<tf.io.SaveResult> {
  await ready();
  if (!(model instanceof tf.LayersModel)) {
    throw new ValueError(
      `saveModel(model): expected a tf.LayersModel (e.g. from tf.model() or DenseNet121()). Received ${model === null ? 'null' : typeof model}.`,
    );
  }
  const target = path.resolve(dir);
  checkTarget(target);
  return replaceFolderAtomic(target, (folder) =>
    model.save(folderSaveHandler(folder), { includeOptimizer: options.includeOptimizer ?? false }),
  );
}

/** The tf.io handler that reads model.json and its weight files from a folder. */
function folderLoadHandler(folder: string): tf.io.IOHandler {
  const jsonPath = path.join(folder, MODEL_JSON);
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      let modelJson: tf.io.ModelJSON;
      try {
        modelJson = JSON.parse(fs.readFileSync(jsonPath, 'utf8')) as tf.io.ModelJSON;
      } catch (e) {
        throw new DataFileError(jsonPath, `is not valid JSON (${(e as Error).message}); the saved model is damaged.`);
      }
      if (!modelJson.modelTopology) throw new DataFileError(jsonPath, 'has no modelTopology: it is not a tfjs layers model.');
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const buffers = manifest.flatMap((group) =>
          group.paths.map((p) => {
            const file = path.join(folder, p);
            if (!fs.existsSync(file)) throw new DataFileError(file, `is missing: ${MODEL_JSON} lists it as a weights file.`);
            const bytes = fs.readFileSync(file);
            return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
          }),
        );
        const specs = tf.io.getWeightSpecs(manifest);
        const data = tf.io.CompositeArrayBuffer.join(buffers);
        const expected = specs.reduce(
          (n, s) => n + s.shape.reduce((a, b) => a * b, 1) * (s.dtype === 'float32' || s.dtype === 'int32' ? 4 : 1),
          0,
        );
        if (specs.every((s) => !s.quantization && (s.dtype === 'float32' || s.dtype === 'int32')) && data.byteLength !== expected) {
          throw new DataFileError(
            path.join(folder, WEIGHTS_BIN),
            `has ${data.byteLength} bytes, ${MODEL_JSON} describes ${expected}: the saved model is damaged or truncated.`,
          );
        }
        return [specs, data];
      });
    },
  };
}

/**
 * Loads a model saved by {@link saveModel} (or any tfjs layers model folder: model.json + weights).
 *
 * @param dir - The folder, or the path of its model.json.
 * @returns A promise of the model, with its weights (and its training configuration, when saved compiled).
 * @throws A {@link DataFileError} when the folder or its model.json is missing, model.json is not
 *   valid JSON or not a layers model, or a weights file is missing or has the wrong size.
 *
 * @example
 * ```ts
 * import { saveModel, loadModel } from 'tslab-dl';
 *
 * await saveModel(model, 'out/transfer-learning-model');
 * const restored = await loadModel('out/transfer-learning-model');
 * restored.summary();
 * ```
 */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  await ready();
  let folder = path.resolve(dir);
  if (path.basename(folder) === MODEL_JSON) folder = path.dirname(folder);
  if (!fs.existsSync(path.join(folder, MODEL_JSON))) {
    throw new DataFileError(
      folder,
      fs.existsSync(folder)
        ? `holds no saved model (no ${MODEL_JSON}).`
        : `no such folder: save a model there first with saveModel(model, ${JSON.stringify(dir)}).`,
    );
  }
  return tf.loadLayersModel(folderLoadHandler(folder));
}
