/**
 * fit of a model whose frozen base comes after random layers (data augmentation: RandomFlip,
 * RandomRotation, ...; GaussianNoise; Dropout): the base's features change every epoch, so they
 * cannot be cached, and on tfjs the whole base would run on every batch with all its activations
 * on the gradient tape.
 *
 * Instead, for each batch: the random layers run on tfjs (in training mode), the frozen base on the
 * prefix engine (ONNX Runtime where it runs, tfjs otherwise), outside any tape, and tfjs trains the
 * head on the result (fitDataset over batches made as they are consumed). Validation runs the
 * random layers as Keras does at inference, as the identity, so its features are cached once.
 * The numbers are Keras': the same augmented images go through the same frozen base.
 */
import * as tf from '@tensorflow/tfjs';
import { inboundNodesOf, isInputLayer } from '../graph/nodes';
import { ForwardPlan, ForwardRequest } from '../train/forward';
import { FeatureCacheMode, FeatureOptions, featureStats, Features, frozenFeatures } from './extract';
import { chooseExecutor, createPrefixRunner, Executor, PrefixRunner } from './run';
import { applyLayersAfterCut, splitFrozenPrefix, STOCHASTIC_LAYERS } from './split';

/** The random, weightless layers applied one after another to the model's single input. */
function randomInputChain(model: tf.LayersModel): tf.SymbolicTensor | undefined {
  if (model.inputs.length !== 1) return undefined;
  let tensor = model.inputs[0];
  let last: tf.SymbolicTensor | undefined;
  for (;;) {
    // (An InputLayer's own node lists its output as its input: not a consumer.)
    const consumers = model.layers.filter(
      (layer) =>
        !isInputLayer(layer) && inboundNodesOf(layer).some((node) => node.inputTensors.length === 1 && node.inputTensors[0] === tensor),
    );
    if (consumers.length !== 1) break;
    const layer = consumers[0];
    if (!STOCHASTIC_LAYERS.has(layer.getClassName()) || layer.weights.length > 0) break;
    const node = inboundNodesOf(layer).find((n) => n.inputTensors[0] === tensor)!;
    const outputs = node.outputTensors;
    if (outputs.length !== 1) break;
    tensor = last = outputs[0];
  }
  return last;
}

/** Plans fit for a frozen base behind random layers, or undefined when the model is not of that shape. */
export async function augmentedPlan(request: ForwardRequest, cache: FeatureCacheMode): Promise<ForwardPlan | undefined> {
  if (request.purpose !== 'fit') return undefined;
  const { model } = request;
  const randomOutput = randomInputChain(model);
  if (!randomOutput) return undefined;
  // The model from the random layers' output on: its frozen prefix is the base to run per batch.
  const restInput = tf.input({ shape: randomOutput.shape.slice(1) as number[], dtype: randomOutput.dtype });
  const rest = tf.model({
    inputs: restInput,
    outputs: applyLayersAfterCut(model, [randomOutput], [restInput]),
    name: `${model.name}_after_augmentation`,
  });
  const split = splitFrozenPrefix(rest);
  if (!split || split.prefix.inputs.length !== 1 || split.prefix.countParams() === 0) return undefined;
  const augment = tf.model({ inputs: model.inputs, outputs: randomOutput, name: `${model.name}_augmentation` });

  const executor = chooseExecutor((request.options.executor as Executor | undefined) ?? 'auto');
  const options: FeatureOptions = { batchSize: request.options.batchSize, cache, executor: executor.name };
  let validation: Features | undefined;
  let runner: PrefixRunner | undefined;
  try {
    // At inference the random layers are the identity: the validation images go straight to the base.
    validation = request.validationX
      ? await frozenFeatures(split.prefix, request.validationX, { ...options, label: 'Frozen base features (validation)' })
      : undefined;
    runner = await createPrefixRunner(split.prefix, executor.name);
  } catch (e) {
    validation?.release();
    throw e;
  }
  const prefixRunner = runner;
  const x = request.x;
  const compiled = model as unknown as {
    optimizer?: tf.Optimizer;
    loss?: tf.ModelCompileArgs['loss'];
    metrics?: tf.ModelCompileArgs['metrics'];
  };
  if (compiled.optimizer && compiled.loss !== undefined)
    split.head.compile({ optimizer: compiled.optimizer, loss: compiled.loss, metrics: compiled.metrics });

  return {
    model: split.head,
    x,
    validationX: validation && (validation.outputs.length === 1 ? validation.outputs[0] : validation.outputs),
    note:
      `Random layers before the frozen base: the base (${split.prefixLayerCount} layers) runs on ${prefixRunner.name} for every batch, ` +
      `outside the gradient tape; training the ${split.head.layers.length - 1} head layers.` +
      (prefixRunner.note ? ` ${prefixRunner.note}` : ''),
    trainingBatches(y, batchSize, shuffle) {
      const n = x.shape[0];
      // One order, shuffled again in place at each epoch, as tfjs' own fit does.
      const order = Array.from({ length: n }, (_, i) => i);
      return tf.data.generator(async function* () {
        if (shuffle) tf.util.shuffle(order);
        for (let start = 0; start < n; start += batchSize) {
          const indices = tf.tensor1d(order.slice(start, start + batchSize), 'int32');
          const [images, labels] = tf.tidy(() => [
            augment.apply(tf.gather(x, indices), { training: true }) as tf.Tensor,
            tf.gather(y, indices),
          ]);
          indices.dispose();
          let features: tf.Tensor[];
          try {
            features = await prefixRunner.runBatch(images);
          } finally {
            images.dispose();
          }
          featureStats.computed++;
          featureStats.imagesComputed += images.shape[0];
          yield { xs: features.length === 1 ? features[0] : features, ys: labels };
        }
      } as unknown as () => Iterator<tf.TensorContainer>);
    },
    dispose() {
      validation?.release();
      void prefixRunner.dispose();
      // tfjs counts each application of a layer: the models that applied the caller's layers anew
      // (the head, the rest) give their count back; `augment` and `split.prefix` only wrap
      // existing applications, and disposing them would free the caller's weights.
      split.head.dispose();
      rest.dispose();
    },
  };
}
