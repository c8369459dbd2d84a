/**
 * The real tslab-dl kernel on the webgpu backend (forced, on Mesa's lavapipe): a tensor computed on
 * the GPU, the last expression of a cell, is shown with its values (read asynchronously: a
 * synchronous read fails there), the start-up line names the backend, and a synchronous read in a
 * cell is an error that says what to do, after which the kernel still runs cells.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jupyterMissing, jupyterSandbox, runCellsInKernel } from './support/jupyter';
import { lavapipeEnv } from './support/vulkan';

test('the kernel on webgpu (lavapipe) shows a tensor computed on the GPU, and explains a synchronous read', { timeout: 600_000 }, (t) => {
  const missing = jupyterMissing();
  if (missing) return t.skip(missing);
  const { env: vulkan, missing: noLavapipe } = lavapipeEnv();
  if (!vulkan) return t.skip(noLavapipe!);
  const sandbox = jupyterSandbox({ ...vulkan, TSLAB_DL_BACKEND: 'webgpu' });
  try {
    const cells = [
      "import { tf, backendInfo } from 'tslab-dl';\nconst info = backendInfo();\n[info.backend, info.tfBackend, info.usingGpu].join(' ')",
      // 4096 values: above the size the webgpu backend computes on the CPU, so this runs on the GPU.
      'const onGpu = tf.mul(tf.range(0, 4096), 0.5).reshape([64, 64]);\nonGpu',
      'tf.sum(onGpu)',
      'onGpu.add(1).dataSync()[0]',
      '6 * 7',
    ];
    const outputs = runCellsInKernel(cells, sandbox.env, 240);
    const result = (i: number) => outputs[i].find((o) => o.output_type === 'execute_result');

    assert.equal(result(0)?.data?.['text/plain'], "'webgpu webgpu false'", JSON.stringify(outputs[0]));
    // A software adapter runs on the CPU, and the start-up line says so.
    const startup = outputs[0]
      .filter((o) => o.output_type === 'stream')
      .map((o) => o.text)
      .join('');
    assert.match(
      startup,
      /tslab-dl: TensorFlow\.js 4\.22\.0 on webgpu \(llvmpipe.*: a software adapter, slower than wasm\) \(chosen by TSLAB_DL_BACKEND\); frozen layers on ONNX Runtime 1\.30\.0\./,
    );

    const matrix = result(1)?.data;
    assert.ok(matrix, JSON.stringify(outputs[1]));
    // tfjs' own print format: the values 0, 0.5, 1, ... 2047.5 (by hand: 0.5 * i).
    assert.match(
      matrix['text/plain'],
      /^Tensor\n {2}dtype: float32\n {2}rank: 2\n {2}shape: \[64,64\]\n {2}values:\n {4}\[\[0 +, 0\.5 +, 1 +, \.\.\., 30\.5 +, 31 +, 31\.5 +\],\n {5}\[32 +, 32\.5 +,/,
    );
    assert.match(matrix['text/plain'], /\[2016, 2016\.5, 2017, \.\.\., 2046\.5, 2047, 2047\.5\]\]$/);
    assert.match(matrix['text/html'], /shape <code>\[64,64\]<\/code>/);
    // sum(0.5 * i for i < 4096) = 0.5 * 4095 * 4096 / 2 = 4193280.
    assert.match(result(2)?.data?.['text/plain'] ?? '', /values:\n {4}4193280$/);

    const error = outputs[3].find((o) => o.output_type === 'error');
    assert.ok(error, JSON.stringify(outputs[3]));
    assert.equal(error.ename, 'BackendError');
    assert.match(error.evalue!, /cannot read a tensor computed on the GPU synchronously/);
    assert.match(error.evalue!, /await t\.data\(\)/);
    assert.equal(result(4)?.data?.['text/plain'], '42');
  } finally {
    sandbox.dispose();
  }
});
