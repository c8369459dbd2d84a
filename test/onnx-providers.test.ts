/**
 * Choosing ONNX Runtime's execution provider (lib/onnx/providers.ts) and the executor names
 * (lib/features/run.ts), with the device probes replaced: CUDA when its library loads, WebGPU on a
 * hardware adapter only, else the CPU; forced providers that are missing are errors naming them;
 * TSLAB_DL_EXECUTOR; the feature cache keyed by provider. The real GPU sessions are in
 * test/onnx-webgpu.test.ts.
 */
import { afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { setBackend } from '../lib/backends/selection';
import { chooseOnnxProvider, onnxAvailable, providerStatuses } from '../lib/onnx';
import { ortReason } from '../lib/onnx/session';
import { describeProvider, providerSessionOptions, resetProviderChoice } from '../lib/onnx/providers';
import { chooseExecutor, resolveRoute } from '../lib/features/run';
import { clearFeatureMemory } from '../lib/features/cache';
import { frozenFeatures } from '../lib/features/extract';
import { splitFrozenPrefix } from '../lib/features/split';
import { lessonLikeModel } from './support/lesson-like-model';

const hardware = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H200', software: false };
const software = { vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'llvmpipe: Mesa 25.0.7', software: true };
const noCuda = async () => ({ loads: false });
const cudaLoads = async () => ({ library: '/x/libonnxruntime_providers_cuda.so', loads: true });

before(async () => {
  await setBackend('cpu');
});

describe('choosing the provider', () => {
  test('a hardware adapter: WebGPU, falling back to the CPU', async (t) => {
    if (!onnxAvailable()) return t.skip('onnxruntime-node is not usable here');
    const choice = await chooseOnnxProvider('best', { webgpu: async () => ({ adapter: hardware }), cuda: noCuda });
    assert.equal(choice.provider, 'webgpu');
    assert.deepEqual(choice.fallbacks, ['cpu']);
    assert.equal(choice.forced, false);
    assert.equal(describeProvider('webgpu', choice.statuses), 'ONNX Runtime on WebGPU: NVIDIA H200 (hardware)');
  });

  test('a software adapter is never chosen by itself, but may be forced', async (t) => {
    if (!onnxAvailable()) return t.skip('onnxruntime-node is not usable here');
    const probes = { webgpu: async () => ({ adapter: software }), cuda: noCuda };
    const best = await chooseOnnxProvider('best', probes);
    assert.equal(best.provider, 'cpu');
    assert.deepEqual(best.fallbacks, []);
    const webgpu = best.statuses.find((s) => s.name === 'webgpu')!;
    assert.deepEqual([webgpu.usable, webgpu.automatic], [true, false]);
    assert.match(webgpu.detail, /llvmpipe: Mesa 25\.0\.7 \(software: never chosen automatically\); executor 'onnx-webgpu' forces it/);
    const forced = await chooseOnnxProvider('webgpu', probes);
    assert.deepEqual([forced.provider, forced.fallbacks, forced.forced], ['webgpu', [], true]);
  });

  test('CUDA, when its library loads, comes first', async (t) => {
    if (!onnxAvailable()) return t.skip('onnxruntime-node is not usable here');
    const choice = await chooseOnnxProvider('best', { webgpu: async () => ({ adapter: hardware }), cuda: cudaLoads });
    assert.equal(choice.provider, 'cuda');
    assert.deepEqual(choice.fallbacks, ['webgpu', 'cpu']);
  });

  test('a forced provider that is missing is an error naming it, why, and what to do', async (t) => {
    if (!onnxAvailable()) return t.skip('onnxruntime-node is not usable here');
    const probes = {
      webgpu: async () => ({ reason: 'no WebGPU adapter: Dawn found no Vulkan driver (install the Vulkan loader ...)' }),
      cuda: noCuda,
    };
    await assert.rejects(
      chooseOnnxProvider('webgpu', probes, "executor 'onnx-webgpu'"),
      /^ValueError: executor 'onnx-webgpu' cannot be used: ONNX Runtime's WebGPU provider is not available here \(no WebGPU adapter: Dawn found no Vulkan driver\)\. To use it: install the Vulkan loader \(`sudo apt-get install libvulkan1`\).*nvidia_icd\.json.*Or use executor 'onnx' \(the best provider available\) or 'onnx-cpu'\.$/,
    );
    await assert.rejects(
      chooseOnnxProvider('cuda', probes, "executor 'onnx-cuda'"),
      /executor 'onnx-cuda' cannot be used: ONNX Runtime's CUDA provider is not available here \(listed, but its library \(libonnxruntime_providers_cuda\.so\) is not installed\)\. To use it: `npm run setup:cuda` downloads it/,
    );
    const broken = async () => ({
      library: '/x/libonnxruntime_providers_cuda.so',
      loads: false,
      error: 'libcudnn.so.9: cannot open shared object file',
    });
    await assert.rejects(
      chooseOnnxProvider('cuda', { ...probes, cuda: broken }),
      /provider 'cuda' cannot be used: .*does not load: libcudnn\.so\.9: cannot open shared object file\)\. To use it: install the NVIDIA driver, the CUDA 12 runtime and cuDNN 9/,
    );
    await assert.rejects(chooseOnnxProvider('tpu' as never), /provider must be 'best', 'cuda', 'webgpu' or 'cpu'\. Received "tpu"\./);
  });

  test('a GPU session: that provider alone, and no quiet CPU fallback inside it', () => {
    assert.deepEqual(providerSessionOptions('webgpu'), {
      executionProviders: ['webgpu'],
      extra: { session: { disable_cpu_ep_fallback: '1' } },
    });
    assert.deepEqual(providerSessionOptions('cuda'), {
      executionProviders: ['cuda'],
      extra: { session: { disable_cpu_ep_fallback: '1' } },
    });
    assert.deepEqual(providerSessionOptions('cpu'), { executionProviders: ['cpu'] });
  });

  test("here, with the machine's own probes: the CPU is always usable, and the choice is one of the usable ones", async (t) => {
    if (!onnxAvailable()) return t.skip('onnxruntime-node is not usable here');
    const statuses = await providerStatuses();
    assert.deepEqual(
      statuses.map((s) => s.name),
      ['cuda', 'webgpu', 'cpu'],
    );
    assert.ok(statuses.find((s) => s.name === 'cpu')!.automatic);
    const best = await chooseOnnxProvider();
    assert.ok(statuses.find((s) => s.name === best.provider)!.automatic);
  });

  test("ONNX Runtime's errors in one line: the reason without the source location", () => {
    assert.equal(
      ortReason(
        '/onnxruntime_src/onnxruntime/core/providers/webgpu/webgpu_context.cc:136 onnxruntime::webgpu::WebGpuContext::Initialize(...) adapter_result.status == wgpu::RequestAdapterStatus::Success was false. Failed to get a WebGPU adapter: No supported adapters',
      ),
      'Failed to get a WebGPU adapter: No supported adapters',
    );
    assert.equal(
      ortReason(
        '/src/provider_bridge_ort.cc:1988 onnxruntime::Provider& Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library x.so\nmore',
      ),
      'Failed to load library x.so',
    );
    assert.equal(
      ortReason('This session contains graph nodes that are assigned to the default CPU EP'),
      'This session contains graph nodes that are assigned to the default CPU EP',
    );
  });
});

describe('executor names', () => {
  const saved = process.env.TSLAB_DL_EXECUTOR;
  afterEach(() => {
    if (saved === undefined) delete process.env.TSLAB_DL_EXECUTOR;
    else process.env.TSLAB_DL_EXECUTOR = saved;
  });

  test("'auto', 'onnx', the forced providers and 'tfjs'; anything else is refused by name", (t) => {
    delete process.env.TSLAB_DL_EXECUTOR;
    assert.deepEqual(chooseExecutor('tfjs'), { name: 'tfjs', engine: 'tfjs' });
    assert.throws(
      () => chooseExecutor('gpu' as never),
      /executor must be 'auto', 'onnx', 'onnx-cuda', 'onnx-webgpu', 'onnx-cpu' or 'tfjs'\. Received "gpu"\./,
    );
    if (!onnxAvailable()) return t.skip('onnxruntime-node is not usable here');
    assert.deepEqual(chooseExecutor('auto'), { name: 'onnx', engine: 'onnx' });
    assert.deepEqual(chooseExecutor(), { name: 'onnx', engine: 'onnx' });
    for (const name of ['onnx', 'onnx-cuda', 'onnx-webgpu', 'onnx-cpu'] as const)
      assert.deepEqual(chooseExecutor(name), { name, engine: 'onnx' });
  });

  test('TSLAB_DL_EXECUTOR sets the executor when the caller names none (or auto); a bad value is named', async (t) => {
    process.env.TSLAB_DL_EXECUTOR = 'tfjs';
    assert.equal(chooseExecutor().name, 'tfjs');
    assert.equal(chooseExecutor('auto').name, 'tfjs');
    assert.equal((await resolveRoute()).engine, 'tfjs');
    process.env.TSLAB_DL_EXECUTOR = 'onnx-gpu';
    assert.throws(
      () => chooseExecutor(),
      /TSLAB_DL_EXECUTOR must be 'auto', 'onnx', 'onnx-cuda', 'onnx-webgpu', 'onnx-cpu' or 'tfjs'\. Received "onnx-gpu": fix or unset it/,
    );
    if (!onnxAvailable()) return t.skip('onnxruntime-node is not usable here');
    process.env.TSLAB_DL_EXECUTOR = 'onnx-cpu';
    assert.deepEqual(await resolveRoute(), { name: 'onnx-cpu', engine: 'onnx', provider: 'cpu' });
    // The caller's own choice wins.
    assert.equal(chooseExecutor('tfjs').name, 'tfjs');
  });

  test('the feature cache keeps each provider apart: onnx-cpu and tfjs do not share, and auto shares with what it resolves to', async (t) => {
    if (!onnxAvailable()) return t.skip('onnxruntime-node is not usable here');
    delete process.env.TSLAB_DL_EXECUTOR;
    resetProviderChoice();
    clearFeatureMemory();
    const model = lessonLikeModel({ seed: 5 });
    const split = splitFrozenPrefix(model)!;
    const x = tf.randomUniform([3, 8, 8, 3], 0, 1, 'float32', 3);
    const cpu = await frozenFeatures(split.prefix, x, { executor: 'onnx-cpu' });
    assert.deepEqual([cpu.source, cpu.executor, cpu.provider], ['computed', 'onnx', 'cpu']);
    const tfjs = await frozenFeatures(split.prefix, x, { executor: 'tfjs' });
    assert.deepEqual([tfjs.source, tfjs.executor, tfjs.provider], ['computed', 'tfjs', undefined]);
    const auto = await resolveRoute('auto');
    const again = await frozenFeatures(split.prefix, x, { executor: 'auto' });
    assert.equal(again.source, auto.provider === 'cpu' ? 'memory' : 'computed');
    x.dispose();
    clearFeatureMemory();
  });
});
