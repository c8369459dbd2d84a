/**
 * Splitting a model at the end of its frozen, deterministic prefix.
 *
 * With the base frozen (its BatchNormalization in inference mode) and the upscale step fixed, the
 * lesson model's first ~430 layers compute the same features for an image at every epoch. The
 * split gives a `prefix` model (inputs -> those features) to run once, and a `head` model
 * (features -> outputs) that re-uses the original layer objects, so training the head trains
 * the full model's weights.
 */
import * as tf from '@tensorflow/tfjs';
import { isInputLayer, LayerNode, producingNode } from '../graph/nodes';
import { isFrozen } from '../layers/frozen';

/** Layers whose output depends on randomness during training. */
export const STOCHASTIC_LAYERS = new Set([
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'SpatialDropout3D',
  'GaussianNoise',
  'GaussianDropout',
  'AlphaDropout',
  // Data augmentation (lib/layers/augmentation/): random in training, the identity at inference.
  'RandomFlip',
  'RandomRotation',
  'RandomZoom',
  'RandomTranslation',
  'RandomContrast',
]);

export interface FrozenSplit {
  /** inputs -> the tensors where the frozen prefix ends. */
  prefix: tf.LayersModel;
  /** Those tensors -> the model's outputs; shares its layers (and weights) with the model. */
  head: tf.LayersModel;
  /** Number of layers (input layers excluded) computed by the prefix. */
  prefixLayerCount: number;
  /** The model's tensors where the prefix ends (the prefix's outputs, the head's inputs). */
  cut: tf.SymbolicTensor[];
}

/** The call of a layer that produced `tensor` (every tensor of a built model has one). */
function nodeOf(tensor: tf.SymbolicTensor): LayerNode {
  return producingNode(tensor)!;
}

/**
 * Whether a layer computes the same output for the same input in training and in inference,
 * and has nothing to learn: no trainable weights, not stochastic, and, for BatchNormalization,
 * frozen (tslab-dl then runs it in inference mode, as Keras does).
 */
export function isFrozenDeterministic(layer: tf.layers.Layer, inference = false): boolean {
  // At inference the random layers (augmentation, noise, dropout) are the identity.
  if (!inference && STOCHASTIC_LAYERS.has(layer.getClassName())) return false;
  if (layer instanceof tf.LayersModel) return layer.layers.every((l) => isFrozenDeterministic(l, inference));
  if (layer.trainableWeights.length > 0) return false;
  if (layer.getClassName() === 'BatchNormalization') return isFrozen(layer);
  return true;
}

/** Signature of what decides the split: changes when a layer is frozen or unfrozen. */
function freezeSignature(model: tf.LayersModel, inference: boolean): string {
  return model.layers.map((l) => `${l.name}:${isFrozenDeterministic(l, inference) ? 1 : 0}`).join(',');
}

/** The model each prefix was split from: the owner whose disposal ends what was kept for the prefix (its ONNX session). */
const sources = new WeakMap<tf.LayersModel, tf.LayersModel>();

/** The model `prefix` was split from by {@link splitFrozenPrefix}, or undefined for another model. */
export function splitSourceOf(prefix: tf.LayersModel): tf.LayersModel | undefined {
  return sources.get(prefix);
}

const splits = {
  training: new WeakMap<tf.LayersModel, { signature: string; split: FrozenSplit | undefined }>(),
  inference: new WeakMap<tf.LayersModel, { signature: string; split: FrozenSplit | undefined }>(),
};

export interface SplitOptions {
  /** Split for inference (evaluate, predict): random layers count as the identity they are then. Defaults to false (training). */
  inference?: boolean;
}

/**
 * The split of `model` at the end of its largest frozen, deterministic prefix, or undefined when
 * there is nothing worth computing once (the first layer after the inputs is trainable) or the
 * graph has a shape this does not handle (several nodes of one layer in the model).
 */
export function splitFrozenPrefix(model: tf.LayersModel, { inference = false }: SplitOptions = {}): FrozenSplit | undefined {
  const signature = freezeSignature(model, inference);
  const memo = inference ? splits.inference : splits.training;
  const known = memo.get(model);
  if (known && known.signature === signature) return known.split;
  const split = computeSplit(model, inference);
  memo.set(model, { signature, split });
  return split;
}

function computeSplit(model: tf.LayersModel, inference: boolean): FrozenSplit | undefined {
  const frozenMemo = new Map<number, boolean>();
  const isFrozenTensor = (t: tf.SymbolicTensor): boolean => {
    let frozen = frozenMemo.get(t.id);
    if (frozen === undefined) {
      const layer = t.sourceLayer as tf.layers.Layer;
      frozen = isInputLayer(layer) || (isFrozenDeterministic(layer, inference) && nodeOf(t).inputTensors.every(isFrozenTensor));
      frozenMemo.set(t.id, frozen);
    }
    return frozen;
  };

  // Walk back from the outputs; the first frozen tensor on each path is where the prefix ends.
  const cut = new Map<number, tf.SymbolicTensor>();
  const seen = new Set<number>();
  const visit = (t: tf.SymbolicTensor): void => {
    if (seen.has(t.id)) return;
    seen.add(t.id);
    if (isFrozenTensor(t)) {
      cut.set(t.id, t);
      return;
    }
    nodeOf(t).inputTensors.forEach(visit);
  };
  model.outputs.forEach(visit);

  const cutTensors = [...cut.values()];
  if (cutTensors.every((t) => isInputLayer(t.sourceLayer as tf.layers.Layer))) return undefined;

  const prefix = tf.model({ inputs: model.inputs, outputs: cutTensors, name: `${model.name}_frozen_prefix` });
  const prefixLayerCount = prefix.layers.filter((l) => !isInputLayer(l)).length;
  const head = rebuildHead(model, cutTensors);
  sources.set(prefix, model);
  return { prefix, head, prefixLayerCount, cut: cutTensors };
}

/** Re-applies the layers after the cut to fresh inputs shaped like the cut tensors. */
function rebuildHead(model: tf.LayersModel, cutTensors: tf.SymbolicTensor[]): tf.LayersModel {
  const headInputs = cutTensors.map((t) =>
    tf.input({ shape: t.shape.slice(1) as number[], dtype: t.dtype, name: `${model.name}_features_${t.id}` }),
  );
  return tf.model({ inputs: headInputs, outputs: applyLayersAfterCut(model, cutTensors, headInputs), name: `${model.name}_head` });
}

/**
 * The model's outputs recomputed from `replacements` in place of the cut tensors: the layers after
 * the cut applied again (the same layer objects, so the same weights).
 */
export function applyLayersAfterCut(
  model: tf.LayersModel,
  cutTensors: tf.SymbolicTensor[],
  replacements: tf.SymbolicTensor[],
): tf.SymbolicTensor[] {
  const rebuilt = new Map<number, tf.SymbolicTensor>(cutTensors.map((t, i) => [t.id, replacements[i]]));
  const rebuild = (t: tf.SymbolicTensor): tf.SymbolicTensor => {
    const done = rebuilt.get(t.id);
    if (done) return done;
    const node = nodeOf(t);
    const inputs = node.inputTensors.map(rebuild);
    const applied = t.sourceLayer.apply(inputs.length === 1 ? inputs[0] : inputs, node.callArgs ?? {});
    const outputs = (Array.isArray(applied) ? applied : [applied]) as tf.SymbolicTensor[];
    node.outputTensors.forEach((original, i) => rebuilt.set(original.id, outputs[i]));
    return rebuilt.get(t.id)!;
  };
  return model.outputs.map(rebuild);
}
