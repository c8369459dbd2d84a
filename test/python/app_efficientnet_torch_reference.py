"""An independent EfficientNetB0 reference: torchvision's implementation with random weights.

Usage:
  app_efficientnet_torch_reference.py OUT_DIR SIZE BATCH [--top] [--imagenet] [--count-dtype int64|float32] [--seed S]
  app_efficientnet_torch_reference.py counts     print torchvision's parameter counts (JSON)

Writes into OUT_DIR:
- weights.h5: torchvision's weights plus a Normalization layer's mean, variance and count, in
  Keras 2's legacy HDF5 layout as `model.save_weights('x.h5')` writes it for
  keras.applications.EfficientNetB0 (h5py): every Keras layer name in `layer_names`, one group
  per layer, `weight_names`, datasets at nested paths such as /stem_conv/stem_conv/kernel:0.
  The Normalization's `count:0` is an int64 scalar as in Keras (`--count-dtype float32`: float32).
- weights_flat.npy, weights_index.json: the same weights without HDF5 (values in Keras' order,
  and each weight's layer, name and shape);
- images.npy: BATCH random NHWC images in [0, 255) (EfficientNet takes raw pixels), float32;
- avg.npy, max.npy: the pooled features of top_activation;
- probs.npy (with --top): softmax(classifier(avg)).
The reference runs in float64. Weights: random kernels and BN gamma/beta, BN moving statistics
calibrated on other random images (see app_mobilenet_torch_reference.calibrate_bn).

Keras' model starts with Rescaling(1/255) and Normalization(mean, variance): the reference
computes (x / 255 - mean) / sqrt(variance) before torchvision's features. `--imagenet`: the
graph Keras builds for weights='imagenet', whose files store the standard deviations as the
variance and which adds Rescaling(1 / sqrt([0.229, 0.224, 0.225])): the file gets
variance = [0.229, 0.224, 0.225] and the reference divides by those standard deviations, i.e.
(x / 255 - mean) / [0.229, 0.224, 0.225], the normalisation EfficientNet was trained with.

Known differences removed here: BatchNormalization epsilon (Keras 1e-3, torchvision's B0 1e-5 ->
1e-3) and the stride-2 convolutions' padding (Keras: ZeroPadding2D(correct_pad) + 'valid', i.e.
TF-'same', one row/column fewer before than after for even sizes; torch: symmetric -> TF-'same'
via a forward pre-hook). Stochastic depth (torch) and drop connect (Keras Dropout) are both the
identity at inference.
Name map (torchvision -> Keras 2): features.0 -> stem_conv/stem_bn; features.s.j.block
(stage s = 1..7, block j) -> block{s}{a,b,..}_{expand_conv,expand_bn (if expanding), dwconv, bn,
se_reduce (SE fc1), se_expand (SE fc2), project_conv, project_bn}; features.8 -> top_conv/top_bn;
classifier.1 -> predictions.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torchvision

from app_mobilenet_torch_reference import (bn_weights, calibrate_bn, conv_kernel, depthwise_kernel, randomize_bn, tf_same_padding,
                                           to_numpy, write_flat, write_keras_h5)

IMAGENET_STDDEV_RGB = [0.229, 0.224, 0.225]


def keras_layers(model, top, imagenet, mean, variance, count_dtype):
    """Keras 2's EfficientNetB0 layers in model.layers order, with torchvision's weights."""
    f = model.features
    layers = [('input_1', []), ('rescaling', []),
              ('normalization', [('normalization/mean:0', mean.astype(np.float32)), ('normalization/variance:0', variance.astype(np.float32)),
                                 ('normalization/count:0', np.array(0, dtype=count_dtype))])]
    if imagenet:
        layers.append(('rescaling_1', []))
    layers += [('stem_conv_pad', []), ('stem_conv', [('stem_conv/kernel:0', conv_kernel(f[0][0]))]),
               ('stem_bn', bn_weights('stem_bn', f[0][1])), ('stem_activation', [])]
    for s in range(1, 8):
        for j, mb in enumerate(f[s]):
            p = f'block{s}{chr(j + 97)}_'
            parts = list(mb.block)
            if len(parts) == 4:
                expand = parts.pop(0)
                layers += [(f'{p}expand_conv', [(f'{p}expand_conv/kernel:0', conv_kernel(expand[0]))]),
                           (f'{p}expand_bn', bn_weights(f'{p}expand_bn', expand[1])), (f'{p}expand_activation', [])]
            dw, se, project = parts
            if tuple(dw[0].stride) == (2, 2):
                layers.append((f'{p}dwconv_pad', []))
            layers += [(f'{p}dwconv', [(f'{p}dwconv/depthwise_kernel:0', depthwise_kernel(dw[0]))]),
                       (f'{p}bn', bn_weights(f'{p}bn', dw[1])), (f'{p}activation', []),
                       (f'{p}se_squeeze', []), (f'{p}se_reshape', []),
                       (f'{p}se_reduce', [(f'{p}se_reduce/kernel:0', conv_kernel(se.fc1)), (f'{p}se_reduce/bias:0', to_numpy(se.fc1.bias))]),
                       (f'{p}se_expand', [(f'{p}se_expand/kernel:0', conv_kernel(se.fc2)), (f'{p}se_expand/bias:0', to_numpy(se.fc2.bias))]),
                       (f'{p}se_excite', []),
                       (f'{p}project_conv', [(f'{p}project_conv/kernel:0', conv_kernel(project[0]))]),
                       (f'{p}project_bn', bn_weights(f'{p}project_bn', project[1]))]
            if mb.use_res_connect:
                # Every residual block but the very first has a drop-connect rate > 0 in Keras.
                layers += [(f'{p}drop', []), (f'{p}add', [])]
    layers += [('top_conv', [('top_conv/kernel:0', conv_kernel(f[8][0]))]), ('top_bn', bn_weights('top_bn', f[8][1])),
               ('top_activation', [])]
    if top:
        linear = model.classifier[1]
        layers += [('avg_pool', []), ('top_dropout', []),
                   ('predictions', [('predictions/kernel:0', to_numpy(linear.weight).T), ('predictions/bias:0', to_numpy(linear.bias))])]
    return layers


def parameter_counts():
    model = torchvision.models.efficientnet_b0(weights=None)
    trainable = sum(p.numel() for p in model.parameters())
    classifier = sum(p.numel() for p in model.classifier.parameters())
    stats = sum(m.running_mean.numel() + m.running_var.numel() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    return {'trainable_top': trainable, 'trainable_notop': trainable - classifier, 'bn_statistics': stats}


def main():
    if sys.argv[1:] == ['counts']:
        print(json.dumps(parameter_counts()))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument('out_dir')
    parser.add_argument('size', type=int)
    parser.add_argument('batch', type=int)
    parser.add_argument('--top', action='store_true')
    parser.add_argument('--imagenet', action='store_true')
    parser.add_argument('--count-dtype', choices=['int64', 'float32'], default='int64')
    parser.add_argument('--seed', type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)

    torch.manual_seed(args.seed)
    model = torchvision.models.efficientnet_b0(weights=None)
    randomize_bn(model, args.seed)
    tf_same_padding(model)
    rng = np.random.default_rng(args.seed)
    mean = rng.uniform(0.3, 0.6, size=3).astype(np.float32)
    variance = (np.array(IMAGENET_STDDEV_RGB) if args.imagenet else rng.uniform(0.03, 0.09, size=3)).astype(np.float32)
    std = np.sqrt(variance.astype(np.float64))
    if args.imagenet:
        std = std * np.sqrt(IMAGENET_STDDEV_RGB)  # = the standard deviations themselves

    def normalize(pixels):
        """Keras' stem: Rescaling(1/255), Normalization (and the 'imagenet' Rescaling), in float64."""
        return (pixels.astype(np.float64) / 255.0 - mean.astype(np.float64)) / std

    calibrate_bn(model, normalize(rng.uniform(0, 255, size=(4, args.size, args.size, 3))).astype(np.float32))
    layers = keras_layers(model, args.top, args.imagenet, mean, variance, np.int64 if args.count_dtype == 'int64' else np.float32)
    write_keras_h5(os.path.join(args.out_dir, 'weights.h5'), layers)
    write_flat(args.out_dir, layers)

    images = rng.uniform(0, 255, size=(args.batch, args.size, args.size, 3)).astype(np.float32)
    np.save(os.path.join(args.out_dir, 'images.npy'), images)
    model = model.double()
    with torch.no_grad():
        features = model.features(torch.from_numpy(normalize(images)).permute(0, 3, 1, 2))
        pooled_avg = features.mean(dim=(2, 3))
        np.save(os.path.join(args.out_dir, 'avg.npy'), pooled_avg.numpy().astype(np.float32))
        np.save(os.path.join(args.out_dir, 'max.npy'), features.amax(dim=(2, 3)).numpy().astype(np.float32))
        if args.top:
            probs = torch.softmax(model.classifier[1](pooled_avg), dim=1)
            np.save(os.path.join(args.out_dir, 'probs.npy'), probs.numpy().astype(np.float32))


if __name__ == '__main__':
    main()
