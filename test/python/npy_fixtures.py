"""Writes .npy fixtures with numpy and dumps their values, for test/data-npy.test.ts.

Usage: npy_fixtures.py OUT_DIR

Writes OUT_DIR/<name>.npy for each fixture below and OUT_DIR/fixtures.json:
{name: {"descr": ..., "shape": [...], "values": [str, ...]}} with values in C order,
as strings (exact for int64 beyond 2**53; 'nan', 'inf', '-inf' for special floats),
and {name: {"error": true}} for fixtures our reader must refuse.
"""
import json
import sys

import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(7)
fixtures = {}


def as_strings(a):
    flat = np.ascontiguousarray(a).reshape(-1)
    if a.dtype.kind in 'iu':
        return [str(int(x)) for x in flat]
    return [repr(float(x)) for x in flat]


def save(name, a, version=None):
    path = f'{out}/{name}.npy'
    if version is None:
        np.save(path, a)
    else:
        with open(path, 'wb') as f:
            np.lib.format.write_array(f, a, version=version)
    # What numpy itself reads back is the reference.
    back = np.load(path, allow_pickle=False)
    fixtures[name] = {'descr': back.dtype.str, 'shape': list(back.shape), 'values': as_strings(back)}


image = rng.integers(0, 256, size=(2, 3, 4, 3))
for descr in ['|u1', '|i1', '<u2', '>u2', '<i2', '>i2', '<u4', '>u4', '<i4', '>i4', '<i8', '>i8', '<u8', '>u8']:
    signed = np.iinfo(np.dtype(descr)).min < 0
    a = (image - (128 if signed else 0)).astype(descr)  # signed types get negative values too
    save('int_' + descr.replace('<', 'le_').replace('>', 'be_').replace('|', ''), a)

# 64-bit integers beyond 2**53, negative and positive, both byte orders.
big = np.array([2**62 + 1, -(2**62) - 3, 2**53 + 1, -1, 0, 9], dtype='<i8')
save('int64_large_le', big)
save('int64_large_be', big.astype('>i8'))
save('uint64_large_be', np.array([2**64 - 1, 2**63 + 5, 0], dtype='>u8'))

floats = rng.normal(0, 100, size=(3, 2, 2, 3))
for descr in ['<f2', '>f2', '<f4', '>f4', '<f8', '>f8']:
    save('float_' + descr.replace('<', 'le_').replace('>', 'be_'), floats.astype(descr))
special = np.array([np.nan, np.inf, -np.inf, -0.0, 1e-30, 3.5], dtype='>f4')
save('float32_special_be', special)

# Fortran (column-major) order: np.save writes fortran_order True and the data in that order.
save('fortran_f4', np.asfortranarray(rng.normal(size=(2, 3, 4, 3)).astype('<f4')))
save('fortran_i8_be', np.asfortranarray(rng.integers(-1000, 1000, size=(3, 4, 5)).astype('>i8')))

# Other format versions and edge shapes.
save('version2_i4', rng.integers(-5, 5, size=(4, 3)).astype('<i4'), version=(2, 0))
save('version3_u1', rng.integers(0, 256, size=(5,)).astype('|u1'), version=(3, 0))
save('scalar_f8', np.array(2.5, dtype='<f8'))
save('empty_i4', np.zeros((0, 3), dtype='<i4'))
save('labels_i8', rng.integers(0, 10, size=(17,)).astype('<i8'))

# Types that cannot be images or labels: the reader must refuse them by name.
for name, a in {
    'reject_bool': np.array([True, False]),
    'reject_complex64': np.array([1 + 2j], dtype='<c8'),
    'reject_unicode': np.array(['plate', 'dishrag']),
    'reject_datetime': np.array(['2024-01-01'], dtype='datetime64[D]'),
    'reject_structured': np.zeros(3, dtype=[('a', '<i4'), ('b', '<f4')]),
}.items():
    np.save(f'{out}/{name}.npy', a)
    fixtures[name] = {'error': True, 'descr': str(a.dtype.descr if a.dtype.names else a.dtype.str)}
np.save(f'{out}/reject_object.npy', np.array([{'a': 1}, None], dtype=object), allow_pickle=True)
fixtures['reject_object'] = {'error': True, 'descr': '|O'}

with open(f'{out}/fixtures.json', 'w') as f:
    json.dump(fixtures, f)
