// DenseNet121 computes what an independent implementation (torchvision's) computes, when both
// hold the same weights: torch writes its random weights into a Keras-layout .h5 with h5py,
// DenseNet121({ weights: path }) loads it, both run the same images.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backend';
import { DenseNet121 } from '../lib/applications/densenet';

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

/** Writes the torch reference for `size`x`size` images into a fresh folder. */
function reference(size: number, batch: number, extra: string[] = []): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tslab-dl-densenet-${size}-`));
  const r = spawnSync(PYTHON, [path.join(__dirname, 'python', 'densenet_torch_reference.py'), dir, String(size), String(batch), ...extra], {
    encoding: 'utf8',
  });
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

async function predict(model: tf.LayersModel, images: { data: Float32Array; shape: number[] }): Promise<Float32Array> {
  const x = tf.tensor(images.data, images.shape);
  const y = model.predict(x) as tf.Tensor;
  const values = (await y.data()) as Float32Array;
  tf.dispose([x, y]);
  return values;
}

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
        const features = await predict(model, images);
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
      const probs = await predict(model, images);
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
      const model = await DenseNet121({ weights: path.join(dir, 'weights.h5'), includeTop: false, pooling: 'max', inputShape: [160, 160, 3] });
      const started = Date.now();
      const features = await predict(model, images);
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
