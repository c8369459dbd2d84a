import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { upscale, Upscale, resizeWithPadGeometry } from '../lib/layers/upscale';
import { ValueError } from '../lib/core/errors';

const PYTHON = '/usr/bin/python3';
// npyjs is ESM-typed; its CommonJS build is what this CommonJS test can load.
const { parse: parseNpy } = require('npyjs') as { parse(buffer: ArrayBuffer): { data: Float32Array; shape: number[] } };

function torchMissing(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import numpy, torch'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `torch/numpy not importable by ${PYTHON}: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`;
}

function readArrayBuffer(file: string): ArrayBuffer {
  const bytes = fs.readFileSync(file);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function applyTo(layer: Upscale, values: number[], shape: [number, number, number, number]): { data: number[]; shape: number[] } {
  const x = tf.tensor4d(values, shape);
  const y = layer.apply(x) as tf.Tensor;
  const out = { data: Array.from(y.dataSync()), shape: y.shape };
  tf.dispose([x, y]);
  return out;
}

describe('upscale (tf.image.resize_with_pad semantics)', () => {
  before(async () => {
    await ready();
  });

  test('2x2 -> 4x4 bilinear with half-pixel centres, values computed by hand', () => {
    // Source coordinates (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped to the edges:
    // a row [1, 2] becomes [1, 1.25, 1.75, 2]; rows mix the same way.
    const out = applyTo(upscale({ height: 4, width: 4 }), [1, 2, 3, 4], [1, 2, 2, 1]);
    assert.deepEqual(out.shape, [1, 4, 4, 1]);
    assert.deepEqual(out.data, [1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4]);
  });

  test('1x2 -> 4x4 keeps the aspect ratio: resized to 2x4, one zero row above and below', () => {
    const out = applyTo(upscale({ height: 4, width: 4 }), [1, 2], [1, 1, 2, 1]);
    assert.deepEqual(out.data, [0, 0, 0, 0, 1, 1.25, 1.75, 2, 1, 1.25, 1.75, 2, 0, 0, 0, 0]);
  });

  test('geometry follows TF in float32: 64x64 -> 160x160 is not padded', () => {
    assert.deepEqual(resizeWithPadGeometry(64, 64, 160, 160), {
      resizedHeight: 160,
      resizedWidth: 160,
      padTop: 0,
      padBottom: 0,
      padLeft: 0,
      padRight: 0,
    });
    // 48x64 -> ratio 0.4, resized 120x160, (160 - 120) / 2 = 20 rows of padding each side.
    assert.deepEqual(resizeWithPadGeometry(48, 64, 160, 160), {
      resizedHeight: 120,
      resizedWidth: 160,
      padTop: 20,
      padBottom: 20,
      padLeft: 0,
      padRight: 0,
    });
  });

  test('computeOutputShape, getConfig and registration', () => {
    const layer = upscale({ height: 160, width: 120, method: 'nearest', name: 'up' });
    assert.deepEqual(layer.computeOutputShape([null, 64, 64, 3]), [null, 160, 120, 3]);
    const config = layer.getConfig();
    assert.equal(config.height, 160);
    assert.equal(config.width, 120);
    assert.equal(config.method, 'nearest');
    const copy = tf.serialization.SerializationMap.getMap().classNameMap.Upscale;
    assert.ok(copy, 'Upscale is registered with tf.serialization');
    const inputs = tf.input({ shape: [64, 64, 3] });
    assert.deepEqual((upscale({ height: 160, width: 160 }).apply(inputs) as tf.SymbolicTensor).shape, [null, 160, 160, 3]);
  });

  test('bad arguments name the argument and the value', () => {
    assert.throws(
      () => upscale({ height: 0, width: 160 }),
      (e: Error) => e instanceof ValueError && /`height`.*height=0/.test(e.message),
    );
    assert.throws(() => upscale({ height: 160, width: 12.5 }), /`width`.*width=12.5/);
    assert.throws(() => upscale({ height: 160, width: 160, method: 'bicubic' as never }), /`method`.*'bilinear', 'nearest'.*"bicubic"/);
    assert.throws(() => upscale({ height: 4, width: 4 }).apply(tf.zeros([2, 2, 1])), /\[batch, height, width, channels\].*\[2, 2, 1\]/);
  });

  test('no tensors leak', () => {
    const layer = upscale({ height: 9, width: 7 });
    const x = tf.randomUniform([2, 5, 3, 2]);
    layer.apply(x); // warm up
    tf.dispose(layer.apply(x) as tf.Tensor);
    const before = tf.memory().numTensors;
    tf.dispose(layer.apply(x) as tf.Tensor);
    assert.equal(tf.memory().numTensors, before);
    x.dispose();
  });

  test('square and non-square, bilinear and nearest, match torch F.interpolate + TF padding', (t) => {
    const missing = torchMissing();
    if (missing) return t.skip(missing);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-upscale-'));
    try {
      const r = spawnSync(PYTHON, [path.join(__dirname, 'python', 'upscale_reference.py'), dir], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const cases = JSON.parse(r.stdout) as {
        name: string;
        height: number;
        width: number;
        method: 'bilinear' | 'nearest';
        resized: number[];
        pad: number[];
      }[];
      for (const c of cases) {
        const input = parseNpy(readArrayBuffer(path.join(dir, `${c.name}_input.npy`)));
        const expected = parseNpy(readArrayBuffer(path.join(dir, `${c.name}_expected.npy`)));
        const g = resizeWithPadGeometry(input.shape[1], input.shape[2], c.height, c.width);
        assert.deepEqual([g.resizedHeight, g.resizedWidth, g.padTop, g.padLeft], [...c.resized, ...c.pad], `${c.name}: geometry`);
        const out = applyTo(
          upscale({ height: c.height, width: c.width, method: c.method }),
          Array.from(input.data),
          input.shape as [number, number, number, number],
        );
        assert.deepEqual(out.shape, expected.shape, `${c.name}: shape`);
        let maxDiff = 0;
        const want = expected.data;
        for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out.data[i] - want[i]));
        assert.ok(maxDiff < 1e-5, `${c.name}: max |tfjs - torch| = ${maxDiff}`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
