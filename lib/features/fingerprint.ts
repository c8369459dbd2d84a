/**
 * Content fingerprints for the feature cache: what the frozen prefix computes (architecture and
 * weights) and what it is fed (the input tensor). Names are left out on purpose: re-running a
 * notebook cell builds the same model under fresh auto-generated names, and should hit the cache.
 */
import { createHash, Hash } from 'crypto';
import * as tf from '@tensorflow/tfjs';
import { nodesInModel } from '../graph/nodes';
import { valuesSync } from '../core/tensor-reads';

type Values = Float32Array | Int32Array | Uint8Array;

function hashValuesInto(hash: Hash, tensor: tf.Tensor, values: Values): void {
  hash.update(`${tensor.dtype}[${tensor.shape.join(',')}]`);
  hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

/**
 * sha256 of a tensor's dtype, shape and values, read synchronously: on webgpu only for values on
 * the CPU (lib/core/tensor-reads.ts); async code uses {@link fingerprintTensorAsync}, the same digest.
 */
export function fingerprintTensor(tensor: tf.Tensor): string {
  const hash = createHash('sha256');
  hashValuesInto(hash, tensor, valuesSync(tensor, 'fingerprintTensor (the feature cache)') as Values);
  return hash.digest('hex');
}

/** {@link fingerprintTensor}, reading the values asynchronously: works on every backend. */
export async function fingerprintTensorAsync(tensor: tf.Tensor): Promise<string> {
  const hash = createHash('sha256');
  hashValuesInto(hash, tensor, (await tensor.data()) as Values);
  return hash.digest('hex');
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
 * layers connect (by position), and every weight's values.
 */
export function fingerprintModel(model: tf.LayersModel): string {
  const hash = createHash('sha256');
  for (const [layer, description] of layerDescriptions(model)) {
    hash.update(description);
    for (const weight of layer.weights) {
      hashValuesInto(hash, weight.read(), valuesSync(weight.read(), 'fingerprintModel (the feature cache)') as Values);
    }
  }
  return hash.digest('hex');
}

/** {@link fingerprintModel}, reading the weights asynchronously: works on every backend. */
export async function fingerprintModelAsync(model: tf.LayersModel): Promise<string> {
  const hash = createHash('sha256');
  for (const [layer, description] of layerDescriptions(model)) {
    hash.update(description);
    for (const weight of layer.weights) hashValuesInto(hash, weight.read(), (await weight.read().data()) as Values);
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
