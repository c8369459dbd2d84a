/**
 * ONNX Runtime's WebGPU execution provider, on a software Vulkan (Mesa 25's lavapipe, from
 * scripts/fetch-lavapipe.sh; test/support/vulkan.ts): the WebGPU executor computes what the CPU
 * executor computes on DenseNet121, in a session that may not fall back to the CPU; 'auto' does not
 * take a software adapter; forcing WebGPU where there is no adapter is a clear error, and a GPU
 * session that fails falls back to the CPU with a one-line note. Dawn reads the Vulkan loader's
 * environment when it loads, so each case runs in a child process (test/support/onnx-webgpu-child.ts).
 * Software Vulkan is slow: DenseNet121 at 64x64, three images.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { lavapipeEnv } from './support/vulkan';

const ROOT = path.resolve(__dirname, '..');
const CHILD = path.join(__dirname, 'support', 'onnx-webgpu-child.ts');

/** Runs the child in `mode` with `env` added; its RESULT line, parsed. */
function child(mode: string, env: NodeJS.ProcessEnv): any {
  const base = { ...process.env };
  delete base.TSLAB_DL_EXECUTOR;
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, mode], {
    cwd: ROOT,
    env: { ...base, ...env },
    encoding: 'utf8',
    timeout: 300_000,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line, `the child printed no result (exit ${r.status}, ${r.signal ?? 'no signal'}): ${r.stderr.slice(-2000)}`);
  const result = JSON.parse(line.slice('RESULT '.length));
  assert.equal(result.error, undefined, result.error);
  return result;
}

describe('ONNX Runtime on WebGPU (lavapipe)', () => {
  const lavapipe = lavapipeEnv();
  let seen: any;
  const run = () => (seen ??= child('lavapipe', lavapipe.env!));

  test('DenseNet121 at 64x64: the WebGPU executor equals the CPU executor (relative error < 1e-4), with no CPU fallback in the session', (t) => {
    if (!lavapipe.env) return t.skip(lavapipe.missing);
    const r = run();
    assert.equal(r.translated, r.total, 'every layer on ONNX');
    assert.deepEqual(r.gpu.providers, ['webgpu']);
    assert.equal(r.gpu.fellBack, false);
    assert.match(r.gpu.note, /^ONNX Runtime on WebGPU: llvmpipe.* \(software\)$/);
    assert.deepEqual(r.cpu.providers, ['cpu']);
    // The sessions as onnxruntime-node received them: the WebGPU one alone, CPU fallback disabled.
    const webgpu = r.sessionOptions.find((o: any) => o.executionProviders[0] === 'webgpu');
    assert.deepEqual(webgpu.executionProviders, ['webgpu']);
    assert.equal(webgpu.extra.session.disable_cpu_ep_fallback, '1');
    const cpu = r.sessionOptions.find((o: any) => o.executionProviders[0] === 'cpu');
    assert.equal(cpu.extra.session.disable_cpu_ep_fallback, undefined);
    assert.ok(r.relativeError < 1e-4, `relative error ${r.relativeError}`);
    assert.ok(r.relativeError > 0 || r.maxAbsDifference === 0);
    assert.equal(r.repeatRelativeError, 0, 'the same inputs twice give the same bits');
    t.diagnostic(
      `lavapipe WebGPU: session ${r.gpu.sessionMs.toFixed(0)} ms, first run ${r.gpu.firstMs.toFixed(0)} ms, then ${r.gpu.ms.toFixed(0)} ms; ` +
        `CPU ${r.cpu.ms.toFixed(0)} ms (3 images); max |difference| ${r.maxAbsDifference.toExponential(2)} of max |output| ${r.maxAbsOutput.toFixed(2)}`,
    );
  });

  test("with only a software adapter, 'auto', a plain executor and frozenFeatures take the CPU provider", (t) => {
    if (!lavapipe.env) return t.skip(lavapipe.missing);
    const r = run();
    assert.deepEqual(r.auto.route, { name: 'onnx', engine: 'onnx', provider: 'cpu' });
    assert.equal(r.auto.executorProvider, 'cpu');
    assert.equal(r.auto.executorNote, 'ONNX Runtime on the CPU');
    assert.equal(r.auto.featuresProvider, 'cpu');
  });
});

describe('ONNX Runtime on WebGPU without any adapter', () => {
  // A Vulkan loader told to read a driver file that does not exist finds no driver on any machine.
  const none = { VK_ICD_FILENAMES: '/nonexistent/tslab-dl-icd.json', VK_DRIVER_FILES: '/nonexistent/tslab-dl-icd.json' };
  let seen: any;
  const run = () => (seen ??= child('no-adapter', none));

  test("forcing 'onnx-webgpu' is an error naming it, why, and what to do", () => {
    const r = run();
    assert.match(
      r.forced,
      /^executor 'onnx-webgpu' cannot be used: ONNX Runtime's WebGPU provider is not available here \(no WebGPU adapter/,
    );
    assert.match(r.forced, /apt-get install libvulkan1/);
    assert.match(r.forced, /nvidia_icd\.json/);
    assert.match(r.forced, /Or use executor 'onnx' \(the best provider available\) or 'onnx-cpu'\.$/);
    assert.match(r.forcedExecutor, /^provider 'webgpu' cannot be used: ONNX Runtime's WebGPU provider is not available here/);
  });

  test('a WebGPU session that cannot open falls back to the CPU with a one-line note, and is not tried again', () => {
    const r = run();
    assert.equal(r.fallback.provider, 'cpu');
    assert.equal(r.fallback.fellBack, true);
    assert.match(r.fallback.note, /^ONNX Runtime on the CPU \(WebGPU could not run it: .*adapter.*\)$/);
    assert.ok(!r.fallback.note.includes('\n'));
    assert.deepEqual(r.afterFailure, { provider: 'cpu', fellBack: false, note: 'ONNX Runtime on the CPU' });
    // Forced, the same failure is an error, not a fallback.
    assert.match(
      r.forcedSession,
      /^ONNX Runtime could not open a session on WebGPU for the whole graph \(no CPU fallback\): .*adapter.*Use executor 'onnx'/,
    );
  });
});
