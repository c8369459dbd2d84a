// MobileNetV2 computes what an independent implementation (torchvision's mobilenet_v2) computes
// with the same weights: torch writes its random weights into a Keras-layout .h5 with h5py, with
// the layer names Keras writes; MobileNetV2({ weights: path }) loads it; both run the same images.
// Known differences (BN epsilon, Keras' asymmetric 'same' padding of the stride-2 convolutions) are
// removed on the torch side; see test/python/app_mobilenet_torch_reference.py.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backend';
import { MobileNetV2 } from '../lib/applications/mobilenet_v2';
import { readWeightsH5 } from '../lib/weights/h5';

const PYTHON = '/usr/bin/python3';
const { parse: parseNpy } = require('npyjs') as { parse(buffer: ArrayBuffer): { data: Float32Array; shape: number[] } };

function torchMissing(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import numpy, h5py, torch, torchvision'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `torch/torchvision/h5py not importable by ${PYTHON}: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`;
}

function readNpy(file: string): { data: Float32Array; shape: number[] } {
  const bytes = fs.readFileSync(file);
  return parseNpy(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

/** Writes the torch reference into a fresh folder. */
function reference(size: number, batch: number, extra: string[] = []): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tslab-dl-mobilenet-torch-${size}-`));
  const r = spawnSync(PYTHON, [path.join(__dirname, 'python', 'app_mobilenet_torch_reference.py'), dir, String(size), String(batch), ...extra], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return dir;
}

/** max |a - b| / max |b|: the error relative to the scale of the reference. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

/** The features differ between the images (a constant output would match trivially). */
function assertVaries(values: Float32Array, batch: number): void {
  const n = values.length / batch;
  let differs = 0;
  for (let i = 0; i < n; i++) if (Math.abs(values[i] - values[n + i]) > 1e-3 * Math.abs(values[i]) + 1e-6) differs++;
  assert.ok(differs > n / 2, `only ${differs} of ${n} features differ between the two images`);
}

async function predict(model: tf.LayersModel, images: { data: Float32Array; shape: number[] }): Promise<Float32Array> {
  const x = tf.tensor(images.data, images.shape);
  const y = model.predict(x) as tf.Tensor;
  const values = (await y.data()) as Float32Array;
  tf.dispose([x, y]);
  return values;
}

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
          assert.deepEqual(model.layers.slice(1, -1).map((l) => l.name), layerNames.slice(1));
        }
        const features = await predict(model, images);
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
      const probs = await predict(model, images);
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
