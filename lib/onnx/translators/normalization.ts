/**
 * BatchNormalization (inference: moving statistics) as ONNX nodes.
 * (Rescaling and Normalization: preprocessing.ts.)
 *
 * A BatchNormalization over the channel axis becomes ONNX BatchNormalization;
 * one that directly follows a Conv is later folded into that Conv's kernel and
 * bias (see fold-batch-norm.ts). Over any other axis it becomes Mul + Add.
 */
import { attr } from '../model-proto';
import { onnxAxis } from '../graph-builder';
import { onlyInput, Translator, Untranslatable } from './context';

const batchNormalization: Translator = (ctx) => {
  const g = ctx.graph;
  let x = onlyInput(ctx);
  const rank = x.shape.length;
  const axis = ctx.config.axis ?? -1;
  if (typeof axis !== 'number') throw new Untranslatable(`normalising over several axes (${JSON.stringify(axis)}) is not supported`);
  const mean = ctx.weight('moving_mean');
  const variance = ctx.weight('moving_variance');
  const channels = mean.values.length;
  const gamma = ctx.config.scale !== false && ctx.hasWeight('gamma') ? ctx.weight('gamma').values : new Float32Array(channels).fill(1);
  const beta = ctx.config.center !== false && ctx.hasWeight('beta') ? ctx.weight('beta').values : new Float32Array(channels);
  const epsilon: number = ctx.config.epsilon ?? 1e-3;
  const name = ctx.layer.name;

  // Rank-4 channels-last input normalised over channels: work in NCHW, next to the Convs.
  const a = axis < 0 ? axis + rank : axis;
  if (rank === 4 && a === 3) x = g.toChannelsFirst(x);
  if (rank >= 2 && onnxAxis(x, axis) === 1) {
    const inputs = [
      x.name,
      g.addWeight(`${name}/gamma`, [channels], gamma),
      g.addWeight(`${name}/beta`, [channels], beta),
      g.addWeight(`${name}/moving_mean`, [channels], mean.values),
      g.addWeight(`${name}/moving_variance`, [channels], variance.values),
    ];
    return [{ ...x, name: g.node('BatchNormalization', inputs, { epsilon: attr.float(epsilon) }, name) }];
  }

  // Elsewhere: y = x * s + t with s = gamma / sqrt(var + eps), t = beta - mean * s (computed in float64).
  const dims = x.shape.map(() => 1);
  dims[onnxAxis(x, axis)] = channels;
  const s = new Float32Array(channels);
  const t = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const sc = gamma[c] / Math.sqrt(variance.values[c] + epsilon);
    s[c] = sc;
    t[c] = beta[c] - mean.values[c] * sc;
  }
  const scaled = g.node('Mul', [x.name, g.addWeight(`${name}/scale`, dims, s)], {}, `${name}_scaled`);
  return [{ ...x, name: g.node('Add', [scaled, g.addWeight(`${name}/shift`, dims, t)], {}, name) }];
};

export const normalizationTranslators: Record<string, Translator> = {
  BatchNormalization: batchNormalization,
};
