// Backend selection: the real packages where installed, candidates made unavailable by the test
// (a resolver that reports a package missing, a bogus LD_LIBRARY_PATH, stand-in native packages),
// each case asserting the chosen backend and the reasons.
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  BACKEND_ORDER,
  BackendError,
  backendInfo,
  backendSummary,
  explainBackendError,
  ModuleResolver,
  ready,
  resetBackendChoice,
  setBackend,
  withBackendErrors,
} from '../lib/backends/selection';
import { ValueError } from '../lib/core/errors';
import { GpuCheck, LibraryCheck } from '../lib/backends/cuda-libraries';

const ROOT = path.resolve(__dirname, '..');
const installed = (pkg: string) => fs.existsSync(path.join(ROOT, 'node_modules', pkg, 'package.json'));
const NATIVE_INSTALLED = installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu');

/** A resolver that finds `fakes` in a temp node_modules and everything else as usual, except `missing`. */
function resolver(options: { fakeRoot?: string; fakes?: string[]; missing?: string[] } = {}): ModuleResolver {
  return (name) => {
    const pkg = name.startsWith('@') ? name.split('/').slice(0, 2).join('/') : name.split('/')[0];
    if (options.missing?.includes(pkg)) throw Object.assign(new Error(`Cannot find module '${name}'`), { code: 'MODULE_NOT_FOUND' });
    if (options.fakeRoot && options.fakes?.includes(pkg)) return require.resolve(name, { paths: [options.fakeRoot] });
    return require.resolve(name);
  };
}

/** A package in `root`/node_modules with this main file: a stand-in where the real one cannot be installed. */
function fakePackage(root: string, name: string, main: string): void {
  const dir = path.join(root, 'node_modules', ...name.split('/'));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '4.22.0', main: 'index.js' }));
  fs.writeFileSync(path.join(dir, 'index.js'), main);
}

/**
 * A stand-in for tfjs-node(-gpu): registers a 'tensorflow' backend the way the real package does,
 * here the cpu backend under that name, reporting `isUsingGpuDevice` as libtensorflow would.
 */
function tensorflowStandIn(usingGpu: boolean): string {
  return `
const tf = require(${JSON.stringify(require.resolve('@tensorflow/tfjs'))});
const { MathBackendCPU } = require(${JSON.stringify(require.resolve('@tensorflow/tfjs-backend-cpu'))});
if (tf.getKernelsForBackend('tensorflow').length === 0) {
  for (const kernel of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...kernel, backendName: 'tensorflow' });
}
tf.registerBackend('tensorflow', () => Object.assign(new MathBackendCPU(), { isUsingGpuDevice: ${usingGpu} }), 3);
`;
}

/** What a GPU check says on a machine with a GPU and every library: the only way to reach the loading step here. */
const GPU_PRESENT: GpuCheck = {
  nvidiaSmi: { found: true, gpus: ['GPU 0: stand-in'] },
  deviceFiles: ['/dev/nvidia0'],
  driver: { soname: 'libcuda.so.1', role: 'driver', loads: true, elsewhere: [], otherVersions: [] },
  libraries: [],
  usable: true,
  problems: [],
  ldLibraryPath: '',
};

const madeDirs: string[] = [];
after(() => {
  for (const dir of madeDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-backend-'));
  madeDirs.push(dir);
  return dir;
}

/** Sonames the ldconfig cache lists: an independent view of what the loader can find. */
function ldconfigNames(): Set<string> {
  const out = spawnSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' }).stdout ?? '';
  return new Set(
    out
      .split('\n')
      .map((l) => l.trim().split(' ')[0])
      .filter(Boolean),
  );
}

afterEach(() => {
  resetBackendChoice();
});

describe('choosing the backend', () => {
  test('with the packages installed here, wasm is chosen and each skipped candidate says why', async (t) => {
    if (NATIVE_INSTALLED) return t.skip('tfjs-node or tfjs-node-gpu is installed on this machine: the default choice is not wasm here');
    const tensorsBefore = tf.memory().numTensors;
    const info = await ready();
    assert.equal(info.backend, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.equal(info.tfBackend, 'wasm');
    assert.equal(info.usingGpu, false);
    assert.equal(info.requestedBy, 'default');
    assert.equal(info.tfjsVersion, '4.22.0');
    assert.deepEqual(
      info.candidates.map((c) => c.name),
      [...BACKEND_ORDER],
    );
    const [gpu, webgpu, native, wasm, cpu] = info.candidates;
    assert.deepEqual([gpu.installed, gpu.usable], [false, false]);
    // No hardware WebGPU adapter here (none, or a software one): not tried, with what was found.
    assert.deepEqual([webgpu.installed, webgpu.version, webgpu.usable], [true, '4.22.0', undefined]);
    assert.match(webgpu.reason!, /^no WebGPU adapter|^only a software WebGPU adapter/);
    assert.match(gpu.reason!, /@tensorflow\/tfjs-node-gpu is not installed \(`npm run setup:gpu` adds it\)/);
    assert.match(native.reason!, /@tensorflow\/tfjs-node is not installed \(`npm run setup:native` adds it\)/);
    assert.deepEqual([wasm.installed, wasm.version, wasm.usable, wasm.reason], [true, '4.22.0', true, undefined]);
    assert.equal(cpu.usable, undefined);
    assert.match(cpu.reason!, /^not tried/);
    assert.equal(await ready(), info, 'the choice is made once');
    assert.equal(backendInfo(), info);
    assert.equal(backendSummary(), 'tslab-dl: TensorFlow.js 4.22.0 on wasm (tfjs-node-gpu: not installed; tfjs-node: not installed)');
    assert.equal(tf.memory().numTensors, tensorsBefore, 'the first computation leaves no tensor behind');
  });

  test('a resolver that reports the wasm package missing makes cpu the choice', async () => {
    const info = await ready({
      resolve: resolver({ missing: ['@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'] }),
    });
    assert.equal(info.backend, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    const wasm = info.candidates.find((c) => c.name === 'wasm')!;
    assert.deepEqual([wasm.installed, wasm.usable], [false, false]);
    assert.equal(wasm.reason, '@tensorflow/tfjs-backend-wasm is not installed');
  });

  test('TSLAB_DL_BACKEND=cpu overrides the order', async () => {
    const info = await ready({ env: { TSLAB_DL_BACKEND: 'cpu' } });
    assert.equal(info.backend, 'cpu');
    assert.equal(info.requestedBy, 'TSLAB_DL_BACKEND');
    assert.equal(tf.getBackend(), 'cpu');
    for (const other of info.candidates.filter((c) => c.name !== 'cpu')) {
      assert.equal(other.reason, 'not tried: TSLAB_DL_BACKEND asked for cpu');
    }
    assert.match(backendSummary(info), /on cpu \[TSLAB_DL_BACKEND\]/);
  });

  test('TSLAB_DL_BACKEND with an unknown name is a ValueError that names the value and the choices', async () => {
    await assert.rejects(ready({ env: { TSLAB_DL_BACKEND: 'cuda' } }), (e: Error) => {
      assert.ok(e instanceof ValueError);
      assert.equal(e.message, 'TSLAB_DL_BACKEND must be one of tfjs-node-gpu, webgpu, tfjs-node, wasm, cpu. Received "cuda".');
      return true;
    });
  });

  test('TSLAB_DL_BACKEND naming a backend that is not installed fails loudly instead of falling back', async () => {
    await assert.rejects(
      ready({ env: { TSLAB_DL_BACKEND: 'tfjs-node' }, resolve: resolver({ missing: ['@tensorflow/tfjs-node'] }) }),
      (e: Error) => {
        assert.ok(e instanceof BackendError);
        assert.match(e.message, /^The tfjs-node backend \(asked for by TSLAB_DL_BACKEND\) cannot be used:/);
        assert.match(e.message, /tfjs-node: @tensorflow\/tfjs-node is not installed \(`npm run setup:native` adds it\)/);
        assert.match(e.message, /Unset TSLAB_DL_BACKEND \(or set it to wasm or cpu\) and restart the kernel\./);
        return true;
      },
    );
    // A failed choice is not remembered: the next ready() chooses again.
    const info = await ready({ resolve: resolver({ missing: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'] }) });
    assert.equal(info.backend, 'wasm');
  });

  test('tfjs-node installed without its native addon: the real load error is the reason, and wasm is chosen', async () => {
    const root = tempDir();
    const message = 'The Node.js native addon module (tfjs_binding.node) can not be found at path: /nowhere/lib/napi-v8/tfjs_binding.node.';
    fakePackage(root, '@tensorflow/tfjs-node', `throw new Error(${JSON.stringify(message + '\nRebuild it.')});`);
    const info = await ready({
      resolve: resolver({ fakeRoot: root, fakes: ['@tensorflow/tfjs-node'], missing: ['@tensorflow/tfjs-node-gpu'] }),
    });
    assert.equal(info.backend, 'wasm');
    const native = info.candidates.find((c) => c.name === 'tfjs-node')!;
    assert.deepEqual([native.installed, native.version, native.usable], [true, '4.22.0', false]);
    assert.equal(native.reason, `installed but failed to load: ${message} Rebuild it.`);
  });

  test('tfjs-node-gpu installed, with no GPU and a bogus LD_LIBRARY_PATH: skipped before loading, each missing library named', async () => {
    const root = tempDir();
    const marker = path.join(root, 'loaded');
    // Loading it would be the mistake the check prevents: the marker proves it was never required.
    fakePackage(
      root,
      '@tensorflow/tfjs-node-gpu',
      `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x'); throw new Error('must not be loaded');`,
    );
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, LD_LIBRARY_PATH: '/nonexistent/bogus-cuda/lib64' };
    const info = await ready({
      env,
      resolve: resolver({ fakeRoot: root, fakes: ['@tensorflow/tfjs-node-gpu'], missing: ['@tensorflow/tfjs-node'] }),
    });
    assert.equal(info.backend, 'wasm');
    assert.equal(fs.existsSync(marker), false, 'tfjs-node-gpu was required although no GPU is usable');
    const gpu = info.candidates.find((c) => c.name === 'tfjs-node-gpu')!;
    assert.deepEqual([gpu.installed, gpu.usable], [true, false]);
    assert.match(gpu.reason!, /^installed, but no usable CUDA GPU: /);
    assert.match(gpu.reason!, /`npx tslab-dl doctor` shows the fix for each$/);
    assert.equal(info.gpu?.ldLibraryPath, '/nonexistent/bogus-cuda/lib64');
    // Independently of our dlopen check: what the ldconfig cache lists, and whether nvidia-smi exists.
    const cached = ldconfigNames();
    const sonames = [
      'libcudart.so.11.0',
      'libcublas.so.11',
      'libcublasLt.so.11',
      'libcufft.so.10',
      'libcurand.so.10',
      'libcusolver.so.11',
      'libcusparse.so.11',
      'libcudnn.so.8',
    ];
    for (const soname of sonames) {
      const check: LibraryCheck = info.gpu!.libraries.find((l) => l.soname === soname)!;
      assert.equal(check.loads, cached.has(soname), soname);
      if (!cached.has(soname)) assert.ok(gpu.reason!.includes(soname), `${soname} is not named in: ${gpu.reason}`);
    }
    const nvidiaSmi = spawnSync('sh', ['-c', 'command -v nvidia-smi'], { encoding: 'utf8' }).stdout.trim();
    if (!nvidiaSmi && !fs.existsSync('/dev/nvidia0'))
      assert.match(gpu.reason!, /no NVIDIA GPU found \(nvidia-smi is not on PATH and there is no \/dev\/nvidia0\)/);
  });

  test('tfjs-node-gpu that loads but lists no GPU device (the silent CPU fallback) is not chosen, and blocks tfjs-node', async () => {
    const root = tempDir();
    fakePackage(root, '@tensorflow/tfjs-node-gpu', tensorflowStandIn(false));
    fakePackage(root, '@tensorflow/tfjs-node', tensorflowStandIn(false));
    const info = await ready({
      resolve: resolver({ fakeRoot: root, fakes: ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] }),
      checkGpu: async () => GPU_PRESENT,
    });
    assert.equal(info.backend, 'wasm');
    const gpu = info.candidates.find((c) => c.name === 'tfjs-node-gpu')!;
    const native = info.candidates.find((c) => c.name === 'tfjs-node')!;
    assert.equal(gpu.usable, false);
    assert.match(gpu.reason!, /^loaded, but TensorFlow lists no GPU device, so it would silently run on the CPU\. /);
    assert.equal(tf.findBackendFactory('tensorflow'), null, 'the CPU-only tensorflow backend was left registered');
    assert.equal(native.usable, false);
    assert.match(
      native.reason!,
      /^cannot be loaded: @tensorflow\/tfjs-node-gpu is already loaded in this process and both bring libtensorflow; set TSLAB_DL_BACKEND=tfjs-node and restart the kernel$/,
    );
  });

  test('tfjs-node-gpu that reports a GPU device is chosen, and computes', async () => {
    const root = tempDir();
    fakePackage(root, '@tensorflow/tfjs-node-gpu', tensorflowStandIn(true));
    const info = await ready({
      resolve: resolver({ fakeRoot: root, fakes: ['@tensorflow/tfjs-node-gpu'] }),
      checkGpu: async () => GPU_PRESENT,
    });
    assert.equal(info.backend, 'tfjs-node-gpu');
    assert.equal(info.tfBackend, 'tensorflow');
    assert.equal(info.usingGpu, true);
    assert.equal(tf.getBackend(), 'tensorflow');
    const product = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
    assert.deepEqual(Array.from(await product.data()), [11]);
    assert.match(backendSummary(info), /^tslab-dl: TensorFlow\.js 4\.22\.0 on tfjs-node-gpu \(CUDA GPU\)/);
    tf.dispose(product);
    await setBackend('wasm');
    tf.removeBackend('tensorflow');
  });
});

describe('switching backend with setBackend()', () => {
  test('switches now, and on failure keeps the backend in use', async () => {
    await ready({ resolve: resolver({ missing: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'] }) });
    const tensorsBefore = tf.memory().numTensors;
    const info = await setBackend('cpu');
    assert.deepEqual([info.backend, info.requestedBy, tf.getBackend()], ['cpu', 'setBackend', 'cpu']);
    await assert.rejects(setBackend('tfjs-node', { resolve: resolver({ missing: ['@tensorflow/tfjs-node'] }) }), (e: Error) => {
      assert.ok(e instanceof BackendError);
      assert.match(e.message, /^The tfjs-node backend \(asked for by setBackend\) cannot be used:/);
      assert.match(e.message, /The backend in use is unchanged \(cpu\)\.$/);
      return true;
    });
    assert.equal(backendInfo().backend, 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
    await assert.rejects(setBackend('gpu' as any), ValueError);
    assert.equal(tf.memory().numTensors, tensorsBefore);
  });
});

describe('explaining run-time failures of the backend', () => {
  test('a CUDA out-of-memory error says which backend failed and how to switch', async () => {
    await ready({ env: { TSLAB_DL_BACKEND: 'wasm' } });
    // The shape of the error tfjs-node-gpu's binding throws for TensorFlow's RESOURCE_EXHAUSTED.
    const oom = new Error(
      'Invalid TF_Status: 8\nMessage: OOM when allocating tensor with shape[32,128,40,40] and type float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc',
    );
    const explained = explainBackendError(oom) as BackendError;
    assert.ok(explained instanceof BackendError);
    assert.equal(explained.backend, 'wasm');
    assert.equal(explained.cause, oom);
    const lines = explained.message.split('\n');
    assert.equal(
      lines[0],
      'The wasm backend ran out of memory: Invalid TF_Status: 8 Message: OOM when allocating tensor with shape[32,128,40,40] and type float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc',
    );
    assert.equal(lines[1], 'The kernel is still running, and so is the backend: the tensors and models you made are intact. To go on:');
    assert.match(explained.message, /use a smaller batch size \(batchSize\)/);
    assert.match(explained.message, /`await setBackend\('cpu'\)`, then re-run the cells from the one that builds the model/);
    assert.match(explained.message, /TSLAB_DL_BACKEND=cpu npm start/);
    assert.equal(explainBackendError(explained), explained, 'explaining twice changes nothing');
  });

  test('errors that are not backend failures come back unchanged', async () => {
    const errors = [
      new ValueError('Expected images of shape [n, 64, 64, 3]. Received [64, 64, 3].'),
      new Error('getaddrinfo ENOTFOUND zenodo.org'),
      new TypeError('x is not a function'),
    ];
    for (const e of errors) assert.equal(explainBackendError(e), e);
    assert.equal(await withBackendErrors(() => 42), 42);
    await assert.rejects(
      withBackendErrors(() => {
        throw errors[0];
      }),
      (e) => e === errors[0],
    );
    await assert.rejects(
      withBackendErrors(async () => {
        throw new Error('CUDNN_STATUS_INTERNAL_ERROR');
      }),
      BackendError,
    );
  });

  test('real tensors beyond the 4 GiB wasm memory are refused cleanly: the tensors already there stay intact, the backend computes', async (t) => {
    if (os.freemem() < 4 * 2 ** 30) return t.skip(`needs about 2.5 GiB of free memory, ${(os.freemem() / 2 ** 30).toFixed(1)} GiB free`);
    // In a child: a WebAssembly memory never shrinks, and this one grows to 2 GiB.
    // (test/backend-reset.test.ts covers a backend that breaks anyway, and its reset.)
    const script = `
const tf = require('@tensorflow/tfjs');
const b = require('./lib/backends/selection');
(async () => {
  await b.ready({ env: { TSLAB_DL_BACKEND: 'wasm' } });
  // A tensor larger than the wasm memory can ever be (4 GiB).
  let tooBig;
  try { tf.zeros([1024, 1024, 1024]); } catch (e) { tooBig = e; }
  // Two tensors that fit one by one but not together: without the guard tfjs writes the second at
  // address 0, over the first, and the backend traps at the next operation.
  const x = tf.zeros([520, 1024, 1024]);
  x.dataSync()[0]; // (dataSync copies; only the first value matters)
  let second;
  try { tf.zeros([520, 1024, 1024]); } catch (e) { second = e; }
  const explained = b.explainBackendError(second);
  const sum = (await tf.add(tf.scalar(1), tf.scalar(2)).data())[0];
  const head = Array.from(x.slice([0, 0, 0], [1, 1, 4]).dataSync());
  console.log(JSON.stringify({ tooBig: String(tooBig), tooBigMessage: b.explainBackendError(tooBig).message, second: String(second),
    name: explained.name, message: explained.message, sum, head, backend: tf.getBackend() }));
})();`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    const result = JSON.parse(run.stdout.trim().split('\n').pop()!);
    assert.equal(
      result.tooBig,
      "WasmOutOfMemoryError: wasm out of memory: a tensor of 4.0 GiB is larger than the wasm backend's whole memory (4.0 GiB at most)",
    );
    assert.match(
      result.tooBigMessage,
      /^The wasm backend ran out of memory: a tensor of 4\.0 GiB is larger than the wasm backend's whole memory/,
    );
    assert.match(
      result.second,
      /^WasmOutOfMemoryError: wasm out of memory: a tensor of 2\.0 GiB did not fit in the wasm backend's memory \(4\.0 GiB at most; the tensors already on it take 2\.0 GiB\)$/,
    );
    assert.equal(result.name, 'BackendError');
    assert.match(result.message, /^The wasm backend ran out of memory: a tensor of 2\.0 GiB did not fit/);
    assert.match(result.message, /the tensors and models you made are intact/);
    assert.match(result.message, /use a smaller batch size/);
    assert.match(result.message, /`await setBackend\('cpu'\)`/);
    assert.deepEqual([result.sum, result.head, result.backend], [3, [0, 0, 0, 0], 'wasm']);
  });
});
