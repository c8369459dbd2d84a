"""An independent DenseNet121 reference: torchvision's implementation with random weights.

Usage: densenet_torch_reference.py OUT_DIR SIZE BATCH [--top] [--split N] [--vlen]

Writes into OUT_DIR:
- weights.h5: torchvision's weights in Keras 2's legacy HDF5 layout (what
  `model.save_weights('x.h5')` writes for keras.applications.DenseNet121), written with h5py:
  every Keras layer name in `layer_names`, one group per layer, `weight_names`, and datasets
  at nested paths such as /conv1/conv/conv1/conv/kernel:0. `--split N` stores layer_names as
  layer_names0..N-1 (Keras' form for long lists); `--vlen` stores names as variable-length strings.
- images.npy: BATCH random NHWC images in [0, 1), float32;
- max.npy, avg.npy: the pooled features (GlobalMax/GlobalAveragePooling of relu(features(x)));
- probs.npy (with --top): softmax(classifier(avg)), Keras' DenseNet121 with its top.
The reference runs in float64, so it is more exact than either float32 implementation.

Name map (torchvision -> Keras 2):
  features.conv0 -> conv1/conv, features.norm0 -> conv1/bn,
  features.denseblock{b}.denselayer{i}.{norm1,conv1,norm2,conv2} -> conv{b+1}_block{i}_{0_bn,1_conv,1_bn,2_conv},
  features.transition{b}.{norm,conv} -> pool{b+1}_{bn,conv}, features.norm5 -> bn, classifier -> predictions.
Layout: conv kernels OIHW -> HWIO, Dense weight (out, in) -> kernel (in, out).
Equivalences: torch conv0 padding 3 = Keras ZeroPadding2D(3) + 'valid'; torch pool0
MaxPool2d(3, 2, padding=1) pads with -inf, Keras ZeroPadding2D(1) pads with 0: equal after the
ReLU (inputs >= 0). BN epsilon is set to Keras' 1.001e-5 (torch's default is 1e-5).
"""
import argparse
import os

import h5py
import numpy as np
import torch
import torch.nn.functional as F
import torchvision

BLOCKS = [6, 12, 24, 16]
EPSILON = 1.001e-5


def keras_layers(top):
    """Keras 2's DenseNet121 layers in model.layers order: (name, [(weight name, torch tensor key, kind)])."""
    layers = [('input_1', []), ('zero_padding2d', [])]
    conv = lambda name, key: (name, [(f'{name}/kernel:0', f'{key}.weight', 'conv')])
    bn = lambda name, key: (name, [(f'{name}/{w}:0', f'{key}.{t}', 'vector') for w, t in
                                   [('gamma', 'weight'), ('beta', 'bias'), ('moving_mean', 'running_mean'),
                                    ('moving_variance', 'running_var')]])
    layers += [conv('conv1/conv', 'features.conv0'), bn('conv1/bn', 'features.norm0'),
               ('conv1/relu', []), ('zero_padding2d_1', []), ('pool1', [])]
    for b, n in enumerate(BLOCKS):
        for i in range(1, n + 1):
            k = f'features.denseblock{b + 1}.denselayer{i}'
            p = f'conv{b + 2}_block{i}'
            layers += [bn(f'{p}_0_bn', f'{k}.norm1'), (f'{p}_0_relu', []), conv(f'{p}_1_conv', f'{k}.conv1'),
                       bn(f'{p}_1_bn', f'{k}.norm2'), (f'{p}_1_relu', []), conv(f'{p}_2_conv', f'{k}.conv2'),
                       (f'{p}_concat', [])]
        if b < 3:
            k = f'features.transition{b + 1}'
            p = f'pool{b + 2}'
            layers += [bn(f'{p}_bn', f'{k}.norm'), (f'{p}_relu', []), conv(f'{p}_conv', f'{k}.conv'), (f'{p}_pool', [])]
    layers += [bn('bn', 'features.norm5'), ('relu', [])]
    if top:
        layers += [('avg_pool', []),
                   ('predictions', [('predictions/kernel:0', 'classifier.weight', 'dense'),
                                    ('predictions/bias:0', 'classifier.bias', 'vector')])]
    return layers


def random_model(seed):
    torch.manual_seed(seed)
    model = torchvision.models.densenet121(weights=None)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.eps = EPSILON
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        model.classifier.bias.normal_(0, 0.1)
    return model.eval()


def to_keras(value, kind):
    v = value.detach().cpu().numpy().astype(np.float32)
    if kind == 'conv':
        return v.transpose(2, 3, 1, 0)  # OIHW -> HWIO
    if kind == 'dense':
        return v.T  # (out, in) -> (in, out)
    return v


def string_attr(group, name, values, vlen, split=1):
    if not values:
        group.attrs[name] = np.asarray([])  # what Keras writes for a layer without weights
        return
    parts = np.array_split(np.asarray([v.encode('utf8') for v in values]), split)
    for i, part in enumerate(parts):
        key = f'{name}{i}' if split > 1 else name
        if vlen:
            group.attrs.create(key, [p.decode('utf8') for p in part], dtype=h5py.string_dtype('utf-8'))
        else:
            group.attrs[key] = part  # fixed-length byte strings, as Keras writes them


def write_h5(path, model, top, split, vlen):
    state = model.state_dict()
    layers = keras_layers(top)
    with h5py.File(path, 'w') as f:
        string_attr(f, 'layer_names', [name for name, _ in layers], vlen, split)
        f.attrs['backend'] = b'tensorflow'
        f.attrs['keras_version'] = b'2.15.0'
        for name, weights in layers:
            g = f.create_group(name)
            string_attr(g, 'weight_names', [w for w, _, _ in weights], vlen)
            for weight_name, key, kind in weights:
                g.create_dataset(weight_name, data=to_keras(state[key], kind))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('out_dir')
    parser.add_argument('size', type=int)
    parser.add_argument('batch', type=int)
    parser.add_argument('--top', action='store_true')
    parser.add_argument('--split', type=int, default=1)
    parser.add_argument('--vlen', action='store_true')
    parser.add_argument('--seed', type=int, default=121)
    args = parser.parse_args()
    torch.set_num_threads(2)

    model = random_model(args.seed)
    write_h5(os.path.join(args.out_dir, 'weights.h5'), model, args.top, args.split, args.vlen)

    rng = np.random.default_rng(args.seed)
    images = rng.uniform(0, 1, size=(args.batch, args.size, args.size, 3)).astype(np.float32)
    np.save(os.path.join(args.out_dir, 'images.npy'), images)
    model = model.double()
    with torch.no_grad():
        x = torch.from_numpy(images.astype(np.float64)).permute(0, 3, 1, 2)
        features = F.relu(model.features(x))
        pooled_max = features.amax(dim=(2, 3))
        pooled_avg = features.mean(dim=(2, 3))
        np.save(os.path.join(args.out_dir, 'max.npy'), pooled_max.numpy().astype(np.float32))
        np.save(os.path.join(args.out_dir, 'avg.npy'), pooled_avg.numpy().astype(np.float32))
        if args.top:
            probs = torch.softmax(model.classifier(pooled_avg), dim=1)
            np.save(os.path.join(args.out_dir, 'probs.npy'), probs.numpy().astype(np.float32))


if __name__ == '__main__':
    main()
