/**
 * Test support for comparisons with torch/torchvision: the reference scripts (test/python/*) run
 * under Debian's /usr/bin/python3, write .npy and .h5 files into a fresh folder, and the tests
 * compare the library's numbers with them.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';

export const PYTHON = '/usr/bin/python3';
const { parse: parseNpy } = require('npyjs') as { parse(buffer: ArrayBuffer): { data: Float32Array; shape: number[] } };

/** Why the torch comparisons cannot run here, or undefined when they can. */
export function torchMissing(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import numpy, h5py, torch, torchvision'], { encoding: 'utf8' });
  return r.status === 0
    ? undefined
    : `torch/torchvision/h5py not importable by ${PYTHON}: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`;
}

/** A float .npy file written by a reference script. */
export function readNpy(file: string): { data: Float32Array; shape: number[] } {
  const bytes = fs.readFileSync(file);
  return parseNpy(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
}

/** Runs `test/python/<script> <fresh folder> ...args` and returns the folder it wrote into. */
export function runReference(script: string, label: string, args: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tslab-dl-${label}-`));
  const r = spawnSync(PYTHON, [path.join(__dirname, '..', 'python', script), dir, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return dir;
}

/** max |a - b| / max |b|: the error relative to the scale of the reference. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

/** The features differ between the first two images (a constant output would match trivially). */
export function assertVaries(values: Float32Array, batch: number): void {
  const n = values.length / batch;
  let differs = 0;
  for (let i = 0; i < n; i++) if (Math.abs(values[i] - values[n + i]) > 1e-3 * Math.abs(values[i]) + 1e-6) differs++;
  assert.ok(differs > n / 2, `only ${differs} of ${n} features differ between the two images`);
}

/** `model`'s output for the reference images, as plain values (no tensor left). */
export async function predictValues(model: tf.LayersModel, images: { data: Float32Array; shape: number[] }): Promise<Float32Array> {
  const x = tf.tensor(images.data, images.shape);
  const y = model.predict(x) as tf.Tensor;
  const values = (await y.data()) as Float32Array;
  tf.dispose([x, y]);
  return values;
}
