/**
 * Walks from a symbolic tensor back to what it was computed from: the model inputs it starts at
 * (Keras' get_source_inputs) and the layers on the way, e.g. to tell the layers a caller built
 * before an application's `inputTensor` from the application's own.
 */
import * as tf from '@tensorflow/tfjs';
import { producingNode } from './nodes';

/**
 * Keras' get_source_inputs (keras/utils/layer_utils.py): the `tf.input()` tensors a symbolic
 * tensor was computed from, so that a model built on `inputTensor` takes the original inputs
 * (e.g. before an upscale layer).
 */
export function getSourceInputs(tensor: tf.SymbolicTensor): tf.SymbolicTensor[] {
  const sources: tf.SymbolicTensor[] = [];
  const seen = new Set<tf.SymbolicTensor>();
  const visit = (t: tf.SymbolicTensor): void => {
    if (seen.has(t)) return;
    seen.add(t);
    const node = producingNode(t);
    if (!node || node.inboundLayers.length === 0) {
      if (!sources.includes(t)) sources.push(t);
      return;
    }
    node.inputTensors.forEach(visit);
  };
  visit(tensor);
  return sources;
}

/**
 * The layers `tensor` was computed by, its own source layer included, back to the inputs. Each
 * layer is followed through the first of its calls the walk reaches.
 */
export function upstreamLayers(tensor: tf.SymbolicTensor): Set<tf.layers.Layer> {
  const upstream = new Set<tf.layers.Layer>();
  const visit = (t: tf.SymbolicTensor): void => {
    if (upstream.has(t.sourceLayer)) return;
    upstream.add(t.sourceLayer);
    // (An InputLayer's node lists its own output as its input.)
    producingNode(t)
      ?.inputTensors.filter((u) => u !== t)
      .forEach(visit);
  };
  visit(tensor);
  return upstream;
}
