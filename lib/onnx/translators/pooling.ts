/**
 * Max/average pooling and global pooling as ONNX nodes (NCHW).
 *
 * TF's 'same' pooling ignores padded pixels: a max never sees them and an
 * average divides by the number of real pixels in the window. ONNX MaxPool
 * ignores pads too, and AveragePool does with count_include_pad = 0.
 */
import { attr } from '../model-proto';
import { OnnxValue } from '../graph-builder';
import { onlyInput, outputShape, requireChannelsLast, TranslationContext, Translator, Untranslatable } from './context';
import { pair, windowAttributes } from './spatial';

function pooling(opType: 'MaxPool' | 'AveragePool'): Translator {
  return (ctx) => {
    requireChannelsLast(ctx);
    const input = onlyInput(ctx);
    if (input.shape.length !== 4) throw new Untranslatable(`its input has rank ${input.shape.length}, expected 4`);
    const x = ctx.graph.toChannelsFirst(input);
    const kernel = pair(ctx.config.poolSize ?? 2, 'poolSize');
    const attributes = windowAttributes({
      kernel,
      strides: pair(ctx.config.strides ?? kernel, 'strides'),
      padding: ctx.config.padding ?? 'valid',
      inHeight: x.shape[1],
      inWidth: x.shape[2],
    });
    if (opType === 'AveragePool') attributes.count_include_pad = attr.int(0);
    return [{ name: ctx.graph.node(opType, [x.name], attributes, ctx.layer.name), shape: outputShape(ctx), layout: 'channelsFirst' }];
  };
}

function globalPooling(opType: 'GlobalMaxPool' | 'GlobalAveragePool'): Translator {
  return (ctx: TranslationContext) => {
    requireChannelsLast(ctx);
    const input = onlyInput(ctx);
    if (input.shape.length !== 4) throw new Untranslatable(`its input has rank ${input.shape.length}, expected 4`);
    if (ctx.config.keepDims) throw new Untranslatable('keepDims is not supported');
    const g = ctx.graph;
    const x = g.toChannelsFirst(input);
    // [N, C, 1, 1] -> [N, C], the tfjs output.
    const pooled = g.node(opType, [x.name], {}, `${ctx.layer.name}_pooled`);
    const out: OnnxValue = {
      name: g.node('Flatten', [pooled], { axis: attr.int(1) }, ctx.layer.name),
      shape: outputShape(ctx),
      layout: 'asIs',
    };
    return [out];
  };
}

export const poolingTranslators: Record<string, Translator> = {
  MaxPooling2D: pooling('MaxPool'),
  AveragePooling2D: pooling('AveragePool'),
  GlobalMaxPooling2D: globalPooling('GlobalMaxPool'),
  GlobalAveragePooling2D: globalPooling('GlobalAveragePool'),
};
