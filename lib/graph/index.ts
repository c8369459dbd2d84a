/**
 * Barrel for lib/graph: typed access to tfjs' layer graph (nodes, tensor origins), the walks
 * built on it, and a model as layer calls in execution order.
 */
export { inboundNodesOf, isInputLayer, nodesInModel, originOf, producingNode } from './nodes';
export type { LayerNode, TensorOrigin } from './nodes';
export { getSourceInputs, upstreamLayers } from './upstream';
export { flattenLayerGraph } from './flatten';
export type { GraphInput, LayerCall, LayerGraph, OutputSpec } from './flatten';
