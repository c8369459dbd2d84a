/**
 * Keras' preprocessing layers that live inside application models (EfficientNet's stem):
 * Rescaling with a scale/offset per channel (lib/layers/rescaling.ts) and Normalization
 * (lib/layers/normalization.ts), as ONNX nodes doing the same float32 operations as tfjs.
 *
 * Registered in the translator table (./index.ts); the 'Rescaling' translation here also covers
 * tfjs' own scalar Rescaling layer, with the same operations.
 */
import { Normalization } from '../../layers/normalization';
import { onnxAxis, OnnxValue } from '../graph-builder';
import { onlyInput, Translator, TranslationContext, Untranslatable } from './context';

/** A constant broadcast along the tfjs channel axis (the last) of `x`, in `x`'s layout. */
function perChannel(ctx: TranslationContext, x: OnnxValue, baseName: string, values: number[]): string {
  if (values.length === 1) return ctx.graph.addWeight(baseName, [], new Float32Array(values));
  const dims = x.shape.map(() => 1);
  dims[onnxAxis(x, -1)] = values.length;
  return ctx.graph.addWeight(baseName, dims, new Float32Array(values));
}

function channelValues(ctx: TranslationContext, name: string): number[] {
  const value = ctx.config[name] ?? 0;
  if (typeof value === 'number') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'number')) return value as number[];
  throw new Untranslatable(`its ${name} ${JSON.stringify(value)} is neither a number nor one number per channel`);
}

/** x * scale + offset: tfjs' two float32 operations, in the same order. */
const rescaling: Translator = (ctx) => {
  const x = onlyInput(ctx);
  const g = ctx.graph;
  const name = ctx.layer.name;
  const scaled = g.node('Mul', [x.name, perChannel(ctx, x, `${name}/scale`, channelValues(ctx, 'scale'))], {}, `${name}_scaled`);
  return [{ ...x, name: g.node('Add', [scaled, perChannel(ctx, x, `${name}/offset`, channelValues(ctx, 'offset'))], {}, name) }];
};

/**
 * (x - mean) / max(sqrt(variance), 1e-7), or mean + x * max(...) when inverted. The divisor is
 * computed here in float32 (a correctly rounded sqrt, as tfjs'), so the graph runs the same
 * subtraction and division as tfjs.
 */
const normalization: Translator = (ctx) => {
  const x = onlyInput(ctx);
  const g = ctx.graph;
  const name = ctx.layer.name;
  if (!(ctx.layer instanceof Normalization)) throw new Untranslatable("it is not tslab-dl's Normalization layer");
  const { mean, variance } = ctx.layer.statistics();
  const broadcast = [...mean.shape];
  const meanValues = Float32Array.from(mean.dataSync());
  const varianceValues = Float32Array.from(variance.dataSync());
  mean.dispose();
  variance.dispose();
  const std = Float32Array.from(varianceValues, (v) => Math.max(Math.fround(Math.sqrt(v)), Math.fround(1e-7)));
  // The statistics have the input's rank, with the kept axes' sizes and 1 elsewhere (tfjs layout).
  if (broadcast.length !== x.shape.length)
    throw new Untranslatable(`its statistics have rank ${broadcast.length}, its input rank ${x.shape.length}`);
  let input = x;
  const kept = broadcast.map((d, i) => (d !== 1 ? i : -1)).filter((i) => i >= 0);
  // Per-channel (the EfficientNet case) works in either layout; any other kept axis in the tfjs layout.
  if (!(kept.length === 1 && kept[0] === broadcast.length - 1)) input = g.toChannelsLast(x);
  const dims = input.layout === 'channelsFirst' ? [broadcast[0], broadcast[3], broadcast[1], broadcast[2]] : broadcast;
  const m = g.addWeight(`${name}/mean`, dims, meanValues);
  const s = g.addWeight(`${name}/std`, dims, std);
  if (ctx.config.invert) {
    const scaled = g.node('Mul', [input.name, s], {}, `${name}_scaled`);
    return [{ ...input, name: g.node('Add', [m, scaled], {}, name) }];
  }
  const centred = g.node('Sub', [input.name, m], {}, `${name}_centred`);
  return [{ ...input, name: g.node('Div', [centred, s], {}, name) }];
};

export const preprocessingTranslators: Record<string, Translator> = {
  Rescaling: rescaling,
  Normalization: normalization,
};
