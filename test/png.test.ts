/**
 * encodePng, decoded by an independent decoder (Pillow): every pixel comes back,
 * RGB and RGBA, odd sizes, and a width of one pixel.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ValueError } from '../lib/core/errors';
import { encodePng } from '../lib/notebook/png';

const PYTHON = process.env.TSLAB_DL_PYTHON ?? '/usr/bin/python3';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-png-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function pillowMissing(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import PIL'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : `${PYTHON} cannot import PIL (apt-get install python3-pil)`;
}

/** Decodes PNG files with Pillow: mode, size and raw pixel bytes. */
function decodeWithPillow(files: string[]): { mode: string; width: number; height: number; pixels: Buffer }[] {
  const run = spawnSync(PYTHON, [path.join(__dirname, 'python', 'data_png_decode.py'), ...files], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout).map((d: any) => ({ ...d, pixels: Buffer.from(d.pixels, 'base64') }));
}

test('Pillow decodes our PNGs to the exact pixels, RGB and RGBA, at odd sizes', (t) => {
  const missing = pillowMissing();
  if (missing) return t.skip(missing);
  const gradient = new Uint8Array(257 * 3 * 3).map((_, i) => (i * 7) % 256);
  const cases: [number, number, 3 | 4, Uint8Array][] = [
    [7, 5, 3, randomBytes(7 * 5 * 3)],
    [3, 9, 4, randomBytes(3 * 9 * 4)],
    [1, 1, 3, new Uint8Array([255, 0, 128])],
    [1, 6, 4, randomBytes(6 * 4)],
    [257, 3, 3, gradient],
  ];
  const files = cases.map(([w, h, c, pixels], i) => {
    const file = path.join(tmp, `case-${i}.png`);
    fs.writeFileSync(file, encodePng(w, h, pixels, c));
    return file;
  });
  const decoded = decodeWithPillow(files);
  cases.forEach(([w, h, c, pixels], i) => {
    assert.equal(decoded[i].mode, c === 3 ? 'RGB' : 'RGBA', `case ${i}`);
    assert.deepEqual([decoded[i].width, decoded[i].height], [w, h], `case ${i}`);
    assert.ok(decoded[i].pixels.equals(Buffer.from(pixels)), `case ${i}: pixels differ`);
  });
});

test('the file starts with the PNG signature and an IHDR chunk with our size', () => {
  const png = encodePng(300, 2, new Uint8Array(300 * 2 * 4), 4);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(png.subarray(12, 16).toString('latin1'), 'IHDR');
  assert.equal(png.readUInt32BE(16), 300);
  assert.equal(png.readUInt32BE(20), 2);
  assert.deepEqual([png[24], png[25]], [8, 6]); // 8 bits, RGBA
  assert.equal(png.subarray(png.length - 8, png.length - 4).toString('latin1'), 'IEND');
  // The CRC of IEND (no data) is the well-known AE 42 60 82.
  assert.deepEqual([...png.subarray(png.length - 4)], [0xae, 0x42, 0x60, 0x82]);
});

test('wrong arguments name the argument and the value', () => {
  assert.throws(
    () => encodePng(0, 1, new Uint8Array(0), 3),
    (e: Error) => e instanceof ValueError && /encodePng\(width\): must be a positive integer\. Received 0/.test(e.message),
  );
  assert.throws(
    () => encodePng(2, 2, new Uint8Array(12), 4),
    /expected a Uint8Array of width \* height \* channels = 16 bytes\. Received 12 bytes/,
  );
  assert.throws(() => encodePng(2, 2, new Uint8Array(12), 2 as any), /encodePng\(channels\): must be 3 \(RGB\) or 4 \(RGBA\)\. Received 2/);
});
