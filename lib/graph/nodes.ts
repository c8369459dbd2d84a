/**
 * Typed access to tfjs' layer graph, declared once: the nodes that record each application of a
 * layer, and where a symbolic tensor comes from. Every walk over a model's graph in tslab-dl
 * reads it through these helpers instead of casting tfjs' objects itself.
 *
 * Mirrors tfjs-layers' src/engine/topology.ts (class Node; Layer.inboundNodes; SymbolicTensor's
 * sourceLayer, nodeIndex and tensorIndex, its "replacement for _keras_history") and
 * src/engine/container.ts (Container.containerNodes, keyed by Layer.nodeKey) for
 * @tensorflow/tfjs-layers 4.22. tfjs' typings declare these fields but its documentation does not
 * cover them: {@link LayerNode} lists the ones tslab-dl reads, and the compiler checks tfjs' Node
 * against it where {@link inboundNodesOf} hands the nodes out.
 */
import * as tf from '@tensorflow/tfjs';

type Layer = tf.layers.Layer;
type SymbolicTensor = tf.SymbolicTensor;

/**
 * One application of a layer to symbolic tensors (tfjs-layers' Node, Keras' Node): the layer's
 * `inboundNodes[i]` records its i-th call. For an InputLayer, its one node lists its own output
 * as its input and has no inbound layers.
 */
export interface LayerNode {
  /** The layers that produced `inputTensors`, one per input; empty for an InputLayer's node. */
  readonly inboundLayers: readonly Layer[];
  readonly inputTensors: readonly SymbolicTensor[];
  readonly outputTensors: readonly SymbolicTensor[];
  /** The keyword arguments of the call (e.g. `training`), as the layer was applied. */
  readonly callArgs?: Record<string, unknown>;
}

/** Where a symbolic tensor comes from, Keras' _keras_history: its layer, the node (call) of that layer, and which of the call's outputs. */
export interface TensorOrigin {
  layer: Layer;
  nodeIndex: number;
  tensorIndex: number;
}

/** The nodes of `layer`, one per application, in the order it was applied (tfjs-layers' Layer.inboundNodes). */
export function inboundNodesOf(layer: Layer): readonly LayerNode[] {
  return layer.inboundNodes;
}

/** The node whose call produced `tensor`: its source layer's inboundNodes[nodeIndex]; undefined when there is none. */
export function producingNode(tensor: SymbolicTensor): LayerNode | undefined {
  return tensor.sourceLayer?.inboundNodes?.[tensor.nodeIndex];
}

/** `tensor`'s {@link TensorOrigin}; a tensor index tfjs left unset counts as 0. */
export function originOf(tensor: SymbolicTensor): TensorOrigin {
  return { layer: tensor.sourceLayer, nodeIndex: tensor.nodeIndex, tensorIndex: tensor.tensorIndex ?? 0 };
}

/**
 * The nodes of `layer` that belong to `model`, in order. A layer applied again elsewhere (a
 * rebuilt head, another model sharing it) gains nodes there too; tfjs-layers' Container keeps the
 * keys of its own nodes in `containerNodes`, each Layer.nodeKey(layer, i) = `${layer.name}_ib-${i}`.
 */
export function nodesInModel(model: tf.LayersModel, layer: Layer): LayerNode[] {
  const own = model.containerNodes;
  return inboundNodesOf(layer).filter((_, index) => own.has(`${layer.name}_ib-${index}`));
}

/** Whether `layer` is a model input (tfjs' InputLayer), whose node is no call to walk through. */
export function isInputLayer(layer: Layer): boolean {
  return layer.getClassName() === 'InputLayer';
}
