/**
 * Runs a model one layer at a time, in inference mode, freeing each intermediate value as soon as
 * the last layer that reads it has run: the memory of the few activations alive at once, not of
 * all of them. (tfjs' own execution of a model inside a step keeps every intermediate until the
 * step ends.) Hooks let a caller look at a layer's inputs before it runs and replace its outputs.
 */
import * as tf from '@tensorflow/tfjs';
import { flattenLayerGraph } from './';

export interface LayerwiseHooks {
  /** Called with a layer's input values before it runs. */
  beforeLayer?(layer: tf.layers.Layer, inputs: tf.Tensor[]): void;
  /** Called with a layer's outputs; what it returns replaces them (it disposes what it replaces). */
  afterLayer?(layer: tf.layers.Layer, outputs: tf.Tensor[]): tf.Tensor[];
}

/**
 * The outputs of `model` for `inputs` (one tensor per model input, in order), computed layer by
 * layer with `training: false`. The caller owns the returned tensors; `inputs` are left alone.
 */
export function runLayerwise(model: tf.LayersModel, inputs: tf.Tensor[], hooks: LayerwiseHooks = {}): tf.Tensor[] {
  const graph = flattenLayerGraph(model);
  if (inputs.length !== graph.inputs.length) {
    throw new Error(`runLayerwise: ${model.name} takes ${graph.inputs.length} input(s); received ${inputs.length}.`);
  }
  // Readers left of each value; the outputs count one more, so they are never freed here.
  const readersLeft = new Map<string, number>();
  const read = (key: string, n: number) => readersLeft.set(key, (readersLeft.get(key) ?? 0) + n);
  for (const call of graph.calls) call.inputKeys.forEach((k) => read(k, 1));
  graph.outputKeys.forEach((k) => read(k, 1));
  const given = new Set(inputs);
  const values = new Map<string, tf.Tensor>(graph.inputs.map((input, i) => [input.key, inputs[i]]));
  const release = (key: string) => {
    const value = values.get(key);
    if (value && !given.has(value)) value.dispose();
    values.delete(key);
  };
  try {
    for (const call of graph.calls) {
      const args = call.inputKeys.map((k) => values.get(k)!);
      hooks.beforeLayer?.(call.layer, args);
      let outputs = tf.tidy(() => {
        const y = call.layer.apply(args.length === 1 ? args[0] : args, { ...call.callArgs, training: false });
        return (Array.isArray(y) ? y : [y]) as tf.Tensor[];
      });
      if (hooks.afterLayer) outputs = hooks.afterLayer(call.layer, outputs);
      call.outputKeys.forEach((k, i) => {
        values.set(k, outputs[i]);
        if (!readersLeft.get(k)) release(k); // an output nothing reads
      });
      for (const k of call.inputKeys) {
        read(k, -1);
        if (readersLeft.get(k) === 0) release(k);
      }
    }
    // An output that is an input is handed back as a copy: the caller owns every result.
    return graph.outputKeys.map((k) => (given.has(values.get(k)!) ? values.get(k)!.clone() : values.get(k)!));
  } catch (e) {
    for (const key of [...values.keys()]) release(key);
    throw e;
  }
}
