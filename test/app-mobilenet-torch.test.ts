// MobileNetV2 computes what an independent implementation (torchvision's mobilenet_v2) computes
// with the same weights: torch writes its random weights into a Keras-layout .h5 with h5py, with
// the layer names Keras writes; MobileNetV2({ weights: path }) loads it; both run the same images.
// Known differences (BN epsilon, Keras' asymmetric 'same' padding of the stride-2 convolutions) are
// removed on the torch side; see test/python/app_mobilenet_torch_reference.py.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ready } from '../lib/backends/selection';
import { MobileNetV2 } from '../lib/applications/mobilenet-v2';
import { readWeightsH5 } from '../lib/weights/h5';
import { assertVaries, predictValues, readNpy, relativeError, runReference, torchMissing } from './support/torch-reference';

/** Writes the torch reference for `size`x`size` images into a fresh folder. */
const reference = (size: number, batch: number, extra: string[] = []) =>
  runReference('app_mobilenet_torch_reference.py', `mobilenet-torch-${size}`, [String(size), String(batch), ...extra]);

describe('MobileNetV2 matches torchvision mobilenet_v2 with the same weights', () => {
  const missing = torchMissing();
  before(async () => {
    await ready();
  });

  test('alpha 1.0, 96x96, batch 2: the file has the layer names Keras writes; average- and max-pooled features', async (t) => {
    if (missing) return t.skip(missing);
    const dir = reference(96, 2);
    try {
      const file = path.join(dir, 'weights.h5');
      const images = readNpy(path.join(dir, 'images.npy'));
      for (const pooling of ['avg', 'max'] as const) {
        const model = await MobileNetV2({ weights: file, includeTop: false, pooling, inputShape: [96, 96, 3] });
        if (pooling === 'avg') {
          // Keras' model.layers order (written by the reference from its own description of Keras' graph), input excepted.
          const { layerNames } = await readWeightsH5(file);
          assert.deepEqual(
            model.layers.slice(1, -1).map((l) => l.name),
            layerNames.slice(1),
          );
        }
        const features = await predictValues(model, images);
        assertVaries(features, 2);
        const err = relativeError(features, readNpy(path.join(dir, `${pooling}.npy`)).data);
        t.diagnostic(`${pooling} pooling: relative error ${err.toExponential(2)}`);
        assert.ok(err < 1e-4, `${pooling}-pooled features differ from torch: relative error ${err}`);
        model.dispose();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('alpha 0.35 with the top at 75x75 (odd sizes: symmetric padding), variable-length names: softmax probabilities', async (t) => {
    if (missing) return t.skip(missing);
    const dir = reference(75, 2, ['--alpha', '0.35', '--top', '--vlen']);
    try {
      const images = readNpy(path.join(dir, 'images.npy'));
      // Random weights, so weights is a path: any size with the top is allowed (only 'imagenet' needs 96..224).
      const model = await MobileNetV2({ weights: path.join(dir, 'weights.h5'), alpha: 0.35, inputShape: [75, 75, 3] });
      const probs = await predictValues(model, images);
      assertVaries(probs, 2);
      const err = relativeError(probs, readNpy(path.join(dir, 'probs.npy')).data);
      t.diagnostic(`top: relative error ${err.toExponential(2)}`);
      assert.ok(err < 1e-4, `probabilities differ from torch: relative error ${err}`);
      model.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
