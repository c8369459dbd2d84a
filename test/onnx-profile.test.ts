/**
 * The executor's `profilePrefix`: onnxruntime's per-kernel profile, complete once the executor
 * is disposed, and bench/onnx-profile.ts groups its kernels and counts the convolutions'
 * multiply-adds, checked here against a count by hand.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { setBackend } from '../lib/backends/selection';
import { createOnnxSession } from '../lib/onnx';
import { summarizeOnnxProfile } from '../bench/onnx-profile';
import { randomImages, randomizeWeights } from '../bench/onnx-fixtures';

const L = tf.layers;

before(async () => {
  await setBackend('cpu');
});

/** input 12x12x16 -> [conv 3x3 (32 filters) -> BN -> ReLU, BN -> ReLU] -> concat: DenseNet's pieces. */
function denseLayerModel(): tf.LayersModel {
  const input = tf.input({ shape: [12, 12, 16] });
  const conv = L.conv2d({ filters: 32, kernelSize: 3, padding: 'same', useBias: false }).apply(input) as tf.SymbolicTensor;
  const convOut = L.reLU().apply(L.batchNormalization().apply(conv)) as tf.SymbolicTensor;
  const preActivation = L.reLU().apply(L.batchNormalization().apply(input)) as tf.SymbolicTensor;
  const output = L.concatenate().apply([preActivation, convOut]) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: output });
  randomizeWeights(model, 3);
  return model;
}

describe('ONNX executor profile (profilePrefix)', () => {
  it('writes one profile, complete once the executor is disposed; its convolution multiply-adds match a count by hand', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-profile-test-'));
    const model = denseLayerModel();
    const x = randomImages([6, 12, 12, 16]);
    try {
      const executor = await createOnnxSession(model, { profilePrefix: path.join(dir, 'dense'), maxImagesPerCall: 2 });
      (await executor.run(x, { batchSize: 6 })).dispose();
      await executor.dispose();
      const files = fs.readdirSync(dir);
      assert.equal(files.length, 1, files.join(', '));
      assert.match(files[0], /^dense.*\.json$/);

      const profile = summarizeOnnxProfile(path.join(dir, files[0]));
      // 3 calls of 2 images; the first is the warm-up.
      assert.equal(profile.images, 4);
      // 12 x 12 outputs x 32 filters x (3 x 3 x 16) multiply-adds.
      assert.equal(profile.convolutionMacsPerImage, 12 * 12 * 32 * 3 * 3 * 16);
      assert.ok(profile.msPerImage.convolution > 0, JSON.stringify(profile));
      assert.ok(profile.msPerImage['batch normalization'] > 0, 'the BatchNormalization not after a Conv is a kernel of its own');
      assert.ok(profile.msPerImage.concatenation > 0, JSON.stringify(profile));
      assert.ok(profile.convolutionGflops > 0 && Number.isFinite(profile.convolutionGflops));
    } finally {
      x.dispose();
      model.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes nothing without profilePrefix', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-profile-test-'));
    const cwd = process.cwd();
    const model = denseLayerModel();
    const x = randomImages([2, 12, 12, 16]);
    try {
      // onnxruntime writes profiles relative to the working directory by default.
      process.chdir(dir);
      const executor = await createOnnxSession(model);
      (await executor.run(x)).dispose();
      await executor.dispose();
      assert.deepEqual(fs.readdirSync(dir), []);
    } finally {
      process.chdir(cwd);
      x.dispose();
      model.dispose();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a profile without a timed run', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-profile-test-'));
    try {
      const file = path.join(dir, 'empty.json');
      fs.writeFileSync(file, JSON.stringify([{ cat: 'Session', name: 'model_run', ts: 1, dur: 5 }]));
      assert.throws(() => summarizeOnnxProfile(file), /empty\.json: the profile holds 1 run\(s\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
