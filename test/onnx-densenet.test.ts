/**
 * The ONNX executor computes what tfjs computes on DenseNet, the lesson's base:
 * DenseNet121 at 160x160, the lesson's upscale -> DenseNet121 graph, DenseNet169/201,
 * with random weights whose BatchNormalization statistics sit near those of random
 * images (so the features vary from image to image, as a trained network's do) and
 * random images: relative error < 1e-4 against model.predict. And DenseNet121 at
 * 160x160 against torchvision's DenseNet121 run in float64 with the same weights
 * (test/python/densenet_torch_reference.py): closer to that exact value than tfjs is.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setBackend } from '../lib/backends/selection';
import { DenseNet121, DenseNet169, DenseNet201 } from '../lib/applications';
import { Upscale } from '../lib/layers/upscale';
import { createOnnxSession } from '../lib/onnx';
import { expectOnnxMatchesTfjs } from './support/onnx-equivalence';
import { calibrateBatchNorm, randomImages, randomizeWeights, relativeError } from '../bench/onnx-fixtures';

const PYTHON = '/usr/bin/python3';

before(async () => {
  await setBackend('wasm');
});

after(async () => {
  await setBackend('wasm');
  tf.disposeVariables();
});

/** Random weights, BatchNormalization calibrated on other random images like `x`. */
function randomize(model: tf.LayersModel, x: tf.Tensor): void {
  randomizeWeights(model, 17);
  const calibration = randomImages([2, ...x.shape.slice(1)], 43, 0, 1);
  calibrateBatchNorm(model, calibration, 47);
  calibration.dispose();
}

describe('ONNX executor on DenseNet', () => {
  it('DenseNet121 base at 160x160 with max pooling: all 427 layers on ONNX, same features as tfjs', async (t) => {
    const base = await DenseNet121({ includeTop: false, weights: null, inputShape: [160, 160, 3], pooling: 'max' });
    const x = randomImages([4, 160, 160, 3], 21);
    randomize(base, x);
    await expectOnnxMatchesTfjs(t, base, x, { layers: 427, minSpread: 0.05, predictBatchSize: 4, runBatchSize: 3 });
    x.dispose();
    base.dispose();
  });

  it("the lesson's graph: 64x64 images -> Upscale(160, 160) -> DenseNet121 -> max pooling (tfjs cpu reference)", async (t) => {
    const images = tf.input({ shape: [64, 64, 3] });
    const upscaled = new Upscale({ height: 160, width: 160 }).apply(images) as tf.SymbolicTensor;
    const base = await DenseNet121({ includeTop: false, weights: null, inputTensor: upscaled, pooling: 'max' });
    const x = randomImages([2, 64, 64, 3], 22);
    randomize(base, x);
    // The cpu backend, not wasm: wasm's bilinear resize is off by up to 4e-6 (of pixels in
    // [0, 1]), which DenseNet amplifies to ~7e-5 in the features; the cpu kernel is exact to 3e-8.
    await setBackend('cpu');
    try {
      await expectOnnxMatchesTfjs(t, base, x, { layers: 428, minSpread: 0.05, predictBatchSize: 4, runBatchSize: 3 });
    } finally {
      await setBackend('wasm');
    }
    x.dispose();
    base.dispose();
  });

  it('DenseNet169 and DenseNet201 without the top, at 96x96, average pooling', async (t) => {
    for (const build of [DenseNet169, DenseNet201]) {
      const model = await build({ includeTop: false, weights: null, inputShape: [96, 96, 3], pooling: 'avg' });
      const x = randomImages([3, 96, 96, 3], 23);
      randomize(model, x);
      await expectOnnxMatchesTfjs(t, model, x, { layers: model.layers.length - 1, minSpread: 0.05, predictBatchSize: 4, runBatchSize: 3 });
      x.dispose();
      model.dispose();
    }
  });

  it('DenseNet121 at 160x160 against torchvision in float64 with the same weights: error < 1e-4, below tfjs wasm', async (t) => {
    const check = spawnSync(PYTHON, ['-c', 'import numpy, h5py, torch, torchvision'], { encoding: 'utf8' });
    if (check.status !== 0) {
      t.skip(`torch/torchvision/h5py not importable by ${PYTHON}: ${(check.stderr || String(check.error)).trim().split('\n').pop()}`);
      return;
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-onnx-densenet-'));
    try {
      const script = path.join(__dirname, 'python', 'densenet_torch_reference.py');
      const r = spawnSync(PYTHON, [script, dir, '160', '3', '--seed', '6'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const { parse } = require('npyjs') as { parse(buffer: ArrayBuffer): { data: Float32Array; shape: number[] } };
      const npy = (name: string) => {
        const bytes = fs.readFileSync(path.join(dir, name));
        return parse(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
      };
      const images = npy('images.npy');
      const exact = npy('max.npy');
      const model = await DenseNet121({
        weights: path.join(dir, 'weights.h5'),
        includeTop: false,
        pooling: 'max',
        inputShape: [160, 160, 3],
      });
      const x = tf.tensor(images.data, images.shape);
      const truth = tf.tensor(exact.data, exact.shape);
      const executor = await createOnnxSession(model);
      const onnx = await executor.run(x);
      const wasm = model.predict(x) as tf.Tensor;
      const onnxError = relativeError(onnx, truth);
      const wasmError = relativeError(wasm, truth);
      t.diagnostic(
        `relative error vs float64: onnx ${onnxError.toExponential(2)}, tfjs wasm ${wasmError.toExponential(2)}, onnx vs wasm ${relativeError(onnx, wasm).toExponential(2)}`,
      );
      tf.dispose([x, truth, onnx, wasm]);
      await executor.dispose();
      model.dispose();
      assert.ok(onnxError < 1e-4, `ONNX is ${onnxError} away from the float64 reference`);
      assert.ok(onnxError <= 2 * wasmError, `ONNX (${onnxError}) is much further from the float64 reference than tfjs wasm (${wasmError})`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
