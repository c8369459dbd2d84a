/**
 * Content fingerprints for the feature cache: what the frozen prefix computes (architecture and
 * weights) and what it is fed (the input tensor). Names are left out on purpose: re-running a
 * notebook cell builds the same model under fresh auto-generated names, and should hit the cache.
 */
import { createHash, Hash } from 'crypto';
import * as tf from '@tensorflow/tfjs';

function hashTensorInto(hash: Hash, tensor: tf.Tensor): void {
  hash.update(`${tensor.dtype}[${tensor.shape.join(',')}]`);
  const values = tensor.dataSync() as Float32Array | Int32Array | Uint8Array;
  hash.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
}

/** sha256 of a tensor's dtype, shape and values. */
export function fingerprintTensor(tensor: tf.Tensor): string {
  const hash = createHash('sha256');
  hashTensorInto(hash, tensor);
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
  const position = new Map(model.layers.map((layer, i) => [layer, i]));
  // Only this model's applications of a layer: a layer applied again elsewhere (a rebuilt head, a
  // model after an augmentation step) gains nodes that must not change what this model computes.
  const own = (model as unknown as { containerNodes: Set<string> }).containerNodes;
  for (const layer of model.layers) {
    const inbound = (layer as unknown as { inboundNodes: { inboundLayers: tf.layers.Layer[] }[] }).inboundNodes
      .filter((_, index) => own.has(`${layer.name}_ib-${index}`))
      .flatMap((node) => node.inboundLayers.map((l) => position.get(l) ?? -1));
    hash.update(JSON.stringify([layer.getClassName(), withoutNames(layer.getConfig()), inbound]));
    for (const weight of layer.weights) hashTensorInto(hash, weight.read());
  }
  return hash.digest('hex');
}
