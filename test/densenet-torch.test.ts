// DenseNet121 computes what an independent implementation (torchvision's) computes, when both
// hold the same weights: torch writes its random weights into a Keras-layout .h5 with h5py,
// DenseNet121({ weights: path }) loads it, both run the same images.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { DenseNet121 } from '../lib/applications/densenet';
import { predictValues, readNpy, relativeError, runReference, torchMissing } from './support/torch-reference';
import { installKerasCompat } from '../lib/compat/install';

installKerasCompat();

/** Writes the torch reference for `size`x`size` images into a fresh folder. */
const reference = (size: number, batch: number, extra: string[] = []) =>
  runReference('densenet_torch_reference.py', `densenet-${size}`, [String(size), String(batch), ...extra]);

describe('DenseNet121 matches torchvision densenet121 with the same weights', () => {
  const missing = torchMissing();
  before(async () => {
    await ready();
  });

  test('64x64, batch 2: max- and avg-pooled features from a no-top layout', async (t) => {
    if (missing) return t.skip(missing);
    const dir = reference(64, 2);
    try {
      const images = readNpy(path.join(dir, 'images.npy'));
      for (const pooling of ['max', 'avg'] as const) {
        const model = await DenseNet121({ weights: path.join(dir, 'weights.h5'), includeTop: false, pooling, inputShape: [64, 64, 3] });
        const features = await predictValues(model, images);
        const expected = readNpy(path.join(dir, `${pooling}.npy`));
        const err = relativeError(features, expected.data);
        t.diagnostic(`${pooling} pooling: relative error ${err.toExponential(2)}`);
        assert.ok(err < 1e-4, `${pooling}-pooled features differ from torch: relative error ${err}`);
        model.dispose();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('96x96, batch 2, with the classification top: softmax probabilities', async (t) => {
    if (missing) return t.skip(missing);
    const dir = reference(96, 2, ['--top']);
    try {
      const images = readNpy(path.join(dir, 'images.npy'));
      // Random weights, so weights is a path: includeTop with 96x96 is allowed (only 'imagenet' needs 224).
      const model = await DenseNet121({ weights: path.join(dir, 'weights.h5'), inputShape: [96, 96, 3] });
      const probs = await predictValues(model, images);
      const err = relativeError(probs, readNpy(path.join(dir, 'probs.npy')).data);
      t.diagnostic(`top: relative error ${err.toExponential(2)}`);
      assert.ok(err < 1e-4, `probabilities differ from torch: relative error ${err}`);
      model.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('160x160 (the lesson size), split variable-length layer_names: max-pooled features', async (t) => {
    if (missing) return t.skip(missing);
    const dir = reference(160, 2, ['--split', '3', '--vlen']);
    try {
      const images = readNpy(path.join(dir, 'images.npy'));
      const model = await DenseNet121({
        weights: path.join(dir, 'weights.h5'),
        includeTop: false,
        pooling: 'max',
        inputShape: [160, 160, 3],
      });
      const started = Date.now();
      const features = await predictValues(model, images);
      t.diagnostic(`forward pass, 2 images at 160x160 on ${tf.getBackend()}: ${Date.now() - started} ms`);
      const err = relativeError(features, readNpy(path.join(dir, 'max.npy')).data);
      t.diagnostic(`relative error ${err.toExponential(2)}`);
      assert.ok(err < 1e-4, `features differ from torch: relative error ${err}`);
      model.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
