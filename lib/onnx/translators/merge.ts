/**
 * Merge layers (Add, Multiply, Average, Maximum, Minimum, Concatenate) as ONNX
 * nodes. All inputs are brought to one layout first: channels-first when any
 * rank-4 input already is (the usual case inside a CNN), else as in tfjs.
 */
import { attr } from '../model-proto';
import { GraphBuilder, onnxAxis, OnnxValue } from '../graph-builder';
import { outputShape, TranslationContext, Translator, Untranslatable } from './context';

function sameLayout(g: GraphBuilder, inputs: OnnxValue[]): OnnxValue[] {
  const ranks = new Set(inputs.map((x) => x.shape.length));
  if (ranks.size !== 1) throw new Untranslatable(`its inputs have different ranks (${[...ranks].join(', ')})`);
  if (inputs.some((x) => x.layout === 'channelsFirst')) return inputs.map((x) => g.toChannelsFirst(x));
  return inputs;
}

function elementwise(opType: 'Sum' | 'Mul' | 'Mean' | 'Max' | 'Min'): Translator {
  return (ctx: TranslationContext) => {
    if (ctx.inputs.length < 2) throw new Untranslatable(`it has ${ctx.inputs.length} input, expected at least 2`);
    const g = ctx.graph;
    const xs = sameLayout(g, ctx.inputs);
    const layout = xs[0].layout;
    let name: string;
    if (opType === 'Mul') {
      // ONNX Mul takes two inputs: chain them left to right, as tfjs does.
      name = xs[0].name;
      for (let i = 1; i < xs.length; i++) {
        name = g.node('Mul', [name, xs[i].name], {}, i === xs.length - 1 ? ctx.layer.name : `${ctx.layer.name}_${i}`);
      }
    } else {
      name = g.node(
        opType,
        xs.map((x) => x.name),
        {},
        ctx.layer.name,
      );
    }
    return [{ name, shape: outputShape(ctx), layout }];
  };
}

const concatenate: Translator = (ctx) => {
  const g = ctx.graph;
  const xs = sameLayout(g, ctx.inputs);
  const axis = onnxAxis(xs[0], ctx.config.axis ?? -1);
  const name = g.node(
    'Concat',
    xs.map((x) => x.name),
    { axis: attr.int(axis) },
    ctx.layer.name,
  );
  return [{ name, shape: outputShape(ctx), layout: xs[0].layout }];
};

export const mergeTranslators: Record<string, Translator> = {
  Add: elementwise('Sum'),
  Multiply: elementwise('Mul'),
  Average: elementwise('Mean'),
  Maximum: elementwise('Max'),
  Minimum: elementwise('Min'),
  Concatenate: concatenate,
};
