/**
 * ZeroPadding2D (ONNX Pad) and Cropping2D (ONNX Slice), in whichever layout
 * the input already has.
 */
import { onnxAxis, OnnxValue } from '../graph-builder';
import { onlyInput, outputShape, requireChannelsLast, TranslationContext, Translator, Untranslatable } from './context';

/** [[top, bottom], [left, right]] from the config forms tfjs accepts. */
function pairs(value: unknown, what: string): [[number, number], [number, number]] {
  let v = value;
  if (typeof v === 'number')
    v = [
      [v, v],
      [v, v],
    ];
  else if (Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === 'number'))
    v = [
      [v[0], v[0]],
      [v[1], v[1]],
    ];
  const ok =
    Array.isArray(v) &&
    v.length === 2 &&
    v.every((p) => Array.isArray(p) && p.length === 2 && p.every((n) => Number.isInteger(n) && n >= 0));
  if (!ok) throw new Untranslatable(`its ${what} ${JSON.stringify(value)} is not [[top, bottom], [left, right]]`);
  return v as [[number, number], [number, number]];
}

function spatialInput(ctx: TranslationContext): OnnxValue {
  requireChannelsLast(ctx);
  const x = onlyInput(ctx);
  if (x.shape.length !== 4) throw new Untranslatable(`its input has rank ${x.shape.length}, expected 4`);
  return x;
}

const zeroPadding2d: Translator = (ctx) => {
  const x = spatialInput(ctx);
  const [[top, bottom], [left, right]] = pairs(ctx.config.padding, 'padding');
  const begin = [0, 0, 0, 0];
  const end = [0, 0, 0, 0];
  begin[onnxAxis(x, 1)] = top;
  end[onnxAxis(x, 1)] = bottom;
  begin[onnxAxis(x, 2)] = left;
  end[onnxAxis(x, 2)] = right;
  const pads = ctx.graph.addInt64s(`${ctx.layer.name}/pads`, [...begin, ...end]);
  // Pad's default mode is 'constant' with value 0.
  return [{ name: ctx.graph.node('Pad', [x.name, pads], {}, ctx.layer.name), shape: outputShape(ctx), layout: x.layout }];
};

const cropping2d: Translator = (ctx) => {
  const x = spatialInput(ctx);
  const [[top, bottom], [left, right]] = pairs(ctx.config.cropping, 'cropping');
  const g = ctx.graph;
  const name = ctx.layer.name;
  // A negative end counts from the end; "no crop" ends at the largest int64 ONNX clamps to the size.
  const end = (crop: number) => (crop > 0 ? -crop : Number.MAX_SAFE_INTEGER);
  const inputs = [
    x.name,
    g.addInt64s(`${name}/starts`, [top, left]),
    g.addInt64s(`${name}/ends`, [end(bottom), end(right)]),
    g.addInt64s(`${name}/axes`, [onnxAxis(x, 1), onnxAxis(x, 2)]),
  ];
  return [{ name: g.node('Slice', inputs, {}, name), shape: outputShape(ctx), layout: x.layout }];
};

export const paddingTranslators: Record<string, Translator> = {
  ZeroPadding2D: zeroPadding2d,
  Cropping2D: cropping2d,
};
