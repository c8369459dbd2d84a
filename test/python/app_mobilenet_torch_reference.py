"""An independent MobileNetV2 reference: torchvision's implementation with random weights.

Usage:
  app_mobilenet_torch_reference.py OUT_DIR SIZE BATCH [--alpha A] [--top] [--vlen] [--seed S]
  app_mobilenet_torch_reference.py counts       print torchvision's parameter counts per alpha (JSON)

Writes into OUT_DIR:
- weights.h5: torchvision's weights in Keras 2's legacy HDF5 layout, as
  `model.save_weights('x.h5')` writes it for keras.applications.MobileNetV2 (h5py): every Keras
  layer name in `layer_names` (Keras' model.layers order), one group per layer, `weight_names`,
  datasets at nested paths such as /Conv1/Conv1/kernel:0. `--vlen`: variable-length strings.
- images.npy: BATCH random NHWC images in [-1, 1) (the range "tf" preprocessing gives), float32;
- avg.npy, max.npy: the pooled features (global average / max of features(x), which ends with ReLU6);
- probs.npy (with --top): softmax(classifier(avg)), Keras' MobileNetV2 with its top.
The reference runs in float64, so it is more exact than either float32 implementation.

Weights: torchvision's random kernels, random BN gamma/beta, and BN moving statistics calibrated
on other random images (the moments of each BN's input). With arbitrary statistics a random
MobileNetV2 saturates its ReLU6 or goes dead (the same features for every image: any two
implementations would agree); calibrated, the features vary across images (and torch's own
float32 run stays within 1e-5 of float64).

Keras and torchvision build the same network (same blocks, widths for every alpha, ReLU6, no
bias in the convolutions). Two known differences are removed here so that both compute the same:
- BatchNormalization epsilon: Keras 1e-3, torch 1e-5 -> set to 1e-3.
- Stride-2 convolutions: Keras pads TF-'same' (Conv1 padding='same'; ZeroPadding2D(correct_pad)
  before the stride-2 depthwise convs), i.e. for an even input 0 rows/columns before and 1 after;
  torch pads 1 on each side. Here every stride-2 conv pads TF-'same' instead (a forward pre-hook).
Name map (torchvision -> Keras 2): features.0 -> Conv1/bn_Conv1; features.1 (expansion 1) ->
expanded_conv_{depthwise,depthwise_BN,project,project_BN}; features.k (k = 2..17) -> block_{k-1}_
{expand,expand_BN,depthwise,depthwise_BN,project,project_BN}; features.18 -> Conv_1/Conv_1_bn;
classifier.1 -> predictions. Layouts: conv OIHW -> HWIO; depthwise (C, 1, kh, kw) -> (kh, kw, C, 1);
Linear (out, in) -> (in, out).
"""
import argparse
import json
import math
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F
import torchvision

ALPHAS = [0.35, 0.5, 0.75, 1.0, 1.3, 1.4]
EPSILON = 1e-3
# (filters, stride, expansion) of Keras' blocks 0..16.
BLOCKS = [(16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6), (64, 2, 6), (64, 1, 6), (64, 1, 6),
          (64, 1, 6), (96, 1, 6), (96, 1, 6), (96, 1, 6), (160, 2, 6), (160, 1, 6), (160, 1, 6), (320, 1, 6)]


# --- Keras 2 legacy HDF5 layout (shared with app_efficientnet_torch_reference.py) -------------

def string_attr(group, name, values, vlen):
    if not values:
        group.attrs[name] = np.asarray([])  # what Keras writes for a layer without weights
    elif vlen:
        group.attrs.create(name, values, dtype=h5py.string_dtype('utf-8'))
    else:
        group.attrs[name] = np.asarray([v.encode('utf8') for v in values])  # fixed-length, as Keras writes


def write_keras_h5(path, layers, vlen=False):
    """layers: [(layer name, [(weight name, numpy array)])] in Keras' model.layers order."""
    with h5py.File(path, 'w') as f:
        string_attr(f, 'layer_names', [name for name, _ in layers], vlen)
        f.attrs['backend'] = b'tensorflow'
        f.attrs['keras_version'] = b'2.15.0'
        for name, weights in layers:
            g = f.create_group(name)
            string_attr(g, 'weight_names', [w for w, _ in weights], vlen)
            for weight_name, value in weights:
                g.create_dataset(weight_name, data=value)


def write_flat(out_dir, layers):
    """The same weights as weights_flat.npy (float32, concatenated in Keras' load order) plus
    weights_index.json ([{layer, name, shape}]), for loading them without an HDF5 reader."""
    index, parts = [], []
    for layer, weights in layers:
        for name, value in weights:
            index.append({'layer': layer, 'name': name, 'shape': list(np.shape(value))})
            parts.append(np.asarray(value, dtype=np.float32).ravel())
    np.save(os.path.join(out_dir, 'weights_flat.npy'), np.concatenate(parts))
    with open(os.path.join(out_dir, 'weights_index.json'), 'w') as f:
        json.dump(index, f)


def to_numpy(t):
    return t.detach().cpu().numpy().astype(np.float32)


def conv_kernel(conv):
    return to_numpy(conv.weight).transpose(2, 3, 1, 0)  # OIHW -> HWIO


def depthwise_kernel(conv):
    return to_numpy(conv.weight).transpose(2, 3, 0, 1)  # (C, 1, kh, kw) -> (kh, kw, C, 1)


def bn_weights(name, bn):
    return [(f'{name}/gamma:0', to_numpy(bn.weight)), (f'{name}/beta:0', to_numpy(bn.bias)),
            (f'{name}/moving_mean:0', to_numpy(bn.running_mean)), (f'{name}/moving_variance:0', to_numpy(bn.running_var))]


def randomize_bn(model, seed):
    """Random BN parameters and statistics (a fresh model's 1/0 would hide mix-ups), Keras' epsilon."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eps = EPSILON
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
            elif isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and m.bias is not None:
                m.bias.normal_(0, 0.1)


def calibrate_bn(model, images):
    """BN moving statistics = the moments of each BN's input on `images` (NHWC numpy)."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in model.modules():
        m.training = m in bns  # only BN in training mode (no stochastic depth, no dropout)
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: after one batch, the batch's moments
    with torch.no_grad():
        model.features(torch.from_numpy(images).permute(0, 3, 1, 2))
    model.eval()


def tf_same_padding(model):
    """Makes every stride-2 convolution pad as TF's 'same' does (more after than before when uneven)."""
    def hook(conv, inputs):
        x = inputs[0]
        pads = []
        for size, k, s in zip(x.shape[2:], conv.kernel_size, conv.stride):
            out = math.ceil(size / s)
            total = max((out - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        return (F.pad(x, (left, right, top, bottom)),)

    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d) and tuple(m.stride) == (2, 2):
            m.padding = (0, 0)
            m.register_forward_pre_hook(hook)


# --- MobileNetV2 -------------------------------------------------------------------------------

def keras_layers(model, top, pooling=None):
    """Keras 2's MobileNetV2 layers in model.layers order, with torchvision's weights."""
    f = model.features
    layers = [('input_1', []), ('Conv1', [('Conv1/kernel:0', conv_kernel(f[0][0]))]), ('bn_Conv1', bn_weights('bn_Conv1', f[0][1])),
              ('Conv1_relu', [])]
    channels = f[0][0].out_channels
    for block_id, (_, stride, _) in enumerate(BLOCKS):
        convs = f[block_id + 1].conv
        if block_id == 0:
            p = 'expanded_conv_'
            dw, dw_bn, project, project_bn = convs[0][0], convs[0][1], convs[1], convs[2]
        else:
            p = f'block_{block_id}_'
            layers += [(f'{p}expand', [(f'{p}expand/kernel:0', conv_kernel(convs[0][0]))]),
                       (f'{p}expand_BN', bn_weights(f'{p}expand_BN', convs[0][1])), (f'{p}expand_relu', [])]
            dw, dw_bn, project, project_bn = convs[1][0], convs[1][1], convs[2], convs[3]
        if stride == 2:
            layers.append((f'{p}pad', []))
        layers += [(f'{p}depthwise', [(f'{p}depthwise/depthwise_kernel:0', depthwise_kernel(dw))]),
                   (f'{p}depthwise_BN', bn_weights(f'{p}depthwise_BN', dw_bn)), (f'{p}depthwise_relu', []),
                   (f'{p}project', [(f'{p}project/kernel:0', conv_kernel(project))]),
                   (f'{p}project_BN', bn_weights(f'{p}project_BN', project_bn))]
        if stride == 1 and channels == project.out_channels:
            layers.append((f'{p}add', []))
        channels = project.out_channels
    layers += [('Conv_1', [('Conv_1/kernel:0', conv_kernel(f[18][0]))]), ('Conv_1_bn', bn_weights('Conv_1_bn', f[18][1])),
               ('out_relu', [])]
    if top:
        linear = model.classifier[1]
        layers += [('global_average_pooling2d', []),
                   ('predictions', [('predictions/kernel:0', to_numpy(linear.weight).T), ('predictions/bias:0', to_numpy(linear.bias))])]
    elif pooling:
        layers.append((f'global_{pooling}_pooling2d', []))
    return layers


def parameter_counts():
    """torchvision's counts: trainable parameters (with and without classifier) and BN statistics."""
    counts = {}
    for alpha in ALPHAS:
        model = torchvision.models.mobilenet_v2(weights=None, width_mult=alpha)
        trainable = sum(p.numel() for p in model.parameters())
        classifier = sum(p.numel() for p in model.classifier.parameters())
        stats = sum(m.running_mean.numel() + m.running_var.numel() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
        counts[str(alpha)] = {'trainable_top': trainable, 'trainable_notop': trainable - classifier, 'bn_statistics': stats,
                              'last_channels': model.last_channel}
    return counts


def main():
    if sys.argv[1:] == ['counts']:
        print(json.dumps(parameter_counts()))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument('out_dir')
    parser.add_argument('size', type=int)
    parser.add_argument('batch', type=int)
    parser.add_argument('--alpha', type=float, default=1.0)
    parser.add_argument('--top', action='store_true')
    parser.add_argument('--vlen', action='store_true')
    parser.add_argument('--seed', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(2)

    torch.manual_seed(args.seed)
    model = torchvision.models.mobilenet_v2(weights=None, width_mult=args.alpha)
    randomize_bn(model, args.seed)
    tf_same_padding(model)
    rng = np.random.default_rng(args.seed)
    calibrate_bn(model, rng.uniform(-1, 1, size=(4, args.size, args.size, 3)).astype(np.float32))
    write_keras_h5(os.path.join(args.out_dir, 'weights.h5'), keras_layers(model, args.top), args.vlen)

    images = rng.uniform(-1, 1, size=(args.batch, args.size, args.size, 3)).astype(np.float32)
    np.save(os.path.join(args.out_dir, 'images.npy'), images)
    model = model.double()
    with torch.no_grad():
        x = torch.from_numpy(images.astype(np.float64)).permute(0, 3, 1, 2)
        features = model.features(x)
        pooled_avg = features.mean(dim=(2, 3))
        np.save(os.path.join(args.out_dir, 'avg.npy'), pooled_avg.numpy().astype(np.float32))
        np.save(os.path.join(args.out_dir, 'max.npy'), features.amax(dim=(2, 3)).numpy().astype(np.float32))
        if args.top:
            probs = torch.softmax(model.classifier[1](pooled_avg), dim=1)
            np.save(os.path.join(args.out_dir, 'probs.npy'), probs.numpy().astype(np.float32))


if __name__ == '__main__':
    main()
