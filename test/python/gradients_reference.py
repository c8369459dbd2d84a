"""Reference gradients of Keras layers (TensorFlow semantics), computed in float64 with torch.

Usage: gradients_reference.py OUT_DIR CASES_JSON
CASES_JSON is the table of test/wasm-gradients.test.ts: a list of
{"name", "layer": {"kind", ...}, "inputs": [shape, ...], "values": "normal" | "integers" | "wide"}.

For each case this draws the inputs, the layer's weights (in the order and layout of the Keras
layer's get_weights()) and r, a random tensor of the output's shape, with numpy, and writes them
as float32 .npy files: <name>.x<i>.npy, <name>.w<i>.npy, <name>.r.npy. Then, from those same
float32 values in float64, it computes y = layer(x) and the gradients of sum(y * r) (so the
upstream gradient is r) with respect to every input and every trainable weight:
<name>.y.npy, <name>.grad.x<i>.npy, <name>.grad.w<i>.npy, and OUT_DIR/manifest.json:
{name: {"weights": n, "grads": ["x0", "w0", ...]}}.

Inputs are NHWC, as in Keras; torch works in NCHW, so each layer permutes around its torch call.
TensorFlow's padding="same" pads (total) // 2 before and the rest after
(https://www.tensorflow.org/api_docs/python/tf/nn#notes_on_padding_2), which torch's symmetric
`padding` argument cannot express: it is an explicit F.pad here
(https://pytorch.org/docs/stable/generated/torch.nn.functional.pad.html).
"""
import json
import os
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

DTYPE = torch.float64
# Keras' BatchNormalization epsilon (keras.layers.BatchNormalization(epsilon=1e-3)), as in tfjs.
BN_EPSILON = 1e-3


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def tf_padding(size, kernel, stride, dilation, padding):
    """(before, after) as TensorFlow pads one spatial axis."""
    if padding == 'valid':
        return 0, 0
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def nchw(x):
    return x.permute(0, 3, 1, 2)


def nhwc(x):
    return x.permute(0, 2, 3, 1)


def pad_like_tf(x_nchw, kernel, strides, dilations, padding, value=0.0):
    kh, kw = pair(kernel)
    sh, sw = pair(strides)
    dh, dw = pair(dilations)
    top, bottom = tf_padding(x_nchw.shape[2], kh, sh, dh, padding)
    left, right = tf_padding(x_nchw.shape[3], kw, sw, dw, padding)
    if top == bottom == left == right == 0:
        return x_nchw
    return F.pad(x_nchw, (left, right, top, bottom), value=value)


# --- Layers: for each kind, the weights it has (shape, trainable) and its forward pass. -------------

def conv2d_weights(s, shapes):
    kh, kw = pair(s['kernelSize'])
    w = [((kh, kw, shapes[0][-1], s['filters']), True)]
    return w + [((s['filters'],), True)] if s.get('useBias', True) else w


def conv2d(s, xs, ws):
    x = pad_like_tf(nchw(xs[0]), s['kernelSize'], s.get('strides', 1), s.get('dilationRate', 1), s['padding'])
    kernel = ws[0].permute(3, 2, 0, 1)  # HWIO -> OIHW
    bias = ws[1] if len(ws) > 1 else None
    return nhwc(F.conv2d(x, kernel, bias, stride=pair(s.get('strides', 1)), dilation=pair(s.get('dilationRate', 1))))


def depthwise_weights(s, shapes):
    kh, kw = pair(s['kernelSize'])
    m = s.get('depthMultiplier', 1)
    w = [((kh, kw, shapes[0][-1], m), True)]
    return w + [((shapes[0][-1] * m,), True)] if s.get('useBias', True) else w


def depthwise(s, xs, ws, with_bias=True):
    x = pad_like_tf(nchw(xs[0]), s['kernelSize'], s.get('strides', 1), s.get('dilationRate', 1), s['padding'])
    kh, kw, c, m = ws[0].shape
    # TF's depthwise output channel c * m + k comes from input channel c and multiplier k:
    # torch's grouped convolution with groups = c orders its outputs the same way.
    kernel = ws[0].permute(2, 3, 0, 1).reshape(c * m, 1, kh, kw)
    bias = ws[1] if with_bias and len(ws) > 1 else None
    y = F.conv2d(x, kernel, bias, stride=pair(s.get('strides', 1)), dilation=pair(s.get('dilationRate', 1)), groups=c)
    return nhwc(y)


def separable_weights(s, shapes):
    kh, kw = pair(s['kernelSize'])
    c = shapes[0][-1]
    m = s.get('depthMultiplier', 1)
    w = [((kh, kw, c, m), True), ((1, 1, c * m, s['filters']), True)]
    return w + [((s['filters'],), True)] if s.get('useBias', True) else w


def separable(s, xs, ws):
    # Keras' SeparableConv2D: depthwise (strides, padding, dilation), then a 1x1 convolution + bias.
    y = depthwise(s, xs, ws[:1], with_bias=False)
    bias = ws[2] if len(ws) > 2 else None
    return nhwc(F.conv2d(nchw(y), ws[1].permute(3, 2, 0, 1), bias))


def max_pooling(s, xs, ws):
    k, st = pair(s['poolSize']), pair(s.get('strides', s['poolSize']))
    # Padding never wins a maximum in TF: pad with -inf. On ties torch's max_pool2d, like TF's
    # MaxPoolGrad, gives the gradient to the first maximum of the window in row-major order.
    x = pad_like_tf(nchw(xs[0]), k, st, 1, s['padding'], value=float('-inf'))
    return nhwc(F.max_pool2d(x, k, st))


def average_pooling(s, xs, ws):
    k, st = pair(s['poolSize']), pair(s.get('strides', s['poolSize']))
    # TF averages over the window's positions inside the input only (padding is not counted):
    # the sum over the window divided by the number of real positions in it.
    x = pad_like_tf(nchw(xs[0]), k, st, 1, s['padding'])
    ones = pad_like_tf(torch.ones_like(nchw(xs[0])), k, st, 1, s['padding'])
    sums = F.avg_pool2d(x, k, st, divisor_override=1)
    counts = F.avg_pool2d(ones, k, st, divisor_override=1)
    return nhwc(sums / counts)


def batch_norm_weights(s, shapes):
    c = (shapes[0][-1],)
    # gamma, beta, moving_mean, moving_variance (Keras' get_weights() order).
    return [(c, True), (c, True), (c, False), (c, False)]


def batch_norm(s, xs, ws):
    gamma, beta, mean, variance = ws
    x = xs[0]
    flat = x.reshape(-1, x.shape[-1])  # channels last: statistics over every other axis
    if s['training']:
        # Batch statistics, variance with 1/n (Keras' and torch's training mode both use it).
        y = F.batch_norm(flat, None, None, gamma, beta, training=True, eps=BN_EPSILON)
    else:
        y = F.batch_norm(flat, mean, variance, gamma, beta, training=False, eps=BN_EPSILON)
    return y.reshape(x.shape)


def zero_padding(s, xs, ws):
    (top, bottom), (left, right) = s['padding']
    return nhwc(F.pad(nchw(xs[0]), (left, right, top, bottom)))


def dense_weights(s, shapes):
    return [((shapes[0][-1], s['units']), True), ((s['units'],), True)]


def dense(s, xs, ws):
    return xs[0] @ ws[0] + ws[1]


def activation(s, xs, ws):
    x = xs[0]
    return {
        'relu': torch.relu,
        'relu6': lambda t: torch.clamp(t, 0, 6),
        'elu': F.elu,
        'sigmoid': torch.sigmoid,
        'tanh': torch.tanh,
        'softmax': lambda t: torch.softmax(t, dim=-1),
        'swish': lambda t: t * torch.sigmoid(t),
    }[s['activation']](x)


def upscale_geometry(h, w, th, tw):
    """tf.image.resize_with_pad's sizes, in float32 as TF computes them (_resize_image_with_pad_common)."""
    f = np.float32
    ratio = max(f(w) / f(tw), f(h) / f(th))
    rhf, rwf = f(h) / ratio, f(w) / ratio
    rh, rw = int(np.floor(rhf)), int(np.floor(rwf))
    top = max(0, int(np.floor((f(th) - rhf) / f(2))))
    left = max(0, int(np.floor((f(tw) - rwf) / f(2))))
    return rh, rw, top, left


def upscale(s, xs, ws):
    x = xs[0]
    th, tw = s['height'], s['width']
    rh, rw, top, left = upscale_geometry(x.shape[1], x.shape[2], th, tw)
    # TF2 resize: half-pixel centres, no antialiasing = torch's align_corners=False, antialias=False.
    r = F.interpolate(nchw(x), size=(rh, rw), mode='bilinear', align_corners=False, antialias=False)
    return nhwc(F.pad(r, (left, tw - rw - left, top, th - rh - top)))


def normalization(s, xs, ws):
    mean = torch.tensor(s['mean'], dtype=DTYPE)
    return (xs[0] - mean) / torch.sqrt(torch.tensor(s['variance'], dtype=DTYPE))


LAYERS = {
    'conv2d': (conv2d_weights, conv2d),
    'depthwiseConv2d': (depthwise_weights, depthwise),
    'separableConv2d': (separable_weights, separable),
    'maxPooling2d': (None, max_pooling),
    'averagePooling2d': (None, average_pooling),
    'globalAveragePooling2d': (None, lambda s, xs, ws: xs[0].mean(dim=(1, 2))),
    'globalMaxPooling2d': (None, lambda s, xs, ws: xs[0].amax(dim=(1, 2))),
    'batchNormalization': (batch_norm_weights, batch_norm),
    'zeroPadding2d': (None, zero_padding),
    'concatenate': (None, lambda s, xs, ws: torch.cat(xs, dim=-1)),
    'add': (None, lambda s, xs, ws: xs[0] + xs[1]),
    'multiply': (None, lambda s, xs, ws: xs[0] * xs[1]),
    'dense': (dense_weights, dense),
    'flatten': (None, lambda s, xs, ws: xs[0].reshape(xs[0].shape[0], -1)),
    'reshape': (None, lambda s, xs, ws: xs[0].reshape(xs[0].shape[0], *s['targetShape'])),
    'activation': (None, activation),
    'rescaling': (None, lambda s, xs, ws: xs[0] * s['scale'] + s.get('offset', 0)),
    'normalization': (None, normalization),
    'upscale': (None, upscale),
}


def draw_input(rng, shape, values):
    if values == 'integers':
        # Few distinct values: max pooling windows hold ties.
        return rng.integers(-2, 3, size=shape).astype(np.float32)
    if values == 'wide':
        # Spread enough that relu6 clips at both ends.
        return rng.uniform(-4, 10, size=shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def draw_weight(rng, shape, index, spec):
    if spec['kind'] == 'batchNormalization':
        # gamma around 1, beta around 0, a moving mean away from the data's, a positive variance.
        return [rng.uniform(0.5, 1.5, shape), rng.uniform(-0.5, 0.5, shape),
                rng.uniform(-0.5, 0.5, shape), rng.uniform(0.5, 2.0, shape)][index].astype(np.float32)
    return rng.uniform(-1, 1, size=shape).astype(np.float32)


def run_case(out_dir, case):
    name, spec = case['name'], case['layer']
    # One seed per case name: adding a case leaves the others' numbers as they were.
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    weights_of, forward = LAYERS[spec['kind']]
    xs = [draw_input(rng, tuple(shape), case.get('values', 'normal')) for shape in case['inputs']]
    weight_specs = weights_of(spec, case['inputs']) if weights_of else []
    ws = [draw_weight(rng, shape, i, spec) for i, (shape, _) in enumerate(weight_specs)]
    tx = [torch.tensor(x, dtype=DTYPE, requires_grad=True) for x in xs]
    tw = [torch.tensor(w, dtype=DTYPE, requires_grad=trainable) for w, (_, trainable) in zip(ws, weight_specs)]
    y = forward(spec, tx, tw)
    r = rng.standard_normal(tuple(y.shape)).astype(np.float32)
    (y * torch.tensor(r, dtype=DTYPE)).sum().backward()

    def save(suffix, array):
        np.save(os.path.join(out_dir, f'{name}.{suffix}.npy'), np.ascontiguousarray(array, dtype=np.float32))

    grads = []
    for i, (x, t) in enumerate(zip(xs, tx)):
        save(f'x{i}', x)
        save(f'grad.x{i}', t.grad.numpy())
        grads.append(f'x{i}')
    for i, (w, t) in enumerate(zip(ws, tw)):
        save(f'w{i}', w)
        if t.requires_grad:
            save(f'grad.w{i}', t.grad.numpy())
            grads.append(f'w{i}')
    save('r', r)
    save('y', y.detach().numpy())
    return {'weights': len(ws), 'grads': grads}


def main(out_dir, cases_json):
    cases = json.loads(cases_json)
    manifest = {c['name']: run_case(out_dir, c) for c in cases}
    with open(os.path.join(out_dir, 'manifest.json'), 'w') as f:
        json.dump(manifest, f)


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
