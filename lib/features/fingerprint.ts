/**
 * Content fingerprints for the feature cache: what the frozen prefix computes (architecture and
 * weights) and what it is fed (the input tensor). Names are left out on purpose: re-running a
 * notebook cell builds the same model under fresh auto-generated names, and should hit the cache.
 */
import { createHash, Hash } from 'crypto';
import * as tf from '@tensorflow/tfjs';
import { nodesInModel } from '../graph/nodes';
import { canReadSync, valuesForReading } from '../core/tensor-reads';
import { memoByWeights, memoByWeightsAsync } from './weight-identity';

type Values = Float32Array | Int32Array | Uint8Array;

function hashValuesInto(hash: Hash, tensor: tf.Tensor, values: Values): void {
  hash.update(`${tensor.dtype}[${tensor.shape.join(',')}]`);
  hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

/**
 * Each tensor's digest, by its data object: tensor data is immutable in TensorFlow.js, so the same
 * data object means the same values. fit, evaluate and predict fingerprint the same training and
 * validation images at every call; hashing 878 lesson images reads 43 MB.
 */
const tensorDigests = new WeakMap<object, Map<string, string>>();

/** The digest remembered for the tensor's data seen with its dtype and shape (a reshape shares the data, not the digest). */
function rememberedDigest(tensor: tf.Tensor): string | undefined {
  return tensorDigests.get(dataIdOf(tensor))?.get(`${tensor.dtype}[${tensor.shape.join(',')}]`);
}

function remember(tensor: tf.Tensor, digest: string): string {
  const dataId = dataIdOf(tensor);
  const byShape = tensorDigests.get(dataId) ?? new Map<string, string>();
  byShape.set(`${tensor.dtype}[${tensor.shape.join(',')}]`, digest);
  tensorDigests.set(dataId, byShape);
  return digest;
}

function dataIdOf(tensor: tf.Tensor): object {
  return (tensor as unknown as { dataId: object }).dataId;
}

/**
 * sha256 of a tensor's dtype, shape and values, read synchronously (on wasm straight from the
 * backend's heap, without a copy): on webgpu only for values on the CPU (lib/core/tensor-reads.ts);
 * async code uses {@link fingerprintTensorAsync}, the same digest.
 */
export function fingerprintTensor(tensor: tf.Tensor): string {
  const known = rememberedDigest(tensor);
  if (known !== undefined) return known;
  const hash = createHash('sha256');
  hashValuesInto(hash, tensor, valuesForReading(tensor, 'fingerprintTensor (the feature cache)') as Values);
  return remember(tensor, hash.digest('hex'));
}

/** {@link fingerprintTensor}, reading the values asynchronously where a backend cannot read them now: works on every backend. */
export async function fingerprintTensorAsync(tensor: tf.Tensor): Promise<string> {
  if (canReadSync()) return fingerprintTensor(tensor);
  const known = rememberedDigest(tensor);
  if (known !== undefined) return known;
  const hash = createHash('sha256');
  hashValuesInto(hash, tensor, (await tensor.data()) as Values);
  return remember(tensor, hash.digest('hex'));
}

function withoutNames(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNames);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) if (key !== 'name') out[key] = withoutNames(v);
    return out;
  }
  return value;
}

/**
 * sha256 of a model's computation: each layer's class and configuration (names removed), how the
 * layers connect (by position), and every weight's values. Remembered per model until a weight
 * changes or a layer is frozen or unfrozen (lib/features/weight-identity.ts): DenseNet121's takes
 * 50-80 ms to hash, and fit / evaluate / predict ask for it at every call.
 */
export const fingerprintModel: (model: tf.LayersModel) => string = memoByWeights(hashModel);

/** {@link fingerprintModel}, reading the weights asynchronously: works on every backend. */
export const fingerprintModelAsync: (model: tf.LayersModel) => Promise<string> = memoByWeightsAsync(hashModelAsync);

function hashModel(model: tf.LayersModel): string {
  const hash = createHash('sha256');
  for (const [layer, description] of layerDescriptions(model)) {
    hash.update(description);
    for (const weight of layer.weights) {
      hashValuesInto(hash, weight.read(), valuesForReading(weight.read(), 'fingerprintModel (the feature cache)') as Values);
    }
  }
  return hash.digest('hex');
}

async function hashModelAsync(model: tf.LayersModel): Promise<string> {
  const hash = createHash('sha256');
  for (const [layer, description] of layerDescriptions(model)) {
    hash.update(description);
    for (const weight of layer.weights) {
      const values = canReadSync() ? valuesForReading(weight.read(), 'fingerprintModel (the feature cache)') : await weight.read().data();
      hashValuesInto(hash, weight.read(), values as Values);
    }
  }
  return hash.digest('hex');
}

/** Each layer with its class, configuration (names removed) and inbound layers (by position), as hashed. */
function layerDescriptions(model: tf.LayersModel): [tf.layers.Layer, string][] {
  const position = new Map(model.layers.map((layer, i) => [layer, i]));
  // Only this model's applications of a layer: a layer applied again elsewhere (a rebuilt head, a
  // model after an augmentation step) gains nodes that must not change what this model computes.
  return model.layers.map((layer) => {
    const inbound = nodesInModel(model, layer).flatMap((node) => node.inboundLayers.map((l) => position.get(l) ?? -1));
    return [layer, JSON.stringify([layer.getClassName(), withoutNames(layer.getConfig()), inbound])];
  });
}
