/**
 * Window attributes (kernel, strides, dilations, pads) for ONNX Conv and pooling
 * nodes, with TensorFlow's padding semantics.
 *
 * TF 'same' pads so that out = ceil(in / stride), and puts the odd pixel of
 * padding at the END (bottom/right): pad_total = max((out - 1) * stride +
 * (k - 1) * dilation + 1 - in, 0), pad_before = floor(pad_total / 2).
 * (tensorflow/core/framework/kernel_shape_util.cc, GetWindowedOutputSize.)
 * ONNX's auto_pad SAME_UPPER is the same rule; explicit pads are used when
 * the input size is known, so nothing depends on how a runtime reads auto_pad.
 */
import { attr, Attribute } from '../model-proto';
import { Untranslatable } from './context';

export function pair(value: unknown, what: string): [number, number] {
  const v = typeof value === 'number' ? [value, value] : value;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((n) => Number.isInteger(n) && n > 0)) {
    throw new Untranslatable(`its ${what} ${JSON.stringify(value)} is not two positive integers`);
  }
  return [v[0], v[1]];
}

/** [before, after] padding of one spatial axis under TF's 'same' rule. */
export function samePadding(inSize: number, kernel: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + (kernel - 1) * dilation + 1 - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

export interface WindowOptions {
  kernel: [number, number];
  strides: [number, number];
  dilations?: [number, number];
  padding: string;
  /** Spatial size of the input (tfjs shape[1], shape[2]); null when unknown. */
  inHeight: number | null;
  inWidth: number | null;
}

/** kernel_shape, strides, (dilations), and pads or auto_pad for a Conv/MaxPool/AveragePool node. */
export function windowAttributes(o: WindowOptions): Record<string, Attribute> {
  const dilations = o.dilations ?? [1, 1];
  const attributes: Record<string, Attribute> = {
    kernel_shape: attr.ints(o.kernel),
    strides: attr.ints(o.strides),
  };
  if (o.dilations) attributes.dilations = attr.ints(dilations);
  if (o.padding === 'valid') {
    attributes.pads = attr.ints([0, 0, 0, 0]);
  } else if (o.padding === 'same') {
    if (o.inHeight === null || o.inWidth === null) {
      attributes.auto_pad = attr.string('SAME_UPPER');
    } else {
      const [top, bottom] = samePadding(o.inHeight, o.kernel[0], o.strides[0], dilations[0]);
      const [left, right] = samePadding(o.inWidth, o.kernel[1], o.strides[1], dilations[1]);
      attributes.pads = attr.ints([top, left, bottom, right]);
    }
  } else {
    throw new Untranslatable(`padding '${o.padding}' is not supported (only 'valid' and 'same')`);
  }
  return attributes;
}
