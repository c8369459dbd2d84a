/**
 * Activation functions (the `activation` option of Conv2D/Dense, the Activation
 * layer) and the advanced-activation layers, as ONNX nodes.
 *
 * Each follows the tfjs-layers definition (activations.ts, advanced_activations.ts),
 * which is what the ONNX output is compared against.
 */
import { attr } from '../model-proto';
import { GraphBuilder, onnxAxis, OnnxValue } from '../graph-builder';
import { onlyInput, TranslationContext, Translator, Untranslatable } from './context';

/** Applies the tfjs activation named `name` (as `getConfig()` reports it) to `x`. */
export function applyActivation(graph: GraphBuilder, x: OnnxValue, name: string | undefined, base: string): OnnxValue {
  const g = graph;
  const out = (opType: string, inputs: string[], attributes = {}) => ({ ...x, name: g.node(opType, inputs, attributes, base) });
  const scalar = (v: number) => g.addWeight(`${base}_const`, [], new Float32Array([v]));
  const helper = (opType: string, inputs: string[], attributes = {}) =>
    g.node(opType, inputs, attributes, `${base}_${opType.toLowerCase()}`);
  switch (name ?? 'linear') {
    case 'linear':
      return x;
    case 'relu':
      return out('Relu', [x.name]);
    case 'relu6':
      return out('Clip', [x.name, scalar(0), scalar(6)]);
    case 'sigmoid':
      return out('Sigmoid', [x.name]);
    case 'tanh':
      return out('Tanh', [x.name]);
    case 'elu':
      return out('Elu', [x.name], { alpha: attr.float(1) });
    case 'selu':
      // tfjs-core's SELU constants; ONNX's defaults are the same numbers.
      return out('Selu', [x.name], { alpha: attr.float(1.6732632423543772), gamma: attr.float(1.0507009873554805) });
    case 'hardSigmoid':
      // tfjs: clip(0.2 x + 0.5, 0, 1), which is ONNX HardSigmoid's default.
      return out('HardSigmoid', [x.name], { alpha: attr.float(0.2), beta: attr.float(0.5) });
    case 'softplus':
      return out('Softplus', [x.name]);
    case 'softsign':
      return out('Softsign', [x.name]);
    case 'swish':
      return out('Mul', [x.name, helper('Sigmoid', [x.name])]);
    case 'mish':
      return out('Mul', [x.name, helper('Tanh', [helper('Softplus', [x.name])])]);
    case 'gelu': {
      // x * 0.5 * (1 + erf(x / sqrt(2))), the exact form tfjs uses.
      const erf = helper('Erf', [helper('Mul', [x.name, scalar(Math.SQRT1_2)])]);
      const cdf = helper('Mul', [helper('Add', [erf, scalar(1)]), scalar(0.5)]);
      return out('Mul', [x.name, cdf]);
    }
    case 'gelu_new': {
      // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), tfjs' 'gelu_new'.
      const cube = helper('Mul', [helper('Mul', [x.name, x.name]), x.name]);
      const inner = helper('Add', [x.name, helper('Mul', [cube, scalar(0.044715)])]);
      const t = helper('Tanh', [helper('Mul', [inner, scalar(Math.sqrt(2 / Math.PI))])]);
      const half = helper('Mul', [helper('Add', [t, scalar(1)]), scalar(0.5)]);
      return out('Mul', [x.name, half]);
    }
    case 'softmax':
      return out('Softmax', [x.name], { axis: attr.int(onnxAxis(x, -1)) });
    case 'logSoftmax':
      return out('LogSoftmax', [x.name], { axis: attr.int(onnxAxis(x, -1)) });
    default:
      throw new Untranslatable(`the activation '${name}' has no ONNX translation`);
  }
}

/** The `activation` entry of a layer config: a name, or a serialised {className} object. */
export function activationName(config: Record<string, any>): string | undefined {
  const a = config.activation;
  if (a === undefined || a === null) return undefined;
  if (typeof a === 'string') return a;
  if (typeof a === 'object' && typeof a.className === 'string') return a.className;
  throw new Untranslatable(`its activation ${JSON.stringify(a)} is not a known activation name`);
}

const activationLayer: Translator = (ctx) => [applyActivation(ctx.graph, onlyInput(ctx), activationName(ctx.config), ctx.layer.name)];

const reluLayer: Translator = (ctx) => {
  const x = onlyInput(ctx);
  const g = ctx.graph;
  const max = ctx.config.maxValue;
  if (max === undefined || max === null) return [{ ...x, name: g.node('Relu', [x.name], {}, ctx.layer.name) }];
  const lo = g.addWeight(`${ctx.layer.name}_min`, [], new Float32Array([0]));
  const hi = g.addWeight(`${ctx.layer.name}_max`, [], new Float32Array([max]));
  return [{ ...x, name: g.node('Clip', [x.name, lo, hi], {}, ctx.layer.name) }];
};

const leakyReluLayer: Translator = (ctx) => {
  const x = onlyInput(ctx);
  return [{ ...x, name: ctx.graph.node('LeakyRelu', [x.name], { alpha: attr.float(ctx.config.alpha ?? 0.3) }, ctx.layer.name) }];
};

const eluLayer: Translator = (ctx) => {
  const x = onlyInput(ctx);
  return [{ ...x, name: ctx.graph.node('Elu', [x.name], { alpha: attr.float(ctx.config.alpha ?? 1) }, ctx.layer.name) }];
};

const thresholdedReluLayer: Translator = (ctx) => {
  const x = onlyInput(ctx);
  return [{ ...x, name: ctx.graph.node('ThresholdedRelu', [x.name], { alpha: attr.float(ctx.config.theta ?? 1) }, ctx.layer.name) }];
};

const softmaxLayer: Translator = (ctx: TranslationContext) => {
  const x = onlyInput(ctx);
  const axes = Array.isArray(ctx.config.axis) ? ctx.config.axis : [ctx.config.axis ?? -1];
  if (axes.length !== 1) throw new Untranslatable(`softmax over several axes (${axes}) has no single ONNX node`);
  return [{ ...x, name: ctx.graph.node('Softmax', [x.name], { axis: attr.int(onnxAxis(x, axes[0])) }, ctx.layer.name) }];
};

const preluLayer: Translator = (ctx) => {
  // alpha has the input's shape without the batch axis (tfjs layout): apply it channels-last.
  const x = ctx.graph.toChannelsLast(onlyInput(ctx));
  const alpha = ctx.weight('alpha');
  const a = ctx.graph.addWeight(`${ctx.layer.name}/alpha`, alpha.shape, alpha.values);
  return [{ ...x, name: ctx.graph.node('PRelu', [x.name, a], {}, ctx.layer.name) }];
};

export const activationTranslators: Record<string, Translator> = {
  Activation: activationLayer,
  ReLU: reluLayer,
  LeakyReLU: leakyReluLayer,
  ELU: eluLayer,
  ThresholdedReLU: thresholdedReluLayer,
  Softmax: softmaxLayer,
  PReLU: preluLayer,
};
