/**
 * showImages / imageGrid: the grid PNG holds each image's pixels at the right
 * place (decoded by Pillow), 0..1 images look like their 0..255 originals, the
 * captions carry the class names, and the display goes to the notebook or the terminal.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { ALREADY_SHOWN, JUPYTER_DISPLAY } from '../lib/notebook/display';
import { KERNEL_HOOK } from '../lib/notebook/kernel-hook';
import { ValueError } from '../lib/core/errors';
import { imageGrid, showImages } from '../lib/data/show';

const PYTHON = process.env.TSLAB_DL_PYTHON ?? '/usr/bin/python3';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-show-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
afterEach(() => {
  delete (globalThis as any)[KERNEL_HOOK];
});

function decodeWithPillow(file: string): { mode: string; width: number; height: number; pixels: Buffer } | string {
  const run = spawnSync(PYTHON, [path.join(__dirname, 'python', 'data_png_decode.py'), file], { encoding: 'utf8' });
  if (run.status !== 0)
    return `${PYTHON} cannot decode PNGs with Pillow (${(run.error?.message ?? run.stderr ?? '').trim().split('\n').pop()}); apt-get install python3-pil`;
  const [d] = JSON.parse(run.stdout);
  return { ...d, pixels: Buffer.from(d.pixels, 'base64') };
}

// Six 4x5 images whose pixels encode (image, row, column, channel), so any misplacement shows.
const N = 6;
const H = 4;
const W = 5;
const pixel = (i: number, y: number, x: number, c: number) => (i * 40 + y * 9 + x * 5 + c * 2) % 256;
let images: tf.Tensor4D;
let labels: tf.Tensor1D;
before(async () => {
  await ready();
  const values = new Float32Array(N * H * W * 3);
  for (let i = 0; i < N; i++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) values[((i * H + y) * W + x) * 3 + c] = pixel(i, y, x, c);
  images = tf.tensor4d(values, [N, H, W, 3]);
  labels = tf.tensor1d([3, 0, 9, 5, 1, 7], 'int32');
});

test('the grid PNG has each image, magnified, at its place, with white gaps', (t) => {
  const grid = imageGrid(images, labels, { columns: 4, scale: 2 });
  const gap = 4;
  assert.deepEqual([grid.width, grid.height, grid.columns, grid.rows, grid.count], [4 * 10 + 3 * gap, 2 * 8 + gap, 4, 2, 6]);
  const file = path.join(tmp, 'grid.png');
  fs.writeFileSync(file, grid.png);
  const decoded = decodeWithPillow(file);
  if (typeof decoded === 'string') return t.skip(decoded);
  assert.equal(decoded.mode, 'RGB');
  assert.deepEqual([decoded.width, decoded.height], [grid.width, grid.height]);
  const at = (x: number, y: number) => [...decoded.pixels.subarray((y * grid.width + x) * 3, (y * grid.width + x) * 3 + 3)];
  for (let i = 0; i < N; i++) {
    const x0 = (i % 4) * (10 + gap);
    const y0 = Math.floor(i / 4) * (8 + gap);
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 10; x++) {
        const want = [0, 1, 2].map((c) => pixel(i, y >> 1, x >> 1, c));
        assert.deepEqual(at(x0 + x, y0 + y), want, `image ${i}, grid pixel (${x}, ${y})`);
      }
    }
  }
  assert.deepEqual(at(10, 0), [255, 255, 255], 'gap between columns');
  assert.deepEqual(at(2 * (10 + gap) + 3, 8 + gap + 2), [255, 255, 255], 'empty cells after the last image');
});

test('images scaled to 0..1 give the same picture as 0..255', () => {
  const scaled = tf.tidy(() => images.div(255));
  const a = imageGrid(images, labels, { scale: 1 });
  const b = imageGrid(scaled, labels, { scale: 1 });
  assert.ok(a.png.equals(b.png));
  assert.match(b.text, /shown as 0\.\.1 scaled to 0\.\.255/);
  scaled.dispose();
});

test('captions carry the class names; the HTML embeds one PNG per image above its caption', () => {
  const grid = imageGrid(images, labels);
  assert.deepEqual(grid.captions, [
    'running shoe (3)',
    'day bed (0)',
    'washing machine (9)',
    'street sign (5)',
    'dishrag (1)',
    'tile roof (7)',
  ]);
  assert.equal(grid.html.match(/<img src="data:image\/png;base64,/g)?.length, N);
  assert.ok(grid.html.indexOf('running shoe (3)') > grid.html.indexOf('<img'));
  assert.match(grid.text, /^6 of 6 images, 4x5x3 \(values \d+\.\.\d+\):\n  running shoe \(3\), day bed \(0\)/);
  const bundle = grid[JUPYTER_DISPLAY]();
  assert.deepEqual(Object.keys(bundle).sort(), ['image/png', 'text/html', 'text/plain']);
  assert.ok(Buffer.from(bundle['image/png'] as string, 'base64').equals(grid.png));
  const custom = imageGrid(images, [0, 1, 0, 1, 0, 1], { classNames: ['cat', 'dog'], count: 2 });
  assert.deepEqual(custom.captions, ['cat (0)', 'dog (1)']);
  assert.deepEqual(imageGrid(images).captions.slice(0, 2), ['#0', '#1']);
});

test('in a notebook, showImages sends the bundle to the kernel once and returns the grid marked as shown', () => {
  const shown: any[] = [];
  (globalThis as any)[KERNEL_HOOK] = { display: (data: unknown) => shown.push(data), interruptRequested: false };
  const before = tf.memory().numTensors;
  const grid = showImages(images, labels, { count: 3 });
  assert.equal(tf.memory().numTensors, before, 'no tensor leaked');
  assert.equal(shown.length, 1);
  assert.match(shown[0]['text/html'], /running shoe \(3\)/);
  assert.ok(Buffer.from(shown[0]['image/png'], 'base64').equals(grid.png));
  assert.equal((grid as any)[ALREADY_SHOWN], true, 'the kernel does not show the returned grid a second time as Out[n]');
  assert.equal(inspect(grid), `ImageGrid { 3 images, 3 per row, PNG ${grid.width}x${grid.height} }`);
});

test('in a terminal, showImages prints the summary and can write the PNG', () => {
  const printed: string[] = [];
  const write = process.stdout.write;
  // Record and pass through: the test runner reports results on the same stream.
  process.stdout.write = ((chunk: string, ...rest: any[]) => (
    printed.push(String(chunk)),
    write.call(process.stdout, chunk, ...rest)
  )) as typeof process.stdout.write;
  const file = path.join(tmp, 'out', 'images.png');
  let grid;
  try {
    grid = showImages(images, labels, { file });
  } finally {
    process.stdout.write = write;
  }
  assert.match(printed.join(''), /6 of 6 images, 4x5x3/);
  assert.match(printed.join(''), new RegExp(`saved to ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.ok(fs.readFileSync(file).equals(grid.png));
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ['images.png']);
});

test('bad arguments name the argument', () => {
  const rank3 = tf.zeros([2, 2, 3]);
  assert.throws(
    () => imageGrid(rank3 as any),
    (e: Error) =>
      e instanceof ValueError &&
      /showImages\(images\): expected a tensor of shape \[n, height, width, 3\] \(or 1 channel\)\. Received a tensor of shape \[2,2,3\]/.test(
        e.message,
      ),
  );
  rank3.dispose();
  assert.throws(() => imageGrid(images, [1, 2]), /showImages\(labels\): 2 labels for 6 images/);
  assert.throws(() => imageGrid(images, labels, { count: 0 }), /showImages\(options\.count\): must be a positive integer\. Received 0/);
  assert.equal(imageGrid(images, labels, { count: 100 }).count, N, 'a count beyond the data shows all images');
});
