"""Writes small Dollar Street-shaped folders with numpy, for test/data-dollarstreet.test.ts.

Reads a JSON list on stdin: [{"folder", "images", "labels", "train", "val", "height", "width"}]
where "images" and "labels" are numpy type strings ('|u1', '>i8', '<f4', ...). Writes the four
.npy files into each folder with random pixels 0..255 and labels 0..9 (integer-valued for float
types), and prints JSON: {folder: {file name: {"shape": [...], "values": [...]}}}, values in C order
as numpy reads them back (floats as Python floats, ints as ints).
"""
import json
import os
import sys

import numpy as np

rng = np.random.default_rng(3)
result = {}
for spec in json.load(sys.stdin):
    folder = spec['folder']
    os.makedirs(folder, exist_ok=True)
    arrays = {}
    for split, count in (('train', spec['train']), ('test', spec['val'])):
        is_float = spec['images'][1] == 'f'
        images = rng.integers(0, 255 if is_float else 256, size=(count, spec['height'], spec['width'], 3))
        if is_float:
            images = images + rng.choice([0.0, 0.25, 0.5], size=images.shape)  # some fractions, still <= 255
        arrays[f'{split}_images.npy'] = images.astype(spec['images'])
        arrays[f'{split}_labels.npy'] = rng.integers(0, 10, size=(count,)).astype(spec['labels'])
    result[folder] = {}
    for name, array in arrays.items():
        np.save(os.path.join(folder, name), array)
        back = np.load(os.path.join(folder, name))
        assert back.dtype.str == np.dtype(spec['images' if 'images' in name else 'labels']).str
        values = back.reshape(-1).tolist()
        result[folder][name] = {'shape': list(back.shape), 'dtype': back.dtype.str, 'values': values}
print(json.dumps(result))
