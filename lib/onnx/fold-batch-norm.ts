/**
 * Folds each inference BatchNormalization that directly follows a Conv into
 * that Conv's kernel and bias:
 *
 *   bn(conv(x)) = conv(x) * s + (beta - mean * s),  s = gamma / sqrt(var + eps)
 *               = conv'(x) with W'[o] = W[o] * s[o], b'[o] = (b[o] - mean[o]) * s[o] + beta[o].
 *
 * Only when the Conv's output feeds nothing else. The new weights are computed
 * in float64 and rounded once. (DenseNet's BN -> ReLU -> Conv order leaves most
 * of its BNs unfoldable; onnxruntime runs those as a cheap per-channel affine.)
 */
import { GraphDef, Initializer, NodeDef } from './model-proto';

export function foldBatchNormIntoConv(graph: GraphDef): { graph: GraphDef; folded: number } {
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  const producers = new Map<string, NodeDef>();
  const consumers = new Map<string, number>();
  for (const node of graph.nodes) {
    for (const o of node.outputs) producers.set(o, node);
    for (const i of node.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  }
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const removed = new Set<NodeDef>();
  const added: Initializer[] = [];
  let folded = 0;

  for (const bn of graph.nodes) {
    if (bn.opType !== 'BatchNormalization') continue;
    const conv = producers.get(bn.inputs[0]);
    if (!conv || conv.opType !== 'Conv' || removed.has(conv)) continue;
    if (consumers.get(conv.outputs[0]) !== 1 || graphOutputs.has(conv.outputs[0])) continue;
    const [gamma, beta, mean, variance] = bn.inputs.slice(1).map((n) => initializers.get(n)?.data);
    const kernel = initializers.get(conv.inputs[1]);
    const bias = conv.inputs[2] ? initializers.get(conv.inputs[2]) : undefined;
    const params = [gamma, beta, mean, variance];
    if (!kernel || !params.every((p) => p instanceof Float32Array) || (conv.inputs[2] && !bias)) continue;
    // The weights must belong to this Conv alone, since we change them in place.
    if (consumers.get(kernel.name) !== 1 || (bias && consumers.get(bias.name) !== 1)) continue;
    const epsilon = bn.attributes.epsilon?.type === 'float' ? bn.attributes.epsilon.value : 1e-5;
    const [g, b, m, v] = params as Float32Array[];
    const channels = kernel.dims[0];
    if (g.length !== channels) continue;

    const w = kernel.data as Float32Array;
    const perChannel = w.length / channels;
    const newKernel = new Float32Array(w.length);
    const newBias = new Float32Array(channels);
    const oldBias = bias?.data as Float32Array | undefined;
    for (let o = 0; o < channels; o++) {
      const s = g[o] / Math.sqrt(v[o] + epsilon);
      for (let j = o * perChannel; j < (o + 1) * perChannel; j++) newKernel[j] = w[j] * s;
      newBias[o] = ((oldBias ? oldBias[o] : 0) - m[o]) * s + b[o];
    }
    kernel.data = newKernel;
    if (bias) {
      bias.data = newBias;
    } else {
      const name = uniqueInitializerName(`${conv.inputs[1]}_folded_bias`, initializers);
      const init: Initializer = { name, dims: [channels], data: newBias };
      initializers.set(name, init);
      added.push(init);
      conv.inputs.push(name);
    }
    // The Conv now produces the BN's output.
    conv.outputs[0] = bn.outputs[0];
    removed.add(bn);
    folded++;
  }

  const nodes = graph.nodes.filter((n) => !removed.has(n));
  const used = new Set(nodes.flatMap((n) => n.inputs));
  const kept = [...graph.initializers, ...added].filter((t) => used.has(t.name));
  return { graph: { ...graph, nodes, initializers: kept }, folded };
}

function uniqueInitializerName(base: string, taken: Map<string, unknown>): string {
  let name = base;
  for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
  return name;
}
