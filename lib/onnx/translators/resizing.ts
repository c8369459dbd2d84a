/**
 * Image resizing layers (NCHW): tfjs UpSampling2D as ONNX Resize, and tslab-dl's
 * Upscale layer (TF2 resize_with_pad: half-pixel resize, then centred zero padding).
 *
 * Coordinate rules:
 * - UpSampling2D calls resizeNearestNeighbor/resizeBilinear without half-pixel
 *   centres or aligned corners: src = dst * in / out, ONNX 'asymmetric'
 *   (nearest rounds down: nearest_mode 'floor').
 * - Upscale resizes with half-pixel centres, no antialias: bilinear from
 *   src = (dst + 0.5) * in / out - 0.5, nearest at floor((dst + 0.5) * in / out).
 *   It is computed with interpolation matrices (see `upscale` below for why).
 */
import { resizeWithPadGeometry } from '../../layers/upscale';
import { attr, Attribute } from '../model-proto';
import { OnnxValue } from '../graph-builder';
import { onlyInput, outputShape, requireChannelsLast, TranslationContext, Translator, Untranslatable } from './context';
import { pair } from './spatial';
import { permute } from './convolution';

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

/**
 * Interpolation weights of one axis, [outSize, inSize] row-major: output i = sum_k A[i][k] in[k].
 * Computed in float64 the way tfjs' cpu kernels compute their source coordinates
 * (half-pixel centres: src = (i + 0.5) * in / out, minus 0.5 for bilinear).
 */
export function interpolationMatrix(inSize: number, outSize: number, method: 'bilinear' | 'nearest'): Float32Array {
  const a = new Float64Array(outSize * inSize);
  const ratio = inSize / outSize;
  for (let i = 0; i < outSize; i++) {
    if (method === 'nearest') {
      const k = Math.max(0, Math.min(inSize - 1, Math.floor(ratio * (i + 0.5))));
      a[i * inSize + k] = 1;
    } else {
      const src = ratio * (i + 0.5) - 0.5;
      const lo = Math.max(0, Math.floor(src));
      const hi = Math.min(inSize - 1, Math.ceil(src));
      const frac = src - lo;
      a[i * inSize + lo] += 1 - frac;
      a[i * inSize + hi] += frac;
    }
  }
  return Float32Array.from(a);
}

/**
 * Upscale as two matrix products with precomputed interpolation weights, rows then columns:
 * y = A_h . x . A_w^T on each image and channel. ONNX Resize computes its source coordinates
 * in float32, which moves outputs by up to ~3e-6 (of inputs in [0, 1]); here each output
 * is two float32 products and a sum, as exact as tfjs' cpu kernel. The products cost about
 * 0.5% of DenseNet121's work.
 */
const upscale: Translator = (ctx) => {
  const x = imageInput(ctx);
  const [, height, width] = x.shape;
  if (height === null || width === null) throw new Untranslatable('its input height and width are not fixed');
  const method = ctx.config.method ?? 'bilinear';
  if (method !== 'bilinear' && method !== 'nearest') throw new Untranslatable(`method '${method}' is not supported`);
  const geometry = resizeWithPadGeometry(height, width, ctx.config.height, ctx.config.width);
  const g = ctx.graph;
  const name = ctx.layer.name;
  const rows = g.addWeight(`${name}/rows`, [geometry.resizedHeight, height], interpolationMatrix(height, geometry.resizedHeight, method));
  const columns = permute(interpolationMatrix(width, geometry.resizedWidth, method), [geometry.resizedWidth, width], [1, 0]);
  const columnsT = g.addWeight(`${name}/columns`, columns.shape, columns.values);
  const padded = geometry.padTop + geometry.padBottom + geometry.padLeft + geometry.padRight > 0;
  // [N, C, H, W] . [W, W'] -> [N, C, H, W'];  [H', H] . [N, C, H, W'] -> [N, C, H', W'].
  const wide = g.node('MatMul', [x.name, columnsT], {}, `${name}_columns`);
  let y = g.node('MatMul', [rows, wide], {}, padded ? `${name}_resized` : name);
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
