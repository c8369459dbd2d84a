// The webgpu backend: chosen only on a hardware WebGPU adapter, forced by TSLAB_DL_BACKEND=webgpu
// (also on a software one), reported by backendInfo(); the lesson's head trains on it with wasm's
// losses; the library's reads work on it; the kernels it lacks are none the library's layers use,
// and an operation needing one is an explained BackendError. The parts that need an adapter run in
// a child process (test/support/webgpu-child.ts) with Mesa's lavapipe (test/support/vulkan.ts):
// Dawn reads VK_ICD_FILENAMES when it loads. Software Vulkan is slow: everything there is small.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { BackendError, backendSummary, BackendInfo, explainBackendError, ready, resetBackendChoice } from '../lib/backends/selection';
import { buildHead } from '../lib/train/head';
import { sparseCategoricalCrossentropy } from '../lib/train/losses';
import { normalization } from '../lib/layers/normalization';
import { rescaling } from '../lib/layers/rescaling';
import { upscale } from '../lib/layers/upscale';
import { randomContrast, randomFlip, randomRotation, randomTranslation, randomZoom } from '../lib/layers/augmentation';
import { kerasAccuracy } from '../lib/train/metrics';
import { applyKerasCompileSemantics } from '../lib/compat/keras-compile';
import { webgpuMissingKernels } from '../lib/backends/webgpu';
import { lavapipeEnv } from './support/vulkan';

const ROOT = path.resolve(__dirname, '..');
const NATIVE_INSTALLED = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'].some((p) =>
  fs.existsSync(path.join(ROOT, 'node_modules', p, 'package.json')),
);

/** Runs a scenario of test/support/webgpu-child.ts with `env` added (undefined values removed); its JSON result. */
function child(scenario: string, env: NodeJS.ProcessEnv, timeout = 240_000): any {
  const full: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [key, value] of Object.entries(full)) if (value === undefined) delete full[key];
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join('test', 'support', 'webgpu-child.ts'), scenario], {
    cwd: ROOT,
    env: full,
    encoding: 'utf8',
    timeout,
  });
  const last = (run.stdout ?? '').trim().split('\n').pop() ?? '';
  let result: any;
  try {
    result = JSON.parse(last);
  } catch {
    assert.fail(`the ${scenario} child printed no result (status ${run.status}, signal ${run.signal}):\n${run.stdout}\n${run.stderr}`);
  }
  assert.equal(result.error, undefined, result.error);
  return { ...result, stderr: run.stderr };
}

/** Dawn's and the Vulkan loader's messages, which the automatic choice must not print. */
const DAWN_NOISE = /Warning:|XDG_RUNTIME_DIR|While initializing adapter/;

/** The lavapipe environment, or the reason to skip. */
function lavapipe(t: { skip(message: string): void }): NodeJS.ProcessEnv | undefined {
  const { env, missing } = lavapipeEnv();
  if (!env) t.skip(missing!);
  return env;
}

const candidate = (info: BackendInfo, name: string) => {
  const found = info.candidates.find((c) => c.name === name)!;
  return { ...found, reason: found.reason ?? '(no reason)' };
};

afterEach(() => resetBackendChoice());

describe('choosing webgpu', () => {
  test('with no WebGPU adapter (no Vulkan driver), wasm is chosen as before, and webgpu, not tried, says why', () => {
    const nowhere = path.join(ROOT, 'no-such-folder', 'icd.json');
    const { info, summary } = child('select', { VK_ICD_FILENAMES: nowhere, VK_DRIVER_FILES: nowhere, TSLAB_DL_BACKEND: undefined });
    assert.equal(info.backend, 'wasm');
    assert.equal(info.usingGpu, false);
    const webgpu = candidate(info, 'webgpu');
    assert.deepEqual([webgpu.installed, webgpu.version, webgpu.usable], [true, '4.22.0', undefined]);
    assert.equal(
      webgpu.reason,
      `no WebGPU adapter: no Vulkan driver is installed (VK_DRIVER_FILES names ${nowhere}, which does not exist)`,
    );
    assert.equal(info.webgpu.adapter, undefined);
    // The start-up line is today's: an absent GPU is not a failure to report.
    if (!NATIVE_INSTALLED)
      assert.equal(summary, 'tslab-dl: TensorFlow.js 4.22.0 on wasm (tfjs-node-gpu: not installed; tfjs-node: not installed)');
  });

  test('TSLAB_DL_BACKEND=webgpu with no adapter fails loudly, naming why', async () => {
    await assert.rejects(
      ready({ env: { TSLAB_DL_BACKEND: 'webgpu' }, probeWebGpu: async () => ({ reason: 'no WebGPU adapter: stand-in reason' }) }),
      (e: Error) => {
        assert.ok(e instanceof BackendError);
        assert.equal(e.backend, 'webgpu');
        assert.match(
          e.message,
          /^The webgpu backend \(asked for by TSLAB_DL_BACKEND\) cannot be used:\n {2}webgpu: no WebGPU adapter: stand-in reason\n/,
        );
        return true;
      },
    );
  });

  test('with only a software adapter (lavapipe), wasm is still chosen: software adapters are never chosen automatically', (t) => {
    const env = lavapipe(t);
    if (!env) return;
    const { info, summary, stderr } = child('select', { ...env, TSLAB_DL_BACKEND: undefined });
    assert.equal(info.backend, 'wasm');
    const webgpu = candidate(info, 'webgpu');
    assert.equal(webgpu.usable, undefined);
    // Told from the driver's manifest, without starting Dawn: nothing on stderr.
    assert.equal(
      webgpu.reason,
      'no hardware WebGPU adapter: only software Vulkan drivers (lvp_icd.json), which emulate a GPU on the CPU, slower than wasm: ' +
        'never chosen automatically (TSLAB_DL_BACKEND=webgpu uses one anyway)',
    );
    assert.doesNotMatch(stderr, DAWN_NOISE);
    if (!NATIVE_INSTALLED)
      assert.equal(summary, 'tslab-dl: TensorFlow.js 4.22.0 on wasm (tfjs-node-gpu: not installed; tfjs-node: not installed)');
  });

  test('a driver that is not a software one is checked by Dawn in a child process: its messages stay out of this process', (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-icd-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const manifest = path.join(dir, 'nvidia_icd.json');
    fs.writeFileSync(
      manifest,
      JSON.stringify({ file_format_version: '1.0.0', ICD: { library_path: path.join(dir, 'libGLX_nvidia.so.0'), api_version: '1.3.0' } }),
    );
    const { info, stderr } = child('select', { VK_ICD_FILENAMES: manifest, VK_DRIVER_FILES: manifest, TSLAB_DL_BACKEND: undefined });
    assert.equal(info.backend, 'wasm');
    assert.match(candidate(info, 'webgpu').reason, /^no WebGPU adapter: Dawn found no usable Vulkan driver/);
    assert.doesNotMatch(stderr, DAWN_NOISE);
  });

  test('TSLAB_DL_BACKEND=webgpu on lavapipe: webgpu is used and reported, with the kernels it lacks; its limits are explained', (t) => {
    const env = lavapipe(t);
    if (!env) return;
    const result = child('select', { ...env, TSLAB_DL_BACKEND: 'webgpu' });
    const info: BackendInfo = result.info;
    assert.deepEqual([info.backend, info.tfBackend, info.requestedBy], ['webgpu', 'webgpu', 'TSLAB_DL_BACKEND']);
    assert.equal(info.usingGpu, false, 'a software adapter runs on the CPU');
    assert.equal(candidate(info, 'webgpu').usable, true);
    assert.match(info.webgpu!.adapter!.description, /^llvmpipe/);
    assert.ok(info.webgpu!.missingKernels!.includes('Unique'), JSON.stringify(info.webgpu!.missingKernels));
    assert.match(
      result.summary,
      /^tslab-dl: TensorFlow\.js 4\.22\.0 on webgpu \(llvmpipe.*: a software adapter, slower than wasm\) \[TSLAB_DL_BACKEND\]$/,
    );
    // A kernel webgpu lacks: tfjs' error, named, with what to do.
    assert.match(
      result.missingKernel,
      /^The webgpu backend has no 'Unique' kernel .*Kernel 'Unique' not registered for backend 'webgpu'\n/,
    );
    assert.match(result.missingKernel, /the tensors and models you made are intact/);
    assert.match(result.missingKernel, /`await setBackend\('wasm'\)`/);
    assert.match(result.missingKernel, /TSLAB_DL_BACKEND=wasm/);
    // A synchronous read of a result computed on the GPU fails; the asynchronous one works.
    assert.match(result.syncRead, /^The webgpu backend cannot read a tensor computed on the GPU synchronously in Node/);
    assert.match(result.syncRead, /`await t\.data\(\)`/);
    assert.equal(result.asyncRead, 3 * 4096);
  });

  test('a hardware adapter (the probe says so; lavapipe computes) is chosen by the default order, and runs on the GPU', (t) => {
    const env = lavapipe(t);
    if (!env) return;
    const { info, summary } = child('hardware', { ...env, TSLAB_DL_BACKEND: undefined });
    assert.deepEqual([info.backend, info.tfBackend, info.requestedBy, info.usingGpu], ['webgpu', 'webgpu', 'default', true]);
    assert.match(candidate(info, 'wasm').reason, /^not tried: webgpu comes first and was chosen$/);
    assert.match(summary, /^tslab-dl: TensorFlow\.js 4\.22\.0 on webgpu \(a hardware adapter \(stand-in for lavapipe\)\)/);
  });
});

describe('training and the library on webgpu (lavapipe)', () => {
  test("the lesson's head trains one epoch with wasm's losses (same seed, same data, unshuffled)", (t) => {
    const env = lavapipe(t);
    if (!env) return;
    const result = child('train', { ...env, TSLAB_DL_BACKEND: undefined });
    assert.deepEqual([result.chosen, result.after], ['wasm', 'webgpu']);
    assert.equal(result.webgpu.length, result.wasm.length);
    assert.ok(result.wasm.length >= 4);
    result.wasm.forEach((loss: number, i: number) => {
      assert.ok(Number.isFinite(loss));
      assert.ok(Math.abs(result.webgpu[i] - loss) < 1e-4, `batch ${i}: wasm ${loss}, webgpu ${result.webgpu[i]}`);
    });
    t.diagnostic(`one epoch of 64 samples: wasm ${result.seconds.wasm} s, webgpu on lavapipe ${result.seconds.webgpu} s`);
  });

  test("the library's reads work on webgpu: feature cache, fit, predict, evaluate, labels, confusion matrix, images, augmentation, saving weights", (t) => {
    const env = lavapipe(t);
    if (!env) return;
    const { wasm, webgpu } = child('library', { ...env, TSLAB_DL_BACKEND: undefined });
    const close = (a: number[], b: number[], tolerance: number, what: string) => {
      assert.equal(a.length, b.length, what);
      const worst = Math.max(...a.map((v, i) => Math.abs(v - b[i])));
      assert.ok(worst <= tolerance, `${what}: differs by ${worst}`);
    };
    assert.equal(webgpu.fingerprint, wasm.fingerprint, 'fingerprint of a tensor computed on the GPU');
    assert.equal(webgpu.modelFingerprint, wasm.modelFingerprint);
    close(
      [webgpu.fitLoss, webgpu.tfjsEvaluateLoss, webgpu.evaluate.loss],
      [wasm.fitLoss, wasm.tfjsEvaluateLoss, wasm.evaluate.loss],
      1e-4,
      'losses',
    );
    close(webgpu.predictHead, wasm.predictHead, 1e-4, 'model.predict');
    assert.deepEqual(webgpu.evaluate.counts, wasm.evaluate.counts);
    assert.deepEqual(webgpu.confusionOfValues, wasm.confusionOfValues);
    // Labels computed on the GPU: the synchronous check in tfjs' fit cannot read them and skips them; the async one names the label.
    assert.equal(webgpu.syncLabelCheck, 'no error');
    assert.match(wasm.syncLabelCheck, /^check: labels must be integer class indices in \[0, 10\) .* Label 0 is 12\./);
    assert.equal(webgpu.asyncLabelCheck, wasm.syncLabelCheck);
    assert.equal(wasm.confusionOfDeviceTensor, 'no error');
    assert.match(
      webgpu.confusionOfDeviceTensor,
      /^confusionMatrix\(predictions\) needs a tensor's values now \(synchronously\), and the webgpu backend cannot/,
    );
    assert.match(webgpu.confusionOfDeviceTensor, /await t\.data\(\)/);
    assert.deepEqual([wasm.showImages, webgpu.showImages, wasm.showDeviceImages], ['no error', 'no error', 'no error']);
    assert.match(webgpu.showDeviceImages, /^showImages\(images\) needs a tensor's values now/);
    close(webgpu.transform, wasm.transform, 1e-5, 'projective transform');
    close(webgpu.transformGradient, wasm.transformGradient, 1e-5, 'its gradient');
    close(webgpu.savedKernelHead, webgpu.modelKernelHead, 0, 'weights saved from webgpu');
  });
});

describe('kernels webgpu lacks', () => {
  test("none is used by the library's layers, losses, metrics and optimizer (forward and gradients, counted on cpu)", async () => {
    await ready({ env: { TSLAB_DL_BACKEND: 'cpu' } });
    applyKerasCompileSemantics(); // sparse labels for a compiled model, as the library's entry point does
    const missing = webgpuMissingKernels();
    // TensorFlow.js 4.22: what wasm or cpu has and webgpu does not.
    for (const kernel of ['Unique', 'NonMaxSuppressionV4', 'StringSplit', 'SparseReshape'])
      assert.ok(missing.includes(kernel), `${kernel} in ${missing}`);
    assert.ok(!missing.includes('Conv2D') && !missing.includes('BatchMatMul'));

    // One training step of each kind of layer the library offers, in training mode (augmentation on).
    const input = tf.input({ shape: [20, 20, 3] });
    let x = rescaling({ scale: 1 / 255 }).apply(input) as tf.SymbolicTensor;
    x = normalization({ mean: [0.5, 0.5, 0.5], variance: [0.25, 0.25, 0.25] }).apply(x) as tf.SymbolicTensor;
    for (const layer of [
      randomFlip({ mode: 'horizontal', seed: 1 }),
      randomRotation({ factor: 0.1, seed: 1 }),
      randomZoom({ heightFactor: 0.1, seed: 1 }),
      randomTranslation({ heightFactor: 0.1, widthFactor: 0.1, seed: 1 }),
      randomContrast({ factor: 0.2, seed: 1 }),
    ]) {
      x = layer.apply(x) as tf.SymbolicTensor;
    }
    x = upscale({ height: 24, width: 24 }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.zeroPadding2d({ padding: 1 }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, useBias: false }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization({ epsilon: 1.001e-5 }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.activation({ activation: 'relu6' }).apply(x) as tf.SymbolicTensor;
    const depthwise = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor;
    const separable = tf.layers
      .separableConv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'swish' })
      .apply(x) as tf.SymbolicTensor;
    const gate = tf.layers
      .activation({ activation: 'sigmoid' })
      .apply(tf.layers.globalAveragePooling2d({ keepDims: true } as never).apply(x) as tf.SymbolicTensor) as tf.SymbolicTensor;
    x = tf.layers.add().apply([depthwise, tf.layers.multiply().apply([separable, gate]) as tf.SymbolicTensor]) as tf.SymbolicTensor;
    x = tf.layers
      .concatenate()
      .apply([
        tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor,
        tf.layers.averagePooling2d({ poolSize: 2 }).apply(x) as tf.SymbolicTensor,
      ]) as tf.SymbolicTensor;
    x = tf.layers.globalMaxPooling2d({}).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: buildHead(x, { hidden: 8, dropout: 0.5, classes: 4 }) });
    model.compile({ optimizer: tf.train.adam(), loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: [kerasAccuracy()] });
    const images = tf.randomUniform([4, 20, 20, 3], 0, 255);
    const labels = tf.tensor1d([0, 1, 2, 3], 'int32');
    const profile = await tf.profile(async () => {
      await model.trainOnBatch(images, labels);
      tf.dispose(model.predict(images));
    });
    const used = new Set(profile.kernelNames);
    assert.ok(used.has('Conv2DBackpropFilter') && used.has('DepthwiseConv2dNativeBackpropFilter'), 'the gradients ran');
    assert.deepEqual(
      [...used].filter((k) => missing.includes(k)),
      [],
      `kernels used here that webgpu lacks`,
    );
    model.dispose();
    tf.dispose([images, labels]);
  });

  test("an error naming a kernel webgpu lacks becomes a BackendError saying to use wasm; other backends' errors stay as they are", () => {
    const error = new Error("Kernel 'Unique' not registered for backend 'webgpu'");
    const explained = explainBackendError(error) as BackendError;
    assert.ok(explained instanceof BackendError);
    assert.equal(explained.cause, error);
    assert.match(
      explained.message,
      /^The webgpu backend has no 'Unique' kernel \(TensorFlow\.js 4\.22\.0's webgpu backend does not implement it\)/,
    );
    assert.match(explained.message, /TSLAB_DL_BACKEND=wasm/);
    assert.equal(explainBackendError(explained), explained);
    const other = new Error("Kernel 'Unique' not registered for backend 'wasm'");
    assert.equal(explainBackendError(other), other);
  });
});

test('backendSummary names the adapter webgpu runs on', () => {
  const info: BackendInfo = {
    backend: 'webgpu',
    tfBackend: 'webgpu',
    usingGpu: true,
    candidates: [],
    requestedBy: 'default',
    tfjsVersion: '4.22.0',
    webgpu: { adapter: { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', software: false } },
  };
  assert.equal(backendSummary(info), 'tslab-dl: TensorFlow.js 4.22.0 on webgpu (NVIDIA H200)');
});
