/**
 * Gradients of dilated convolutions, which TensorFlow.js 4.22 refuses ("dilation rates greater
 * than 1 are not yet supported in gradients") while Keras trains them.
 *
 * A convolution with dilation d equals an ordinary one whose filter has d - 1 zeros inserted
 * between its taps (the "à trous" filter; TensorFlow's atrous_conv2d rests on the same identity).
 * So for d > 1 the gradients are the ordinary ones of that expanded filter: the input gradient
 * as it is, the filter gradient read back at the taps that exist. For d = 1 tfjs' own gradient
 * functions run, unchanged. Registered on every backend.
 *
 * Keras' Conv2D in tfjs runs `tf.fused.conv2d` (convolution, bias and activation in one op). While
 * a gradient is recorded, tfjs splits it into its parts unless the activation is linear, the
 * default; the fused op keeps a gradient of its own, which refuses dilation too ("Error in gradient
 * of fused conv2D: dilation rates greater than 1 ..."). So a dilated fused convolution with a
 * linear activation is split as well while a gradient is recorded: the same numbers, and the
 * convolution's gradient is the one above.
 */
import * as tf from '@tensorflow/tfjs';

const PATCHED = Symbol.for('tslab-dl.dilatedConvGradients');

type Pair = [number, number];
interface ConvAttrs {
  strides: number | Pair;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dilations: number | Pair;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function pair(value: number | Pair | undefined): Pair {
  return Array.isArray(value) ? value : [value ?? 1, value ?? 1];
}

/** The filter [kh, kw, ...] with dilation - 1 zeros between its taps: [(kh-1)*dh+1, (kw-1)*dw+1, ...]. */
export function dilateFilter(filter: tf.Tensor4D, [dh, dw]: Pair): tf.Tensor4D {
  return tf.tidy(() => {
    const [kh, kw, a, b] = filter.shape;
    const spread = tf.pad(tf.reshape(filter, [kh, 1, kw, 1, a, b]), [
      [0, 0],
      [0, dh - 1],
      [0, 0],
      [0, dw - 1],
      [0, 0],
      [0, 0],
    ]);
    const full = tf.reshape(spread, [kh * dh, kw * dw, a, b]);
    return tf.slice(full, [0, 0, 0, 0], [(kh - 1) * dh + 1, (kw - 1) * dw + 1, a, b]) as tf.Tensor4D;
  });
}

/** The taps of an expanded filter's gradient that belong to the real filter. */
function undilate(gradient: tf.Tensor4D, [dh, dw]: Pair): tf.Tensor4D {
  const [h, w, a, b] = gradient.shape;
  return tf.stridedSlice(gradient, [0, 0, 0, 0], [h, w, a, b], [dh, dw, 1, 1]) as tf.Tensor4D;
}

type Gradients = { x: () => tf.Tensor4D; filter: () => tf.Tensor4D };

function withDilatedCase(
  kernelName: string,
  dilatedGradient: (dy: tf.Tensor4D, x: tf.Tensor4D, filter: tf.Tensor4D, attrs: ConvAttrs, d: Pair) => Gradients,
): void {
  const original = tf.getGradient(kernelName);
  if (!original) throw new Error(`tslab-dl: TensorFlow.js ${tf.version.tfjs} has no gradient for '${kernelName}' to extend.`);
  tf.registerGradient({
    ...original,
    gradFunc: (dy, saved, attrs) => {
      const a = attrs as unknown as ConvAttrs;
      const d = pair(a.dilations);
      if (d[0] === 1 && d[1] === 1) return original.gradFunc(dy, saved, attrs);
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      return dilatedGradient(dy as tf.Tensor4D, x, filter, a, d);
    },
  });
}

function conv2DDilated(dy: tf.Tensor4D, x: tf.Tensor4D, filter: tf.Tensor4D, a: ConvAttrs, d: Pair): Gradients {
  if (a.dataFormat === 'NCHW') throw new Error('tslab-dl: gradients of dilated convolutions support channels-last (NHWC) data only.');
  const strides = pair(a.strides);
  const pad = a.pad as 'valid' | 'same' | number;
  const shape = dilatedShape(filter, d);
  return {
    x: () => tf.conv2dTranspose(dy, dilateFilter(filter, d), x.shape, strides, pad, a.dimRoundingMode),
    filter: () =>
      undilate(
        tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
          strides,
          pad,
          dataFormat: 'NHWC',
          dimRoundingMode: a.dimRoundingMode,
          filterShape: shape,
        } as never) as tf.Tensor4D,
        d,
      ),
  };
}

function depthwiseDilated(dy: tf.Tensor4D, x: tf.Tensor4D, filter: tf.Tensor4D, a: ConvAttrs, d: Pair): Gradients {
  const common = { strides: pair(a.strides), pad: a.pad, dilations: [1, 1], dimRoundingMode: a.dimRoundingMode };
  return {
    x: () =>
      tf.engine().runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: dilateFilter(filter, d) }, {
        ...common,
        inputShape: x.shape,
      } as never) as tf.Tensor4D,
    filter: () =>
      undilate(
        tf.engine().runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, {
          ...common,
          filterShape: dilatedShape(filter, d),
        } as never) as tf.Tensor4D,
        d,
      ),
  };
}

function dilatedShape(filter: tf.Tensor4D, [dh, dw]: Pair): [number, number, number, number] {
  const [kh, kw, a, b] = filter.shape;
  return [(kh - 1) * dh + 1, (kw - 1) * dw + 1, a, b];
}

interface FusedArgs extends ConvAttrs {
  x: tf.Tensor4D;
  filter: tf.Tensor4D;
  bias?: tf.Tensor;
  activation?: string;
}
type FusedOp = (args: FusedArgs) => tf.Tensor4D;

/** `tf.fused[name]`, split into convolution and bias when dilated, linear and under a gradient tape. */
function splitWhenDilated(name: 'conv2d' | 'depthwiseConv2d'): void {
  const fused = tf.fused as unknown as Record<typeof name, FusedOp>;
  const original = fused[name];
  fused[name] = (args: FusedArgs) => {
    const d = pair(args.dilations);
    const linear = args.activation == null || args.activation === 'linear';
    // tfjs splits the other activations itself; NCHW is left to tfjs, which refuses it here.
    if ((d[0] === 1 && d[1] === 1) || !linear || (args.dataFormat ?? 'NHWC') !== 'NHWC' || tf.engine().state.gradientDepth === 0) {
      return original(args);
    }
    return tf.tidy(() => {
      const conv =
        name === 'conv2d'
          ? tf.conv2d(args.x, args.filter, args.strides, args.pad as never, 'NHWC', d, args.dimRoundingMode)
          : tf.depthwiseConv2d(args.x, args.filter, args.strides, args.pad as never, 'NHWC', d, args.dimRoundingMode);
      return args.bias == null ? conv : tf.add(conv, args.bias);
    });
  };
}

/** Extends tfjs' Conv2D and DepthwiseConv2dNative gradients to dilation rates above 1 (idempotent). */
export function applyDilatedConvGradients(): void {
  const registry = globalThis as unknown as Record<symbol, boolean>;
  if (registry[PATCHED]) return;
  withDilatedCase('Conv2D', conv2DDilated);
  withDilatedCase('DepthwiseConv2dNative', depthwiseDilated);
  splitWhenDilated('conv2d');
  splitWhenDilated('depthwiseConv2d');
  registry[PATCHED] = true;
}
