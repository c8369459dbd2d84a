/**
 * `cache: false` without the memory blow-up: the frozen prefix runs on every batch, as in Keras,
 * but out of the gradient tape's sight.
 *
 * TensorFlow's GradientTape records only operations that involve trainable variables, so a Keras
 * model with a frozen base frees the base's activations as it goes. tfjs records every operation
 * under `fit` and keeps all of their results until the step ends: the lesson's model at batch 32
 * then needs more than the wasm backend's 4 GB and the run aborts. Here the prefix is one layer
 * whose forward pass is a tf.customGrad (tfjs does not record what runs inside one) computed layer
 * by layer (lib/graph/layerwise.ts); its gradient, never needed (nothing before it trains), is zero.
 * The numbers are those of the whole model: the prefix is frozen and deterministic.
 */
import * as tf from '@tensorflow/tfjs';
import { runLayerwise } from '../graph/layerwise';
import { applyLayersAfterCut, FrozenSplit } from './split';

class UntapedPrefix extends tf.layers.Layer {
  static readonly className = 'UntapedPrefix';

  constructor(private readonly prefix: tf.LayersModel) {
    super({ name: `${prefix.name}_untaped`, trainable: false });
  }

  computeOutputShape(): tf.Shape {
    return this.prefix.outputs[0].shape;
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const forward = tf.customGrad((input) => {
      const value = runLayerwise(this.prefix, [input as tf.Tensor])[0];
      return { value, gradFunc: (_dy: tf.Tensor) => tf.zerosLike(input as tf.Tensor) };
    });
    return forward(x);
  }
}

/**
 * `model` with its frozen prefix untaped: the prefix as one layer, then the layers after the cut
 * applied again (the same layer objects: training it trains `model`). Dispose it after use: that
 * drops its references to those layers, never their weights while `model` holds them. Undefined
 * for a prefix with several inputs or outputs, or with a nested model after the cut (disposing it
 * would dispose that model).
 */
export function untapedModel(model: tf.LayersModel, split: FrozenSplit): tf.LayersModel | undefined {
  if (split.prefix.inputs.length !== 1 || split.cut.length !== 1) return undefined;
  if (split.head.layers.some((l) => l instanceof tf.LayersModel)) return undefined;
  const input = tf.input({ shape: split.prefix.inputs[0].shape.slice(1) as number[], dtype: split.prefix.inputs[0].dtype });
  const features = new UntapedPrefix(split.prefix).apply(input) as tf.SymbolicTensor;
  const outputs = applyLayersAfterCut(model, split.cut, [features]);
  return tf.model({ inputs: input, outputs, name: `${model.name}_untaped` });
}
