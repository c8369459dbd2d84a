/**
 * The flattened layer graph the ONNX translation works on: a model as layer calls in execution
 * order, nested models inlined. It is not ONNX-specific (lib/graph/layerwise.ts runs models with it
 * too), so it lives in lib/graph/flatten.ts; lib/onnx's modules import it from here.
 */
export { flattenLayerGraph } from '../graph/flatten';
export type { GraphInput, LayerCall, LayerGraph, OutputSpec } from '../graph/flatten';
