/**
 * Image resizing layers as ONNX Resize (NCHW): tfjs UpSampling2D and tslab-dl's
 * Upscale layer (TF2 resize_with_pad: half-pixel resize, then centred zero padding).
 *
 * Coordinate rules:
 * - UpSampling2D calls resizeNearestNeighbor/resizeBilinear without half-pixel
 *   centres or aligned corners: src = dst * in / out, ONNX 'asymmetric'
 *   (nearest rounds down: nearest_mode 'floor').
 * - Upscale resizes with half-pixel centres, no antialias. Bilinear: ONNX
 *   'half_pixel', src = (dst + 0.5) * in / out - 0.5. Nearest: TF takes
 *   floor((dst + 0.5) * in / out), which is ONNX 'half_pixel' rounded with
 *   'round_prefer_ceil' (round_prefer_ceil(y - 0.5) = floor(y)).
 */
import { resizeWithPadGeometry } from '../../layers/upscale';
import { attr, Attribute } from '../model-proto';
import { OnnxValue } from '../graph-builder';
import { onlyInput, outputShape, requireChannelsLast, TranslationContext, Translator, Untranslatable } from './context';
import { pair } from './spatial';

function imageInput(ctx: TranslationContext): OnnxValue {
  requireChannelsLast(ctx);
  const x = onlyInput(ctx);
  if (x.shape.length !== 4) throw new Untranslatable(`its input has rank ${x.shape.length}, expected 4`);
  return ctx.graph.toChannelsFirst(x);
}

const upSampling2d: Translator = (ctx) => {
  const x = imageInput(ctx);
  const [sh, sw] = pair(ctx.config.size ?? 2, 'size');
  const interpolation = ctx.config.interpolation ?? 'nearest';
  const attributes: Record<string, Attribute> = { coordinate_transformation_mode: attr.string('asymmetric') };
  if (interpolation === 'nearest') {
    attributes.mode = attr.string('nearest');
    attributes.nearest_mode = attr.string('floor');
  } else if (interpolation === 'bilinear') {
    attributes.mode = attr.string('linear');
  } else {
    throw new Untranslatable(`interpolation '${interpolation}' is not supported`);
  }
  const g = ctx.graph;
  const scales = g.addWeight(`${ctx.layer.name}/scales`, [4], new Float32Array([1, 1, sh, sw]));
  return [{ name: g.node('Resize', [x.name, '', scales], attributes, ctx.layer.name), shape: outputShape(ctx), layout: 'channelsFirst' }];
};

const upscale: Translator = (ctx) => {
  const x = imageInput(ctx);
  const [, height, width] = x.shape;
  if (height === null || width === null) throw new Untranslatable('its input height and width are not fixed');
  const targetHeight = ctx.config.height;
  const targetWidth = ctx.config.width;
  const method = ctx.config.method ?? 'bilinear';
  const geometry = resizeWithPadGeometry(height, width, targetHeight, targetWidth);
  const g = ctx.graph;
  const name = ctx.layer.name;

  const attributes: Record<string, Attribute> = { coordinate_transformation_mode: attr.string('half_pixel') };
  if (method === 'bilinear') {
    attributes.mode = attr.string('linear');
  } else if (method === 'nearest') {
    attributes.mode = attr.string('nearest');
    attributes.nearest_mode = attr.string('round_prefer_ceil');
  } else {
    throw new Untranslatable(`method '${method}' is not supported`);
  }
  // Resize-17 wants the full output size: [N, C] of the input, then the resized height and width.
  const shape = g.node('Shape', [x.name], {}, `${name}_shape`);
  const batchAndChannels = g.node(
    'Slice',
    [shape, g.addInt64s(`${name}/starts`, [0]), g.addInt64s(`${name}/ends`, [2])],
    {},
    `${name}_batch_channels`,
  );
  const sizes = g.node(
    'Concat',
    [batchAndChannels, g.addInt64s(`${name}/resized_size`, [geometry.resizedHeight, geometry.resizedWidth])],
    { axis: attr.int(0) },
    `${name}_sizes`,
  );
  const padded = geometry.padTop + geometry.padBottom + geometry.padLeft + geometry.padRight > 0;
  let y = g.node('Resize', [x.name, '', '', sizes], attributes, padded ? `${name}_resized` : name);
  if (padded) {
    const pads = g.addInt64s(`${name}/pads`, [0, 0, geometry.padTop, geometry.padLeft, 0, 0, geometry.padBottom, geometry.padRight]);
    y = g.node('Pad', [y, pads], {}, name);
  }
  return [{ name: y, shape: outputShape(ctx), layout: 'channelsFirst' }];
};

export const resizingTranslators: Record<string, Translator> = {
  UpSampling2D: upSampling2d,
  Upscale: upscale,
};
