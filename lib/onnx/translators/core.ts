/**
 * Core layers: Dense, Flatten, Reshape, Permute, and the layers that are the
 * identity at inference (Dropout and the noise layers).
 */
import { attr } from '../model-proto';
import { OnnxValue } from '../graph-builder';
import { applyActivation, activationName } from './activations';
import { onlyInput, outputShape, Translator, Untranslatable } from './context';

const dense: Translator = (ctx) => {
  const g = ctx.graph;
  const kernel = ctx.weight('kernel');
  const w = g.addWeight(`${ctx.layer.name}/kernel`, kernel.shape, kernel.values);
  const hasBias = ctx.config.useBias !== false && ctx.hasWeight('bias');
  const bias = hasBias ? ctx.weight('bias') : undefined;
  const b = bias ? g.addWeight(`${ctx.layer.name}/bias`, bias.shape, bias.values) : undefined;
  // Dense acts on the last tfjs axis: work in the tfjs layout.
  const x = g.toChannelsLast(onlyInput(ctx));
  let name: string;
  if (x.shape.length === 2) {
    name = g.node('Gemm', b ? [x.name, w, b] : [x.name, w], {}, ctx.layer.name);
  } else {
    const product = g.node('MatMul', [x.name, w], {}, b ? `${ctx.layer.name}_matmul` : ctx.layer.name);
    name = b ? g.node('Add', [product, b], {}, ctx.layer.name) : product;
  }
  const y: OnnxValue = { name, shape: outputShape(ctx), layout: 'asIs' };
  return [applyActivation(g, y, activationName(ctx.config), `${ctx.layer.name}_act`)];
};

const flatten: Translator = (ctx) => {
  // tfjs flattens in channels-last order.
  const x = ctx.graph.toChannelsLast(onlyInput(ctx));
  return [{ name: ctx.graph.node('Flatten', [x.name], { axis: attr.int(1) }, ctx.layer.name), shape: outputShape(ctx), layout: 'asIs' }];
};

const reshape: Translator = (ctx) => {
  const x = ctx.graph.toChannelsLast(onlyInput(ctx));
  // tfjs keeps the one inferred size (-1) as null.
  const config = ctx.config.targetShape;
  const target = Array.isArray(config) ? config.map((d) => (d === null ? -1 : d)) : undefined;
  if (!target || !target.every((d) => Number.isInteger(d) && (d > 0 || d === -1))) {
    throw new Untranslatable(`its targetShape ${JSON.stringify(config)} is not a list of positive sizes (and at most one -1)`);
  }
  // 0 keeps the batch size of the input.
  const shape = ctx.graph.addInt64s(`${ctx.layer.name}/shape`, [0, ...target]);
  return [{ name: ctx.graph.node('Reshape', [x.name, shape], {}, ctx.layer.name), shape: outputShape(ctx), layout: 'asIs' }];
};

const permute: Translator = (ctx) => {
  const x = ctx.graph.toChannelsLast(onlyInput(ctx));
  const dims = ctx.config.dims;
  if (!Array.isArray(dims)) throw new Untranslatable(`its dims ${JSON.stringify(dims)} is not a list`);
  const perm = [0, ...dims];
  return [
    { name: ctx.graph.node('Transpose', [x.name], { perm: attr.ints(perm) }, ctx.layer.name), shape: outputShape(ctx), layout: 'asIs' },
  ];
};

/** Layers that pass their input through unchanged at inference. */
const identity: Translator = (ctx) => [onlyInput(ctx)];

export const coreTranslators: Record<string, Translator> = {
  Dense: dense,
  Flatten: flatten,
  Reshape: reshape,
  Permute: permute,
  Dropout: identity,
  SpatialDropout1D: identity,
  GaussianNoise: identity,
  GaussianDropout: identity,
  AlphaDropout: identity,
};
