/**
 * DepthwiseConv2D with a dilation rate, as Keras computes it.
 *
 * tfjs-layers 4.22's DepthwiseConv2D.call passes no dilation to tf.depthwiseConv2d ("TODO(cais):
 * Add support for dilation"), so a layer built with `dilationRate: 2` silently computes an
 * undilated convolution (and, for 'valid' padding, a larger output than its declared shape).
 * Keras' DepthwiseConv2D passes `dilation_rate` to the convolution
 * (keras/src/layers/convolutional/base_depthwise_conv.py). The patched call does the same when the
 * rate is not 1; otherwise tfjs' own call runs.
 */
import * as tf from '@tensorflow/tfjs';
import { markOnce } from './markers';
import { prototypeOf } from './prototypes';

const PATCHED = Symbol.for('tslab-dl.depthwiseDilation');

interface DepthwiseLayer {
  dilationRate: number | number[];
  strides: number[];
  padding: 'valid' | 'same' | 'causal';
  dataFormat: 'channelsFirst' | 'channelsLast';
  useBias: boolean;
  depthwiseKernel: tf.LayerVariable;
  bias?: tf.LayerVariable;
  activation?: { apply(x: tf.Tensor): tf.Tensor };
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: unknown): tf.Tensor | tf.Tensor[];
}

function rates(layer: DepthwiseLayer): [number, number] {
  const d = layer.dilationRate;
  return Array.isArray(d) ? [d[0], d[1] ?? d[0]] : [d, d];
}

/** Applies the patch once per process (idempotent; lib/compat/install.ts calls it). */
export function applyDepthwiseDilation(): void {
  const proto = prototypeOf<DepthwiseLayer>(() => tf.layers.depthwiseConv2d({ kernelSize: 1, name: 'tslab_dl_probe_depthwise' }));
  if (!markOnce(proto, PATCHED)) return;
  const original = proto.call;
  proto.call = function (this: DepthwiseLayer, inputs, kwargs) {
    const dilation = rates(this);
    if (dilation[0] === 1 && dilation[1] === 1) return original.call(this, inputs, kwargs);
    return tf.tidy(() => {
      let x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      const channelsFirst = this.dataFormat === 'channelsFirst';
      if (channelsFirst) x = tf.transpose(x, [0, 2, 3, 1]);
      let y: tf.Tensor = tf.depthwiseConv2d(
        x,
        this.depthwiseKernel.read() as tf.Tensor4D,
        this.strides as [number, number],
        this.padding === 'same' ? 'same' : 'valid',
        'NHWC',
        dilation,
      );
      if (this.useBias && this.bias) y = tf.add(y, this.bias.read());
      if (this.activation) y = this.activation.apply(y);
      return channelsFirst ? tf.transpose(y, [0, 3, 1, 2]) : y;
    });
  };
}
