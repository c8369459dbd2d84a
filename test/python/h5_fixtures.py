"""Keras-layout HDF5 weight files written, and read, with h5py: an independent implementation
of the format for tslab-dl's reader and writer tests.

Usage:
  h5_fixtures.py write OUT.h5 VARIANT   write the small test model's weights (see SMALL_MODEL)
  h5_fixtures.py read FILE.h5           print the file's Keras content as JSON

VARIANT is one of:
  fixed     layer_names/weight_names as fixed-length byte strings (what Keras writes)
  vlen      variable-length UTF-8 strings
  split     layer_names split into layer_names0..2 (Keras' form for lists over 64,512 bytes)
  model     a whole-model file: the weights under /model_weights, model_config at the root
  float64   datasets stored as float64
  keras3    Keras 3's .weights.h5 layout (layers/<name>/vars/0), which is not supported

Weight values: the j-th weight of the model (in load order) holds (arange(n) % 17) * 0.1 + j,
so a test can recompute them exactly.
"""
import json
import sys

import h5py
import numpy as np

# (layer name, [(weight name, shape)]): input [6, 6, 2] -> conv 3x3x4 -> bn -> flatten -> dense 3.
SMALL_MODEL = [
    ('input_1', []),
    ('conv', [('conv/kernel:0', (3, 3, 2, 4)), ('conv/bias:0', (4,))]),
    ('bn', [('bn/gamma:0', (4,)), ('bn/beta:0', (4,)), ('bn/moving_mean:0', (4,)), ('bn/moving_variance:0', (4,))]),
    ('flatten', []),
    ('dense', [('dense/kernel:0', (64, 3)), ('dense/bias:0', (3,))]),
]


def values(j, shape, dtype):
    n = int(np.prod(shape))
    return ((np.arange(n) % 17) * 0.1 + j).astype(np.float32).astype(dtype).reshape(shape)


def string_attr(obj, name, strings, variant, split=1):
    if not strings:
        obj.attrs[name] = np.asarray([])  # Keras: an empty float64 array for a layer without weights
        return
    if variant == 'vlen':
        obj.attrs.create(name, strings, dtype=h5py.string_dtype('utf-8'))
        return
    data = np.asarray([s.encode('utf8') for s in strings])
    if split > 1:
        for i, part in enumerate(np.array_split(data, split)):
            obj.attrs[f'{name}{i}'] = part
    else:
        obj.attrs[name] = data


def write(path, variant):
    with h5py.File(path, 'w') as f:
        if variant == 'keras3':
            for i, (name, weights) in enumerate(SMALL_MODEL):
                g = f.create_group(f'layers/{name}/vars')
                for k, (_, shape) in enumerate(weights):
                    g.create_dataset(str(k), data=values(k, shape, np.float32))
            f.create_group('optimizer/vars')
            f.create_group('vars')
            return
        root = f
        if variant == 'model':
            f.attrs['model_config'] = b'{"class_name": "Functional"}'
            f.attrs['keras_version'] = b'2.15.0'
            root = f.create_group('model_weights')
        string_attr(root, 'layer_names', [name for name, _ in SMALL_MODEL], variant, 3 if variant == 'split' else 1)
        root.attrs['backend'] = b'tensorflow'
        root.attrs['keras_version'] = b'2.15.0'
        j = 0
        for name, weights in SMALL_MODEL:
            g = root.create_group(name)
            string_attr(g, 'weight_names', [w for w, _ in weights], variant)
            for weight_name, shape in weights:
                g.create_dataset(weight_name, data=values(j, shape, np.float64 if variant == 'float64' else np.float32))
                j += 1


def strings(obj, name):
    if name in obj.attrs:
        raw = list(obj.attrs[name])
    else:
        raw, i = [], 0
        while f'{name}{i}' in obj.attrs:
            raw += list(obj.attrs[f'{name}{i}'])
            i += 1
    return [r.decode('utf8') if isinstance(r, bytes) else str(r) for r in raw]


def read(path):
    with h5py.File(path, 'r') as f:
        names = strings(f, 'layer_names')
        layers = []
        for name in names:
            g = f[name]
            weights = []
            for w in strings(g, 'weight_names'):
                d = g[w]
                v = d[...].astype(np.float64)
                weights.append({'name': w, 'shape': list(d.shape), 'dtype': str(d.dtype),
                                'sum': float(v.sum()), 'first': [float(x) for x in v.ravel()[:3]]})
            layers.append({'name': name, 'weights': weights})
        attr_keys = sorted(f.attrs.keys())
        kinds = {k: ('vlen' if h5py.check_string_dtype(f.attrs.get_id(k).dtype) and
                     h5py.check_string_dtype(f.attrs.get_id(k).dtype).length is None else str(f.attrs.get_id(k).dtype))
                 for k in attr_keys}
        print(json.dumps({'attrs': attr_keys, 'attr_types': kinds, 'layer_names': names, 'layers': layers}))


if __name__ == '__main__':
    if sys.argv[1] == 'write':
        write(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == 'read':
        read(sys.argv[2])
    else:
        sys.exit(f'unknown command {sys.argv[1]}')
