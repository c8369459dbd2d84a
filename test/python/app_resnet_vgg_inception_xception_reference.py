"""Independent references for ResNet50, VGG16, InceptionV3 and Xception as Keras 2 builds them.

Usage: app_resnet_vgg_inception_xception_reference.py MODEL OUT_DIR SIZE BATCH [--top] [--classes N]
           [--pooling max|avg] [--seed N] [--vlen] [--layers-only]
       app_resnet_vgg_inception_xception_reference.py --counts

MODEL is resnet50, vgg16, inception_v3 or xception. Writes into OUT_DIR:
- layers.json: Keras' model.layers for the model (name and weight names and shapes), in the order
  Keras puts them: the order of tf_keras' Functional._map_graph_network (layers by decreasing
  depth from the output, ties broken by the order a depth-first walk from the output first meets
  them), re-implemented here on a graph written from Keras' source (tf_keras/applications/*.py),
  with the names a fresh Keras session gives unnamed layers (conv2d, conv2d_1, ...);
- weights.h5: random weights in Keras 2's legacy HDF5 layout (what `model.save_weights('x.h5')`
  writes), written with h5py: layer_names in that order, one group per layer, weight_names,
  datasets at nested paths (/conv1_conv/conv1_conv/kernel:0);
- images.npy: BATCH random NHWC images, float32 in [0, 1), each with its own brightness and contrast;
- max.npy, avg.npy: global max / average pooled features of the last feature map;
- logits.npy, probs.npy (with --top): the classification top's output before and after its softmax.
Nothing but layers.json with --layers-only. The features come from an independent implementation
in float64, never from the Keras graph above:
- resnet50: torchvision's resnet50, with the stride of each down-sampling block moved from the 3x3
  to the first 1x1 convolution (torchvision is "v1.5", Keras' ResNet50 v1). Keras' convolutions
  have biases, torchvision's do not: a conv bias b followed by BatchNormalization equals no bias
  and a moving mean lowered by b, so the file gets a random b and moving_mean = torch mean + b.
  Keras pads the stem with ZeroPadding2D (0) before the max pool, torch with -inf: equal after the
  ReLU. BN epsilon set to Keras' 1.001e-5.
- vgg16: torchvision's vgg16 features; the top is torchvision's classifier applied in eval mode
  to torch's (C, H, W) flattening, with fc1's rows re-ordered to Keras' (H, W, C) flattening
  for the file (torchvision's AdaptiveAvgPool2d((7, 7)) is skipped: Keras has none).
- inception_v3: torchvision's inception_v3 (aux_logits off, no input transform), with Keras'
  `scale=False` BatchNormalization (gamma fixed at 1) and its 3x3 average pools made to ignore
  padded pixels (count_include_pad=False) as TF's 'same' pooling does.
- xception: torchvision has none: the network written with torch.nn.functional (TF 'same'
  padding by hand, -inf padding for max pooling, separable = depthwise grouped conv + 1x1).
`describe FILE.h5` prints what h5py reads in a Keras weights file (layer_names, weight names, shapes).
`preprocess MODE IN.npy OUT.npy` applies Keras' imagenet_utils.preprocess_input (numpy path) to an array.
--counts prints Keras' parameter counts derived from torchvision's models (parameters + BN moving
statistics + what Keras adds or drops) as JSON.
"""
import argparse
import json
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F
import torchvision

MODELS = ('resnet50', 'vgg16', 'inception_v3', 'xception')
# The unnamed global pooling layers of Keras' VGG16, InceptionV3 and Xception, in a fresh session.
KERAS_POOLING_NAMES = {'avg': 'global_average_pooling2d', 'max': 'global_max_pooling2d'}


# ---- Keras' graph and layer order ------------------------------------------------------------

class KerasGraph:
    """Layers as Keras creates them: name, input layer names, weights [(short name, HWIO array)]."""

    def __init__(self):
        self.layers = {}
        self.counts = {}
        self.add('input_1', [])

    def auto(self, prefix):
        """Keras' name for an unnamed layer in a fresh session: conv2d, conv2d_1, conv2d_2, ..."""
        n = self.counts.get(prefix, 0)
        self.counts[prefix] = n + 1
        return prefix if n == 0 else f'{prefix}_{n}'

    def add(self, name, inputs, weights=()):
        assert name not in self.layers, name
        self.layers[name] = {'inputs': list(inputs), 'weights': list(weights)}
        return name

    def keras_order(self, output):
        """tf_keras functional._map_graph_network: by decreasing depth, ties by first DFS visit."""
        indices, post_order, finished = {}, [], set()

        def build(name):
            if name in finished:
                return
            indices.setdefault(name, len(indices))
            for parent in self.layers[name]['inputs']:
                build(parent)
            finished.add(name)
            post_order.append(name)

        build(output)
        depths = {}
        for name in reversed(post_order):
            depth = depths.setdefault(name, 0)
            for parent in self.layers[name]['inputs']:
                depths[parent] = max(depth + 1, depths.get(parent, 0))
        return sorted(post_order, key=lambda n: (-depths[n], indices[n]))


def hwio(conv_weight):
    """torch OIHW -> Keras HWIO."""
    return conv_weight.detach().double().numpy().transpose(2, 3, 1, 0)


def vec(t):
    return t.detach().double().numpy()


def randomize_bn(model, rng_seed, eps=None, unit_gamma=False):
    gen = torch.Generator().manual_seed(rng_seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                if eps is not None:
                    m.eps = eps
                n = m.num_features
                m.weight.copy_(torch.ones(n) if unit_gamma else torch.rand(n, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)


def bn_weights(bn, scale=True, mean_shift=None):
    mean = vec(bn.running_mean) + (0 if mean_shift is None else mean_shift)
    weights = [('gamma', vec(bn.weight))] if scale else []
    return weights + [('beta', vec(bn.bias)), ('moving_mean', mean), ('moving_variance', vec(bn.running_var))]


# ---- ResNet50 --------------------------------------------------------------------------------

def resnet50(args):
    torch.manual_seed(args.seed)
    model = torchvision.models.resnet50(weights=None, num_classes=args.classes)
    for stage in (model.layer2, model.layer3, model.layer4):
        # Keras' ResNet50 (v1): the stride on the first 1x1 convolution, not on the 3x3.
        stage[0].conv1.stride = (2, 2)
        stage[0].conv2.stride = (1, 1)
    randomize_bn(model, args.seed, eps=1.001e-5)
    with torch.no_grad():
        model.fc.bias.normal_(0, 0.1)
    model.eval()
    rng = np.random.default_rng(args.seed)
    g = KerasGraph()

    def conv_bn(x, conv_name, bn_name, conv, bn):
        bias = rng.normal(0, 0.1, conv.out_channels)
        x = g.add(conv_name, [x], [('kernel', hwio(conv.weight)), ('bias', bias)])
        return g.add(bn_name, [x], bn_weights(bn, mean_shift=bias))

    x = g.add('conv1_pad', ['input_1'])
    x = conv_bn(x, 'conv1_conv', 'conv1_bn', model.conv1, model.bn1)
    x = g.add('conv1_relu', [x])
    x = g.add('pool1_pad', [x])
    x = g.add('pool1_pool', [x])
    for s, stage in enumerate([model.layer1, model.layer2, model.layer3, model.layer4]):
        for i, block in enumerate(stage):
            p = f'conv{s + 2}_block{i + 1}'
            shortcut = x
            if block.downsample is not None:
                shortcut = conv_bn(x, f'{p}_0_conv', f'{p}_0_bn', block.downsample[0], block.downsample[1])
            y = conv_bn(x, f'{p}_1_conv', f'{p}_1_bn', block.conv1, block.bn1)
            y = g.add(f'{p}_1_relu', [y])
            y = conv_bn(y, f'{p}_2_conv', f'{p}_2_bn', block.conv2, block.bn2)
            y = g.add(f'{p}_2_relu', [y])
            y = conv_bn(y, f'{p}_3_conv', f'{p}_3_bn', block.conv3, block.bn3)
            x = g.add(f'{p}_add', [shortcut, y])
            x = g.add(f'{p}_out', [x])

    def features(images):
        m = model
        x = m.maxpool(m.relu(m.bn1(m.conv1(images))))
        return m.layer4(m.layer3(m.layer2(m.layer1(x))))

    return g, x, features, model.fc, {'avg': 'avg_pool', 'max': 'max_pool'}


# ---- VGG16 -----------------------------------------------------------------------------------

def vgg16(args):
    torch.manual_seed(args.seed)
    model = torchvision.models.vgg16(weights=None, num_classes=args.classes)
    side = args.size
    for _ in range(5):
        side //= 2
    # Keras' fc1 sees the flattened last feature map (no adaptive pooling to 7x7).
    model.classifier[0] = torch.nn.Linear(512 * side * side, 4096)
    with torch.no_grad():
        for m in model.classifier:
            if isinstance(m, torch.nn.Linear):
                m.bias.normal_(0, 0.1)
        for m in model.features:
            if isinstance(m, torch.nn.Conv2d):
                m.bias.normal_(0, 0.1)
    model.eval()
    g = KerasGraph()
    x = 'input_1'
    convs = iter(m for m in model.features if isinstance(m, torch.nn.Conv2d))
    for b, n in enumerate([2, 2, 3, 3, 3]):
        for i in range(n):
            conv = next(convs)
            x = g.add(f'block{b + 1}_conv{i + 1}', [x], [('kernel', hwio(conv.weight)), ('bias', vec(conv.bias))])
        x = g.add(f'block{b + 1}_pool', [x])

    def features(images):
        return model.features(images)

    def top(x):
        fc1, fc2, fc3 = model.classifier[0], model.classifier[3], model.classifier[6]
        # torch flattens (C, H, W); the file holds fc1's rows in Keras' (H, W, C) order.
        rows = vec(fc1.weight).reshape(4096, 512, side, side).transpose(2, 3, 1, 0).reshape(-1, 4096)
        g.add('flatten', [x])
        g.add('fc1', ['flatten'], [('kernel', rows), ('bias', vec(fc1.bias))])
        g.add('fc2', ['fc1'], [('kernel', vec(fc2.weight).T), ('bias', vec(fc2.bias))])
        return g.add('predictions', ['fc2'], [('kernel', vec(fc3.weight).T), ('bias', vec(fc3.bias))])

    def top_forward(feature_map):
        return model.classifier(torch.flatten(feature_map, 1))

    return g, x, features, (top, top_forward), KERAS_POOLING_NAMES


# ---- InceptionV3 -----------------------------------------------------------------------------

def inception_v3(args):
    torch.manual_seed(args.seed)
    model = torchvision.models.inception_v3(weights=None, aux_logits=False, transform_input=False,
                                            init_weights=True, num_classes=args.classes)
    randomize_bn(model, args.seed, eps=1e-3, unit_gamma=True)  # Keras: BatchNormalization(scale=False)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                # Variance 2 / fan_in keeps the activations near 1 through the 94 ReLU layers.
                fan_in = m.weight[0].numel()
                m.weight.normal_(0, np.sqrt(2 / fan_in))
    with torch.no_grad():
        model.fc.bias.normal_(0, 0.1)
    model.eval()
    g = KerasGraph()

    def conv_bn(x, basic):
        x = g.add(g.auto('conv2d'), [x], [('kernel', hwio(basic.conv.weight))])
        x = g.add(g.auto('batch_normalization'), [x], bn_weights(basic.bn, scale=False))
        return g.add(g.auto('activation'), [x])

    def concat(xs, name=None):
        return g.add(name or g.auto('concatenate'), xs)

    x = conv_bn('input_1', model.Conv2d_1a_3x3)
    x = conv_bn(x, model.Conv2d_2a_3x3)
    x = conv_bn(x, model.Conv2d_2b_3x3)
    x = g.add(g.auto('max_pooling2d'), [x])
    x = conv_bn(x, model.Conv2d_3b_1x1)
    x = conv_bn(x, model.Conv2d_4a_3x3)
    x = g.add(g.auto('max_pooling2d'), [x])
    for i, m in enumerate([model.Mixed_5b, model.Mixed_5c, model.Mixed_5d]):
        b1 = conv_bn(x, m.branch1x1)
        b5 = conv_bn(conv_bn(x, m.branch5x5_1), m.branch5x5_2)
        b3 = conv_bn(conv_bn(conv_bn(x, m.branch3x3dbl_1), m.branch3x3dbl_2), m.branch3x3dbl_3)
        bp = conv_bn(g.add(g.auto('average_pooling2d'), [x]), m.branch_pool)
        x = concat([b1, b5, b3, bp], f'mixed{i}')
    m = model.Mixed_6a
    b3 = conv_bn(x, m.branch3x3)
    bd = conv_bn(conv_bn(conv_bn(x, m.branch3x3dbl_1), m.branch3x3dbl_2), m.branch3x3dbl_3)
    x = concat([b3, bd, g.add(g.auto('max_pooling2d'), [x])], 'mixed3')
    for i, m in enumerate([model.Mixed_6b, model.Mixed_6c, model.Mixed_6d, model.Mixed_6e]):
        b1 = conv_bn(x, m.branch1x1)
        b7 = conv_bn(conv_bn(conv_bn(x, m.branch7x7_1), m.branch7x7_2), m.branch7x7_3)
        bd = x
        for k in range(1, 6):
            bd = conv_bn(bd, getattr(m, f'branch7x7dbl_{k}'))
        bp = conv_bn(g.add(g.auto('average_pooling2d'), [x]), m.branch_pool)
        x = concat([b1, b7, bd, bp], f'mixed{4 + i}')
    m = model.Mixed_7a
    b3 = conv_bn(conv_bn(x, m.branch3x3_1), m.branch3x3_2)
    b7 = x
    for k in range(1, 5):
        b7 = conv_bn(b7, getattr(m, f'branch7x7x3_{k}'))
    x = concat([b3, b7, g.add(g.auto('max_pooling2d'), [x])], 'mixed8')
    for i, m in enumerate([model.Mixed_7b, model.Mixed_7c]):
        b1 = conv_bn(x, m.branch1x1)
        b3 = conv_bn(x, m.branch3x3_1)
        b3 = concat([conv_bn(b3, m.branch3x3_2a), conv_bn(b3, m.branch3x3_2b)], f'mixed9_{i}')
        bd = conv_bn(conv_bn(x, m.branch3x3dbl_1), m.branch3x3dbl_2)
        bd = concat([conv_bn(bd, m.branch3x3dbl_3a), conv_bn(bd, m.branch3x3dbl_3b)])
        bp = conv_bn(g.add(g.auto('average_pooling2d'), [x]), m.branch_pool)
        x = concat([b1, b3, bd, bp], f'mixed{9 + i}')

    def features(images):
        original = F.avg_pool2d

        def tf_same_avg_pool(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
            # TF 'same' average pooling divides by the number of real pixels in each window.
            return original(x, kernel_size, stride, padding, ceil_mode, False, divisor_override)

        F.avg_pool2d = tf_same_avg_pool
        try:
            m = model
            x = m.maxpool1(m.Conv2d_2b_3x3(m.Conv2d_2a_3x3(m.Conv2d_1a_3x3(images))))
            x = m.maxpool2(m.Conv2d_4a_3x3(m.Conv2d_3b_1x1(x)))
            for block in [m.Mixed_5b, m.Mixed_5c, m.Mixed_5d, m.Mixed_6a, m.Mixed_6b, m.Mixed_6c, m.Mixed_6d,
                          m.Mixed_6e, m.Mixed_7a, m.Mixed_7b, m.Mixed_7c]:
                x = block(x)
            return x
        finally:
            F.avg_pool2d = original

    return g, x, features, model.fc, KERAS_POOLING_NAMES


# ---- Xception --------------------------------------------------------------------------------

def tf_same_pad(x, kernel, stride, value=0.0):
    """TF 'same' padding of an NCHW tensor: the odd pixel goes at the end (bottom/right)."""
    pads = []
    for size in (x.shape[3], x.shape[2]):  # F.pad wants the last axis first
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value)


def xception(args):
    rng = np.random.default_rng(args.seed)
    g = KerasGraph()
    params = {}

    def glorot(shape, fan_in, fan_out):
        limit = np.sqrt(6 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape)

    def bn(x, name=None):
        name = name or g.auto('batch_normalization')
        c = params[x]['channels']
        w = [('gamma', rng.uniform(0.5, 1.5, c)), ('beta', rng.normal(0, 0.1, c)),
             ('moving_mean', rng.normal(0, 0.1, c)), ('moving_variance', rng.uniform(0.5, 1.5, c))]
        params[g.add(name, [x], w)] = {'kind': 'bn', 'channels': c, 'w': dict(w)}
        return name

    def conv(x, filters, k, stride, padding, name=None):
        name = name or g.auto('conv2d')
        c = params[x]['channels']
        kernel = glorot((k, k, c, filters), k * k * c, k * k * filters)
        g.add(name, [x], [('kernel', kernel)])
        params[name] = {'kind': 'conv', 'channels': filters, 'kernel': kernel, 'stride': stride, 'padding': padding}
        return name

    def sepconv(x, filters, name):
        c = params[x]['channels']
        depthwise = glorot((3, 3, c, 1), 9, 9)
        pointwise = glorot((1, 1, c, filters), c, filters)
        g.add(name, [x], [('depthwise_kernel', depthwise), ('pointwise_kernel', pointwise)])
        params[name] = {'kind': 'sep', 'channels': filters, 'depthwise': depthwise, 'pointwise': pointwise}
        return bn(name, f'{name}_bn')

    def relu(x, name):
        params[g.add(name, [x])] = {'kind': 'relu', 'channels': params[x]['channels']}
        return name

    def add(a, b):
        name = g.add(g.auto('add'), [a, b])
        params[name] = {'kind': 'add', 'channels': params[a]['channels']}
        return name

    def pool(x, name):
        params[g.add(name, [x])] = {'kind': 'pool', 'channels': params[x]['channels']}
        return name

    params['input_1'] = {'kind': 'input', 'channels': 3}
    x = conv('input_1', 32, 3, 2, 'valid', 'block1_conv1')
    x = relu(bn(x, 'block1_conv1_bn'), 'block1_conv1_act')
    x = conv(x, 64, 3, 1, 'valid', 'block1_conv2')
    x = relu(bn(x, 'block1_conv2_bn'), 'block1_conv2_act')

    def down(x, block, f1, f2, first_relu):
        residual = bn(conv(x, f2, 1, 2, 'same'))
        if first_relu:
            x = relu(x, f'block{block}_sepconv1_act')
        x = sepconv(x, f1, f'block{block}_sepconv1')
        x = relu(x, f'block{block}_sepconv2_act')
        x = sepconv(x, f2, f'block{block}_sepconv2')
        return add(pool(x, f'block{block}_pool'), residual)

    x = down(x, 2, 128, 128, False)
    x = down(x, 3, 256, 256, True)
    x = down(x, 4, 728, 728, True)
    for block in range(5, 13):
        residual = x
        for i in range(1, 4):
            x = sepconv(relu(x, f'block{block}_sepconv{i}_act'), 728, f'block{block}_sepconv{i}')
        x = add(x, residual)
    x = down(x, 13, 728, 1024, True)
    x = relu(sepconv(x, 1536, 'block14_sepconv1'), 'block14_sepconv1_act')
    x = relu(sepconv(x, 2048, 'block14_sepconv2'), 'block14_sepconv2_act')
    last = x

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a)).double()

    def features(images):
        """The graph evaluated with torch.nn.functional, layer by layer in creation order."""
        values = {'input_1': images}
        for name, layer in g.layers.items():
            if name == 'input_1':
                continue
            p = params[name]
            ins = [values[i] for i in layer['inputs']]
            v = ins[0]
            if p['kind'] == 'conv':
                k = p['kernel'].shape[0]
                if p['padding'] == 'same':
                    v = tf_same_pad(v, k, p['stride'])
                v = F.conv2d(v, t(p['kernel'].transpose(3, 2, 0, 1)), stride=p['stride'])
            elif p['kind'] == 'sep':
                c = v.shape[1]
                v = F.conv2d(tf_same_pad(v, 3, 1), t(p['depthwise'].transpose(2, 3, 0, 1)), groups=c)
                v = F.conv2d(v, t(p['pointwise'].transpose(3, 2, 0, 1)))
            elif p['kind'] == 'bn':
                w = p['w']
                v = F.batch_norm(v, t(w['moving_mean']), t(w['moving_variance']), t(w['gamma']), t(w['beta']),
                                 training=False, eps=1e-3)
            elif p['kind'] == 'relu':
                v = F.relu(v)
            elif p['kind'] == 'pool':
                v = F.max_pool2d(tf_same_pad(v, 3, 2, value=-np.inf), 3, 2)
            elif p['kind'] == 'add':
                v = ins[0] + ins[1]
            values[name] = v
            if name == last:
                return v
        raise AssertionError('unreachable')

    fc = torch.nn.Linear(2048, args.classes).double()
    torch.manual_seed(args.seed)
    with torch.no_grad():
        fc.weight.uniform_(-0.05, 0.05)
        fc.bias.normal_(0, 0.1)
    return g, x, features, fc, KERAS_POOLING_NAMES


# ---- Writing ---------------------------------------------------------------------------------

def string_attr(group, name, values, vlen):
    if not values:
        group.attrs[name] = np.asarray([])  # what Keras writes for a layer without weights
    elif vlen:
        group.attrs.create(name, values, dtype=h5py.string_dtype('utf-8'))
    else:
        group.attrs[name] = np.asarray([v.encode('utf8') for v in values])  # fixed-length, as Keras


def write_h5(path, graph, order, vlen):
    with h5py.File(path, 'w') as f:
        string_attr(f, 'layer_names', order, vlen)
        f.attrs['backend'] = b'tensorflow'
        f.attrs['keras_version'] = b'2.15.0'
        for name in order:
            group = f.create_group(name)
            weights = graph.layers[name]['weights']
            string_attr(group, 'weight_names', [f'{name}/{w}:0' for w, _ in weights], vlen)
            for w, value in weights:
                group.create_dataset(f'{name}/{w}:0', data=np.asarray(value, dtype=np.float32))


def add_top(graph, x, head):
    if isinstance(head, tuple):  # VGG16's flatten + fc1 + fc2 + predictions
        return head[0](x)
    graph.add('avg_pool', [x])
    return graph.add('predictions', ['avg_pool'], [('kernel', vec(head.weight).T), ('bias', vec(head.bias))])


def keras_preprocess(x, mode):
    """keras.applications.imagenet_utils.preprocess_input on a float32 numpy array (channels last),
    numpy operations in Keras' order: 'tf' x / 127.5 - 1; 'caffe' RGB -> BGR then minus the BGR
    mean pixel, channel by channel; 'torch' x / 255, then minus mean, divided by std per channel."""
    x = np.array(x, dtype=np.float32)
    if mode == 'tf':
        x /= 127.5
        x -= 1.0
        return x
    if mode == 'torch':
        x /= 255.0
        mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    else:
        x = x[..., ::-1].copy()
        mean, std = [103.939, 116.779, 123.68], None
    for c in range(3):
        x[..., c] -= mean[c]
        if std is not None:
            x[..., c] /= std[c]
    return x


def describe_h5(path):
    """What h5py reads in a Keras weights file: layer_names, and each layer's weight names and shapes."""
    def strings(value):
        return [v.decode('utf8') if isinstance(v, bytes) else str(v) for v in np.atleast_1d(value)] if np.size(value) else []

    with h5py.File(path, 'r') as f:
        names = strings(f.attrs['layer_names'])
        return {'layer_names': names, 'layers': {n: [[w, list(f[n][w].shape), str(f[n][w].dtype)] for w in strings(f[n].attrs['weight_names'])] for n in names}}


def main():
    if len(sys.argv) == 3 and sys.argv[1] == 'describe':
        print(json.dumps(describe_h5(sys.argv[2])))
        return
    if len(sys.argv) == 5 and sys.argv[1] == 'preprocess':
        _, _, mode, source, target = sys.argv
        np.save(target, keras_preprocess(np.load(source), mode))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument('model', nargs='?', choices=MODELS)
    parser.add_argument('out_dir', nargs='?')
    parser.add_argument('size', nargs='?', type=int)
    parser.add_argument('batch', nargs='?', type=int)
    parser.add_argument('--top', action='store_true')
    parser.add_argument('--classes', type=int, default=1000)
    parser.add_argument('--seed', type=int, default=50)
    parser.add_argument('--vlen', action='store_true')
    parser.add_argument('--pooling', choices=('avg', 'max'), default='max', help='the pooling layer without --top')
    parser.add_argument('--layers-only', action='store_true')
    parser.add_argument('--counts', action='store_true')
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.counts:
        print(json.dumps(torchvision_counts()))
        return
    args.size = args.size or 75
    graph, last, features, head, pool_names = globals()[args.model](args)
    output = add_top(graph, last, head) if args.top else graph.add(pool_names[args.pooling], [last])
    order = graph.keras_order(output)
    layers = [{'name': n, 'weights': [[f'{n}/{w}:0', list(np.shape(v))] for w, v in graph.layers[n]['weights']]} for n in order]
    with open(os.path.join(args.out_dir, 'layers.json'), 'w') as f:
        json.dump(layers, f)
    if args.layers_only:
        return
    write_h5(os.path.join(args.out_dir, 'weights.h5'), graph, order, args.vlen)

    rng = np.random.default_rng(args.seed)
    # Each image with its own brightness and contrast, so the features differ from image to image.
    gain = rng.uniform(0.3, 1, size=(args.batch, 1, 1, 1))
    offset = rng.uniform(0, 1 - gain)
    images = (offset + gain * rng.uniform(0, 1, size=(args.batch, args.size, args.size, 3))).astype(np.float32)
    np.save(os.path.join(args.out_dir, 'images.npy'), images)
    torch_head = head[1] if isinstance(head, tuple) else head.double()
    double_models(features)
    with torch.no_grad():
        x = torch.from_numpy(images.astype(np.float64)).permute(0, 3, 1, 2)
        fmap = features(x)
        np.save(os.path.join(args.out_dir, 'max.npy'), fmap.amax(dim=(2, 3)).numpy().astype(np.float32))
        np.save(os.path.join(args.out_dir, 'avg.npy'), fmap.mean(dim=(2, 3)).numpy().astype(np.float32))
        if args.top:
            logits = torch_head(fmap) if isinstance(head, tuple) else torch_head(fmap.mean(dim=(2, 3)))
            np.save(os.path.join(args.out_dir, 'logits.npy'), logits.numpy().astype(np.float32))
            np.save(os.path.join(args.out_dir, 'probs.npy'), torch.softmax(logits, dim=1).numpy().astype(np.float32))


def double_models(features):
    """Runs every torch module the reference closes over in float64 (more exact than float32)."""
    for cell in features.__closure__ or []:
        value = cell.cell_contents
        if isinstance(value, torch.nn.Module):
            value.double()


def torchvision_counts():
    """Keras' parameter counts (with / without top, 1000 classes) from torchvision's models."""
    def size(tensors):
        return int(sum(t.numel() for t in tensors))

    def bn_stats(model):
        return size(t for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) for t in (m.running_mean, m.running_var))

    counts = {}
    r = torchvision.models.resnet50(weights=None)
    conv_biases = sum(m.out_channels for m in r.modules() if isinstance(m, torch.nn.Conv2d))
    top = size(r.parameters()) + bn_stats(r) + conv_biases  # Keras' ResNet convolutions have biases
    counts['ResNet50'] = {'top': top, 'notop': top - size(r.fc.parameters()), 'nonTrainable': bn_stats(r)}
    v = torchvision.models.vgg16(weights=None)  # at 224x224 the adaptive pool is the identity
    counts['VGG16'] = {'top': size(v.parameters()), 'notop': size(v.features.parameters()), 'nonTrainable': 0}
    i = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False)
    gammas = size(m.weight for m in i.modules() if isinstance(m, torch.nn.BatchNorm2d))
    top = size(i.parameters()) - gammas + bn_stats(i)  # Keras: BatchNormalization(scale=False)
    counts['InceptionV3'] = {'top': top, 'notop': top - size(i.fc.parameters()), 'nonTrainable': bn_stats(i)}
    return counts


if __name__ == '__main__':
    main()
