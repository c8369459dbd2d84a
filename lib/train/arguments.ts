/**
 * Argument checks shared by fit / evaluate / predict: each error names the function, the
 * argument, what arrived and what to pass instead.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../core/errors';

export function describe(value: unknown): string {
  if (value instanceof tf.Tensor) return `a ${value.dtype} tensor of shape [${value.shape}]`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return typeof value;
}

export function checkModel(model: unknown, where: string, singleInputOutput = true): asserts model is tf.LayersModel {
  if (!(model instanceof tf.LayersModel)) {
    throw new ValueError(`${where}: model must be a tf.LayersModel, e.g. tf.model({ inputs, outputs }). Received ${describe(model)}.`);
  }
  if (singleInputOutput && (model.inputs.length !== 1 || model.outputs.length !== 1)) {
    throw new ValueError(
      `${where}: the model must have one input and one output; it has ${model.inputs.length} inputs and ${model.outputs.length} outputs. ` +
        `Use model.fit / model.evaluate / model.predict of TensorFlow.js for models with several.`,
    );
  }
}

export function checkCompiled(model: tf.LayersModel, where: string): void {
  if (model.optimizer == null) {
    throw new ValueError(
      `${where}: the model has not been compiled. Call model.compile({ optimizer: 'adam', ` +
        `loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] }) first.`,
    );
  }
}

export function checkTensor(value: unknown, where: string, name: string): asserts value is tf.Tensor {
  if (!(value instanceof tf.Tensor)) {
    throw new ValueError(`${where}: ${name} must be a tf.Tensor. Received ${describe(value)}.`);
  }
  if (value.isDisposed) throw new ValueError(`${where}: ${name} has been disposed; pass a live tensor.`);
}

/** Images x and integer labels y for the same samples. */
export function checkSamples(x: tf.Tensor, y: tf.Tensor, where: string, xName: string, yName: string): void {
  if (x.shape[0] !== y.shape[0]) {
    throw new ValueError(
      `${where}: ${xName} has ${x.shape[0]} samples but ${yName} has ${y.shape[0]} labels (shapes [${x.shape}] and [${y.shape}]); ` +
        `pass one label per image.`,
    );
  }
  if (x.shape[0] === 0) throw new ValueError(`${where}: ${xName} has no samples (shape [${x.shape}]).`);
}

export function checkBatchSize(batchSize: unknown, where: string): asserts batchSize is number {
  if (!Number.isInteger(batchSize) || (batchSize as number) < 1) {
    throw new ValueError(`${where}: batchSize must be a positive integer, e.g. 32. Received ${JSON.stringify(batchSize)}.`);
  }
}

/** Lets the event loop run (kernel messages such as an interrupt request get through). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
