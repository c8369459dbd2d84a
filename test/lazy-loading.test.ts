/**
 * `import 'tslab-dl'` (the lesson's first cell) loads only what the first cells use: the packages
 * for plots (vega, vega-lite, resvg), weights files (h5wasm), downloads (undici), ONNX Runtime,
 * WebGPU (Dawn) and the wasm backend itself load when a function needs them. Checked in a fresh
 * Node process each time (the modules it holds, from `require.cache`), then the same functions
 * are called there and the packages they need are loaded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

/** Runs `code` (CommonJS, with `lib` the library) in a fresh Node process; returns what it prints as JSON. */
function inFreshProcess(code: string): Record<string, string[]> {
  const script = `
    const packagesLoaded = () => [...new Set(Object.keys(require.cache)
      .map((f) => (f.match(/node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/) || [])[1])
      .filter(Boolean).map((p) => p.replace(/\\\\/g, '/')))].sort();
    const lib = require(${JSON.stringify(path.join(ROOT, 'lib', 'index.ts'))});
    const out = { afterImport: packagesLoaded() };
    (async () => { ${code} })().then(
      () => { process.stdout.write(JSON.stringify(out)); process.exit(0); },
      (e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });`;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, `the child process failed: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

const LATER = [
  'undici',
  'vega',
  'vega-lite',
  '@resvg/resvg-js',
  'h5wasm',
  'onnxruntime-node',
  'onnxruntime-common',
  'webgpu',
  '@tensorflow/tfjs-backend-webgpu',
  '@tensorflow/tfjs-backend-wasm',
  'typescript',
  'tslab',
];

test('importing tslab-dl loads TensorFlow.js but none of the packages only later cells need', () => {
  const { afterImport } = inFreshProcess('');
  assert.ok(afterImport.includes('@tensorflow/tfjs-core'), `TensorFlow.js is loaded: ${afterImport.join(', ')}`);
  assert.deepEqual(
    LATER.filter((p) => afterImport.includes(p)),
    [],
    `loaded at import: ${afterImport.join(', ')}`,
  );
});

test('the packages load when a function needs them: plots (vega), downloads (undici), the backend (wasm)', () => {
  const out = inFreshProcess(`
    const figure = lib.historyFigure({ history: { accuracy: [0.5, 0.7], val_accuracy: [0.4, 0.6] }, epoch: [0, 1] }, ['accuracy', 'val_accuracy']);
    if (!figure.svg.startsWith('<svg')) throw new Error('no SVG');
    out.afterPlot = packagesLoaded();
    // A port nobody listens on: the request fails, after loading what makes it.
    await lib.downloadFile('http://127.0.0.1:9/none', require('path').join(require('os').tmpdir(), 'tslab-dl-lazy-test.bin')).catch(() => undefined);
    out.afterDownload = packagesLoaded();
    await lib.ready();
    out.afterReady = packagesLoaded();
  `);
  for (const p of ['vega', 'vega-lite']) assert.ok(out.afterPlot.includes(p), `${p} loaded for a figure: ${out.afterPlot.join(', ')}`);
  assert.ok(!out.afterPlot.includes('undici'), 'a figure needs no undici');
  assert.ok(out.afterDownload.includes('undici'), `undici loaded for a download: ${out.afterDownload.join(', ')}`);
  assert.ok(out.afterReady.includes('@tensorflow/tfjs-backend-wasm'), `the wasm backend loaded by ready(): ${out.afterReady.join(', ')}`);
});
