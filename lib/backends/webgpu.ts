/**
 * TensorFlow.js' webgpu backend (@tensorflow/tfjs-backend-webgpu) in Node, on Dawn's Node bindings
 * (the `webgpu` package, lib/backends/webgpu-adapter.ts): registering it, and the kernels it lacks.
 *
 * The package registers its 'webgpu' backend when it is loaded, and only if `navigator.gpu` exists
 * then (its base.js); Node has no WebGPU of its own, so Dawn's GPU object must be `navigator.gpu`
 * before the package is first required. Its kernels register either way.
 *
 * What the backend cannot do in Node: read a tensor computed on the GPU synchronously (dataSync,
 * arraySync, print), which it does through an OffscreenCanvas (lib/core/tensor-reads.ts); and run the
 * few kernels it has no implementation of ({@link webgpuMissingKernels}): tfjs then throws
 * "Kernel 'X' not registered for backend 'webgpu'", which lib/backends/selection.ts explains.
 */
import * as tf from '@tensorflow/tfjs';
import { dawnGpu } from './webgpu-adapter';

export const WEBGPU_PACKAGE = '@tensorflow/tfjs-backend-webgpu';

type NavigatorLike = { gpu?: unknown };

/**
 * Makes Dawn's GPU object `navigator.gpu`, unless there is one already (a browser-like global set
 * by the user, or a later Node that has its own). Returns a reason when Dawn cannot be loaded.
 */
export function installNavigatorGpu(): string | undefined {
  const global = globalThis as { navigator?: NavigatorLike };
  if (global.navigator?.gpu) return undefined;
  let gpu: unknown;
  try {
    gpu = dawnGpu();
  } catch (e) {
    return `the \`webgpu\` package (Dawn for Node) could not be loaded: ${(e as Error).message.split('\n')[0]}`;
  }
  if (global.navigator) {
    // Node 21 and later have a navigator of their own (without gpu): add ours to it.
    Object.defineProperty(global.navigator, 'gpu', { value: gpu, configurable: true, enumerable: true, writable: true });
  } else {
    global.navigator = { gpu };
  }
  return undefined;
}

/**
 * Loads the webgpu package with `navigator.gpu` in place, so that it registers the 'webgpu'
 * backend. Returns undefined when the backend is registered, else why not.
 */
export function registerWebGpuBackend(resolve: (name: string) => string = (name) => require.resolve(name)): string | undefined {
  if (tf.findBackendFactory('webgpu')) return undefined;
  const noDawn = installNavigatorGpu();
  if (noDawn) return noDawn;
  try {
    require(resolve(WEBGPU_PACKAGE));
  } catch (e) {
    return `${WEBGPU_PACKAGE} could not be loaded: ${(e as Error).message.split('\n')[0]}`;
  }
  if (!tf.findBackendFactory('webgpu')) {
    // Loaded earlier in this process, before navigator.gpu existed: it registered no backend then.
    return `${WEBGPU_PACKAGE} was loaded before navigator.gpu was set, so it registered no 'webgpu' backend; restart the kernel and let tslab-dl load it`;
  }
  return undefined;
}

/**
 * The kernels registered for the wasm or cpu backends that the webgpu backend lacks, sorted: an
 * operation that needs one fails on webgpu with "Kernel 'X' not registered for backend 'webgpu'".
 * Loads the webgpu and wasm packages' kernel registrations if nothing has yet (neither starts a
 * backend). For TensorFlow.js 4.22: BitwiseAnd, LogicalXor, NonMaxSuppressionV4, the Ragged*,
 * Sparse* and String* kernels, StaticRegexReplace and Unique; none of them is used by tslab-dl's
 * layers, losses or metrics (test/backend-webgpu.test.ts checks).
 */
export function webgpuMissingKernels(): string[] {
  if (tf.getKernelsForBackend('webgpu').length === 0) {
    // navigator.gpu first: loading the package without it would keep it from ever registering the backend.
    installNavigatorGpu();
    try {
      require(WEBGPU_PACKAGE);
    } catch {
      // Not installed: every kernel is missing, and the list below says so.
    }
  }
  if (tf.getKernelsForBackend('wasm').length === 0) {
    try {
      require('@tensorflow/tfjs-backend-wasm');
    } catch {
      // Not installed: compare with cpu alone.
    }
  }
  const webgpu = new Set(tf.getKernelsForBackend('webgpu').map((k) => k.kernelName));
  const others = new Set([...tf.getKernelsForBackend('cpu'), ...tf.getKernelsForBackend('wasm')].map((k) => k.kernelName));
  return [...others].filter((name) => !webgpu.has(name)).sort();
}

/** The kernel named by tfjs' error for a kernel the active backend lacks, e.g. "Kernel 'Unique' not registered for backend 'webgpu'". */
export function missingKernelIn(message: string, backend = 'webgpu'): string | undefined {
  const m = /Kernel '([^']+)' not registered for backend '([^']+)'/.exec(message);
  return m && m[2] === backend ? m[1] : undefined;
}
