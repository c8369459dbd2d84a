"""How learnable a Dollar Street-shaped folder is, measured by numpy alone.

Usage: data_nearest_centroid.py FOLDER

Loads the four .npy files with numpy, averages each image down to 8x8 colour cells,
computes one centroid per class on the training split and classifies the validation
split by the nearest centroid. Prints JSON: dtypes, shapes, per-class counts, accuracy.
"""
import json
import sys

import numpy as np

folder = sys.argv[1]
load = lambda name: np.load(f'{folder}/{name}.npy', allow_pickle=False)
train_x, train_y = load('train_images'), load('train_labels')
val_x, val_y = load('test_images'), load('test_labels')


def features(images):
    n, h, w, c = images.shape
    cells = images.astype(np.float64).reshape(n, 8, h // 8, 8, w // 8, c).mean(axis=(2, 4))
    return cells.reshape(n, -1) / 255.0


f_train, f_val = features(train_x), features(val_x)
centroids = np.stack([f_train[train_y == k].mean(axis=0) for k in range(10)])
distances = ((f_val[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2)
accuracy = float((distances.argmin(axis=1) == val_y).mean())
print(json.dumps({
    'dtypes': [train_x.dtype.str, train_y.dtype.str, val_x.dtype.str, val_y.dtype.str],
    'shapes': [list(a.shape) for a in (train_x, train_y, val_x, val_y)],
    'train_counts': np.bincount(train_y, minlength=10).tolist(),
    'val_counts': np.bincount(val_y, minlength=10).tolist(),
    'pixel_range': [int(train_x.min()), int(train_x.max())],
    'accuracy': accuracy,
}))
