/**
 * `keras.Model` / `keras.models.Model` and `keras.Sequential` / `keras.models.Sequential`:
 * Keras 3's functional and sequential models (keras/src/models/functional.py, model.py,
 * sequential.py), built as tfjs' `tf.model(...)` and `tf.sequential(...)`.
 *
 *     model = keras.models.Model(inputs=inputs, outputs=out)      # Python
 *     const model = keras.models.Model({ inputs, outputs: out }); // here
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../core/errors';
import { positional, show } from './arguments';

export interface ModelArgs {
  /** The model's input(s): from keras.Input(...). Required. */
  inputs: tf.SymbolicTensor | tf.SymbolicTensor[];
  /** The model's output(s): the last layer's result. Required. */
  outputs: tf.SymbolicTensor | tf.SymbolicTensor[];
  /** The model's name. Defaults to a unique 'model_N'. */
  name?: string;
}

function checkSymbolic(arg: string, value: unknown): void {
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0 || !items.every((v) => v instanceof tf.SymbolicTensor)) {
    const what = items.some((v) => v instanceof tf.Tensor)
      ? ' (a tf.Tensor holds data; a model needs the symbolic tensors from keras.Input(...) and layer.apply(...))'
      : '';
    throw new ValueError(
      `Model: received an invalid value for \`${arg}\`, expected a symbolic tensor or an array of them${what}. Received: ${arg}=${show(value)}.`,
    );
  }
}

/** Keras' functional `Model(inputs=..., outputs=..., name=None)`: `keras.Model({ inputs, outputs })`. */
export function Model(args: ModelArgs): tf.LayersModel {
  if (typeof args !== 'object' || args === null) {
    throw new ValueError(`Model: pass one arguments object, keras.Model({ inputs, outputs }). Received: ${show(args)}.`);
  }
  checkSymbolic('inputs', args.inputs);
  checkSymbolic('outputs', args.outputs);
  return tf.model({ inputs: args.inputs, outputs: args.outputs, ...(args.name !== undefined ? { name: args.name } : {}) });
}

export interface SequentialOptions {
  /** The model's name. Defaults to a unique 'sequential_N'. */
  name?: string;
}
export interface SequentialArgs extends SequentialOptions {
  /** The layers, first to last; the first needs `inputShape` (or call model.add(...) later). Defaults to none. */
  layers?: tf.layers.Layer[];
}

/** Keras' `Sequential(layers=None, name=None)`: `keras.Sequential([layer, ...])` or `keras.Sequential({ layers, name })`. */
export function Sequential(layers?: tf.layers.Layer[], options?: SequentialOptions): tf.Sequential;
export function Sequential(args: SequentialArgs): tf.Sequential;
export function Sequential(layersOrArgs?: tf.layers.Layer[] | SequentialArgs, options?: SequentialOptions): tf.Sequential {
  const args = positional<SequentialArgs>('Sequential', 'layers', layersOrArgs, options);
  if (args.layers !== undefined && !(Array.isArray(args.layers) && args.layers.every((l) => l instanceof tf.layers.Layer))) {
    throw new ValueError(
      `Sequential: received an invalid value for \`layers\`, expected an array of layers. Received: layers=${show(args.layers)}.`,
    );
  }
  return tf.sequential({ ...(args.layers ? { layers: args.layers } : {}), ...(args.name !== undefined ? { name: args.name } : {}) });
}
