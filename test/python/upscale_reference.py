"""Reference outputs for the upscale layer, computed independently with numpy + torch.

Usage: upscale_reference.py OUT_DIR
Writes, for each case, OUT_DIR/<name>_input.npy (NHWC float32) and OUT_DIR/<name>_expected.npy,
and prints a JSON list of the cases.

TF2's tf.image.resize_with_pad(x, H, W, BILINEAR) = resize with half-pixel centres and no
antialias (torch: F.interpolate(mode='bilinear', align_corners=False, antialias=False)) to
floor(size / ratio), then zero padding; the padding arithmetic below follows TF's
_resize_image_with_pad_common in float32. Nearest: TF's half-pixel nearest neighbour is
floor((i + 0.5) * in / out), which torch calls mode='nearest-exact'.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

CASES = [
    # name, input (batch, h, w, c), target (h, w), method
    ('square_64_to_160', (2, 64, 64, 3), (160, 160), 'bilinear'),
    ('wide_48x64_to_160', (2, 48, 64, 3), (160, 160), 'bilinear'),
    ('tall_37x20_to_50x70', (1, 37, 20, 2), (50, 70), 'bilinear'),
    ('down_90x40_to_32', (1, 90, 40, 3), (32, 32), 'bilinear'),
    ('nearest_48x64_to_100', (1, 48, 64, 3), (100, 100), 'nearest'),
]


def geometry(h, w, th, tw):
    f = np.float32
    ratio = max(f(w) / f(tw), f(h) / f(th))
    rhf = f(h) / ratio
    rwf = f(w) / ratio
    rh, rw = int(np.floor(rhf)), int(np.floor(rwf))
    pt = max(0, int(np.floor((f(th) - rhf) / f(2))))
    pl = max(0, int(np.floor((f(tw) - rwf) / f(2))))
    return rh, rw, pt, pl


def main(out_dir):
    rng = np.random.default_rng(4)
    cases = []
    for name, shape, (th, tw), method in CASES:
        x = rng.uniform(0, 1, size=shape).astype(np.float32)
        _, h, w, _ = shape
        rh, rw, pt, pl = geometry(h, w, th, tw)
        t = torch.from_numpy(x).permute(0, 3, 1, 2)
        if method == 'bilinear':
            r = F.interpolate(t, size=(rh, rw), mode='bilinear', align_corners=False, antialias=False)
        else:
            r = F.interpolate(t, size=(rh, rw), mode='nearest-exact')
        r = r.permute(0, 2, 3, 1).numpy()
        out = np.zeros((shape[0], th, tw, shape[3]), np.float32)
        out[:, pt:pt + rh, pl:pl + rw, :] = r
        np.save(os.path.join(out_dir, f'{name}_input.npy'), x)
        np.save(os.path.join(out_dir, f'{name}_expected.npy'), out)
        cases.append({'name': name, 'height': th, 'width': tw, 'method': method,
                      'resized': [rh, rw], 'pad': [pt, pl]})
    print(json.dumps(cases))


if __name__ == '__main__':
    main(sys.argv[1])
