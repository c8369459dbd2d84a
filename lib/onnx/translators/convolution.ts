/**
 * Conv2D, DepthwiseConv2D and SeparableConv2D as ONNX Conv nodes (NCHW).
 *
 * tfjs kernels are HWIO ([kh, kw, in, out]); ONNX wants OIHW. A depthwise
 * kernel [kh, kw, in, multiplier] becomes a grouped Conv (group = in) whose
 * output channel c * multiplier + m is kernel[:, :, c, m], TF's channel order.
 */
import { attr } from '../model-proto';
import { OnnxValue } from '../graph-builder';
import { applyActivation, activationName } from './activations';
import { onlyInput, outputShape, requireChannelsLast, TranslationContext, Translator, Untranslatable, Weight } from './context';
import { pair, windowAttributes } from './spatial';

/** Reorders a row-major array of `shape` so that new axis i is old axis perm[i]. */
export function permute(values: Float32Array, shape: number[], perm: number[]): { values: Float32Array; shape: number[] } {
  const outShape = perm.map((p) => shape[p]);
  const inStrides = stridesOf(shape);
  const permStrides = perm.map((p) => inStrides[p]);
  const out = new Float32Array(values.length);
  const index = new Array(shape.length).fill(0);
  for (let i = 0; i < out.length; i++) {
    let src = 0;
    for (let d = 0; d < index.length; d++) src += index[d] * permStrides[d];
    out[i] = values[src];
    for (let d = index.length - 1; d >= 0; d--) {
      if (++index[d] < outShape[d]) break;
      index[d] = 0;
    }
  }
  return { values: out, shape: outShape };
}

function stridesOf(shape: number[]): number[] {
  const strides = new Array(shape.length).fill(1);
  for (let d = shape.length - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

/** HWIO -> OIHW. */
function convKernel(kernel: Weight): { values: Float32Array; shape: number[] } {
  return permute(kernel.values, kernel.shape, [3, 2, 0, 1]);
}

/** [kh, kw, in, mult] -> [in * mult, 1, kh, kw]. */
function depthwiseKernel(kernel: Weight): { values: Float32Array; shape: number[] } {
  const [kh, kw, channels, multiplier] = kernel.shape;
  const p = permute(kernel.values, kernel.shape, [2, 3, 0, 1]);
  return { values: p.values, shape: [channels * multiplier, 1, kh, kw] };
}

function spatialInput(ctx: TranslationContext): OnnxValue {
  requireChannelsLast(ctx);
  const x = onlyInput(ctx);
  if (x.shape.length !== 4) throw new Untranslatable(`its input has rank ${x.shape.length}, expected 4`);
  return ctx.graph.toChannelsFirst(x);
}

function windowFor(ctx: TranslationContext, kernel: [number, number], x: OnnxValue) {
  return windowAttributes({
    kernel,
    strides: pair(ctx.config.strides ?? 1, 'strides'),
    dilations: pair(ctx.config.dilationRate ?? 1, 'dilationRate'),
    padding: ctx.config.padding ?? 'valid',
    inHeight: x.shape[1],
    inWidth: x.shape[2],
  });
}

function biasInputs(ctx: TranslationContext): string[] {
  if (ctx.config.useBias === false || !ctx.hasWeight('bias')) return [];
  const bias = ctx.weight('bias');
  return [ctx.graph.addWeight(`${ctx.layer.name}/bias`, bias.shape, bias.values)];
}

function finish(ctx: TranslationContext, name: string): OnnxValue[] {
  const y: OnnxValue = { name, shape: outputShape(ctx), layout: 'channelsFirst' };
  return [applyActivation(ctx.graph, y, activationName(ctx.config), `${ctx.layer.name}_act`)];
}

const conv2d: Translator = (ctx) => {
  const x = spatialInput(ctx);
  const k = convKernel(ctx.weight('kernel'));
  const w = ctx.graph.addWeight(`${ctx.layer.name}/kernel`, k.shape, k.values);
  const attributes = { ...windowFor(ctx, [k.shape[2], k.shape[3]], x), group: attr.int(1) };
  return finish(ctx, ctx.graph.node('Conv', [x.name, w, ...biasInputs(ctx)], attributes, ctx.layer.name));
};

const depthwiseConv2d: Translator = (ctx) => {
  const x = spatialInput(ctx);
  const k = depthwiseKernel(ctx.weight('depthwise_kernel'));
  const w = ctx.graph.addWeight(`${ctx.layer.name}/depthwise_kernel`, k.shape, k.values);
  const channels = ctx.weight('depthwise_kernel').shape[2];
  const attributes = { ...windowFor(ctx, [k.shape[2], k.shape[3]], x), group: attr.int(channels) };
  return finish(ctx, ctx.graph.node('Conv', [x.name, w, ...biasInputs(ctx)], attributes, ctx.layer.name));
};

/** Depthwise (with the layer's strides, padding, dilation) then a 1x1 pointwise Conv with the bias. */
const separableConv2d: Translator = (ctx) => {
  const x = spatialInput(ctx);
  const g = ctx.graph;
  const dk = ctx.weight('depthwise_kernel');
  const d = depthwiseKernel(dk);
  const dw = g.addWeight(`${ctx.layer.name}/depthwise_kernel`, d.shape, d.values);
  const depthwise = g.node(
    'Conv',
    [x.name, dw],
    { ...windowFor(ctx, [d.shape[2], d.shape[3]], x), group: attr.int(dk.shape[2]) },
    `${ctx.layer.name}_depthwise`,
  );
  const p = convKernel(ctx.weight('pointwise_kernel'));
  const pw = g.addWeight(`${ctx.layer.name}/pointwise_kernel`, p.shape, p.values);
  const pointwise = g.node(
    'Conv',
    [depthwise, pw, ...biasInputs(ctx)],
    { kernel_shape: attr.ints([1, 1]), strides: attr.ints([1, 1]), pads: attr.ints([0, 0, 0, 0]), group: attr.int(1) },
    ctx.layer.name,
  );
  return finish(ctx, pointwise);
};

export const convolutionTranslators: Record<string, Translator> = {
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
};
