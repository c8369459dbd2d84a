/**
 * Choosing the TensorFlow.js backend once, at start-up, and saying why.
 *
 * Order: tfjs-node-gpu (CUDA), webgpu (a hardware GPU through Dawn), tfjs-node (native CPU),
 * wasm, cpu, unless `TSLAB_DL_BACKEND` or {@link setBackend} says otherwise. Every skipped
 * candidate keeps the reason it was skipped, for `backendInfo()` and the doctor.
 *
 * tfjs-node-gpu is only tried when a GPU is usable: when the CUDA libraries are
 * missing it does not fail, it silently runs on the CPU. So we check the GPU and
 * the libraries first (lib/backends/cuda-libraries.ts), and after loading we ask TensorFlow whether
 * its device list has a GPU.
 *
 * webgpu is only tried on a hardware adapter (lib/backends/webgpu-adapter.ts): a software one (Mesa's
 * lavapipe, SwiftShader) emulates the GPU on the CPU, slower than wasm, and is used only when asked
 * for. With no adapter at all (no GPU, no Vulkan driver) it is not tried, and says why.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { registerWasmGradientKernels } from './wasm-gradient-kernels';
import { BackendError, ValueError } from '../core/errors';
import { checkGpu as checkGpuOnMachine, GpuCheck } from './cuda-libraries';
import {
  backendWorks,
  collectModuleListeners,
  pendingReset,
  prepareSpareWasmBackend,
  recoverWasmBackend,
  rememberModuleListeners,
  resetWasmBackend,
  wasmTensorCount,
} from './reset';
import { guardWasmMemory, WasmOutOfMemoryError } from './wasm-memory';
import { adapterName, probeWebGpu as probeWebGpuOnMachine, WebGpuAdapterInfo, WebGpuProbe } from './webgpu-adapter';
import { probeHardwareWebGpu, resetHardwareProbe } from './vulkan';
import { missingKernelIn, registerWebGpuBackend, webgpuMissingKernels } from './webgpu';
import { isSyncReadFailure } from '../core/tensor-reads';

/**
 * A TensorFlow.js backend tslab-dl can use: 'tfjs-node-gpu' (CUDA), 'webgpu', 'tfjs-node' (native
 * CPU), 'wasm' or 'cpu'.
 */
export type BackendName = 'tfjs-node-gpu' | 'webgpu' | 'tfjs-node' | 'wasm' | 'cpu';
/** The order {@link ready} tries the backends in, fastest first, unless `TSLAB_DL_BACKEND` names one. */
export const BACKEND_ORDER: readonly BackendName[] = ['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu'];

/** One backend as {@link ready} considered it: installed or not, usable or not, and why. */
export interface BackendCandidate {
  /** The backend. */
  name: BackendName;
  /** Whether its npm package is installed (cpu is part of @tensorflow/tfjs: always). */
  installed: boolean;
  /** The installed package version. */
  version?: string;
  /**
   * Whether this candidate was usable when it was tried (undefined: not tried; webgpu is not tried
   * without a hardware adapter, and its reason says what it found).
   */
  usable?: boolean;
  /** Why it was skipped or failed, in words a learner can act on. */
  reason?: string;
}

/** The backend in use and how it was chosen: what {@link ready}, {@link setBackend} and {@link backendInfo} return. */
export interface BackendInfo {
  /** The tslab-dl backend in use. */
  backend: BackendName;
  /** The name TensorFlow.js reports (`tf.getBackend()`): 'tensorflow', 'webgpu', 'wasm' or 'cpu'. */
  tfBackend: string;
  /**
   * True when the work runs on a GPU: tfjs-node-gpu with TensorFlow reporting a GPU device, or
   * webgpu on a hardware adapter (false on a software one, which runs on the CPU).
   */
  usingGpu: boolean;
  /** Every candidate, in the order tried, with the reason for each one skipped. */
  candidates: BackendCandidate[];
  /** What asked for this backend: the default order, TSLAB_DL_BACKEND, or setBackend(). */
  requestedBy: 'default' | 'TSLAB_DL_BACKEND' | 'setBackend';
  /** The version of TensorFlow.js, e.g. '4.22.0'. */
  tfjsVersion: string;
  /** The GPU check, when tfjs-node-gpu is installed and was considered. */
  gpu?: GpuCheck;
  /** The WebGPU adapter found, when webgpu was considered; with the kernels it lacks when it is in use. */
  webgpu?: WebGpuReport;
}

export interface WebGpuReport {
  /** The adapter Dawn offers, or undefined (then `reason` says why there is none). */
  adapter?: WebGpuAdapterInfo;
  reason?: string;
  /**
   * When webgpu is in use: the kernels wasm or cpu have and webgpu lacks ({@link webgpuMissingKernels});
   * an operation needing one fails with an error naming it, and `setBackend('wasm')` runs it.
   */
  missingKernels?: string[];
}

/** Resolves a module name to a file; tests replace it to make candidates unavailable. */
export type ModuleResolver = (name: string) => string;

/** What the selection looks at; tests replace parts of it. */
export interface SelectionOptions {
  /** Finds packages. Defaults to `require.resolve` from this library. */
  resolve?: ModuleResolver;
  /** Environment: TSLAB_DL_BACKEND, and LD_LIBRARY_PATH/PATH for the GPU check. Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Checks the GPU and CUDA libraries. Defaults to {@link checkGpuOnMachine} from lib/backends/cuda-libraries.ts. */
  checkGpu?: (env: NodeJS.ProcessEnv) => Promise<GpuCheck>;
  /**
   * Finds the WebGPU adapter. Defaults, for the automatic choice, to lib/backends/vulkan.ts'
   * probeHardwareWebGpu (driver manifests, then Dawn in a child process: nothing printed here);
   * when webgpu is asked for, to Dawn in this process (lib/backends/webgpu-adapter.ts; Dawn reads
   * VK_ICD_FILENAMES from the process' own environment when it loads, not from `env`).
   */
  probeWebGpu?: () => Promise<WebGpuProbe>;
}

/** A backend could not be started, failed while running, or was reset (defined in lib/core/errors.ts). */
export { BackendError };

const PACKAGES: Record<BackendName, string> = {
  'tfjs-node-gpu': '@tensorflow/tfjs-node-gpu',
  webgpu: '@tensorflow/tfjs-backend-webgpu',
  'tfjs-node': '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs',
};

let info: BackendInfo | undefined;
let pending: Promise<BackendInfo> | undefined;
// tfjs-node and tfjs-node-gpu each bring their own libtensorflow and register the same
// 'tensorflow' backend: once one is loaded the other cannot be, until the process restarts.
let nativeLoaded: 'tfjs-node' | 'tfjs-node-gpu' | undefined;

const defaultResolve: ModuleResolver = (name) => require.resolve(name);

function firstLines(e: unknown, n = 2): string {
  const text = e instanceof Error ? e.message : String(e);
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(0, n)
    .join(' ')
    .trim();
}

function installedVersion(name: BackendName, resolve: ModuleResolver): string | undefined {
  try {
    return require(resolve(`${PACKAGES[name]}/package.json`)).version;
  } catch {
    return undefined;
  }
}

/**
 * Makes `tfName` the active tfjs backend and runs one tiny computation on it.
 * Returns undefined on success, else the real error: tfjs only logs it with console.warn,
 * so we catch those lines instead of letting them reach the notebook.
 */
async function activate(tfName: string): Promise<string | undefined> {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(' '));
  let ok: boolean;
  try {
    ok = await tf.setBackend(tfName);
  } catch (e) {
    return firstLines(e);
  } finally {
    console.warn = warn;
  }
  if (!ok) {
    const detail = warnings.filter((w) => !/^Initialization of backend .* failed$/.test(w)).map((w) => w.split('\n')[0]);
    return `the '${tfName}' backend did not initialise${detail.length ? `: ${detail.join(' ')}` : ''}`;
  }
  try {
    const sum = tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(2)));
    const value = (await sum.data())[0];
    sum.dispose();
    if (value !== 3) return `the '${tfName}' backend computed 1 + 2 = ${value}`;
  } catch (e) {
    return `the '${tfName}' backend initialised but a first computation failed: ${firstLines(e)}`;
  }
  return undefined;
}

interface Trial {
  reason?: string;
  /** Not tried, for the reason given (no hardware WebGPU adapter): not a failure to report. */
  notTried?: boolean;
  gpu?: GpuCheck;
  usingGpu?: boolean;
  webgpu?: WebGpuReport;
}

async function tryNative(name: 'tfjs-node-gpu' | 'tfjs-node', options: Selection): Promise<Trial> {
  const pkg = PACKAGES[name];
  const trial: Trial = {};
  if (nativeLoaded && nativeLoaded !== name) {
    return {
      reason: `cannot be loaded: ${PACKAGES[nativeLoaded]} is already loaded in this process and both bring libtensorflow; set TSLAB_DL_BACKEND=${name} and restart the kernel`,
    };
  }
  if (name === 'tfjs-node-gpu') {
    trial.gpu = await options.checkGpu(options.env);
    if (!trial.gpu.usable) {
      trial.reason = `installed, but no usable CUDA GPU: ${trial.gpu.problems.join('; ')}. \`npx tslab-dl doctor\` shows the fix for each`;
      return trial;
    }
  }
  if (nativeLoaded !== name) {
    try {
      require(options.resolve(pkg));
    } catch (e) {
      return { ...trial, reason: `installed but failed to load: ${firstLines(e, 3)}` };
    }
    nativeLoaded = name;
  } else if (!tf.findBackendFactory('tensorflow')) {
    return { ...trial, reason: `was loaded earlier in this process but TensorFlow listed no GPU then; restart the kernel to try again` };
  }
  const failed = await activate('tensorflow');
  if (failed) return { ...trial, reason: failed };
  trial.usingGpu = Boolean((tf.backend() as { isUsingGpuDevice?: boolean }).isUsingGpuDevice);
  if (name === 'tfjs-node-gpu' && !trial.usingGpu) {
    // The silent CPU fallback: libtensorflow found no GPU it could use.
    tf.removeBackend('tensorflow');
    trial.reason =
      "loaded, but TensorFlow lists no GPU device, so it would silently run on the CPU. The CUDA libraries load, so check that the NVIDIA driver supports CUDA 11.2 (`nvidia-smi`) and that CUDA_VISIBLE_DEVICES hides no GPU; TensorFlow writes the exact cause to the kernel's stderr (the terminal that started Jupyter)";
  }
  return trial;
}

/**
 * The webgpu candidate: on a hardware adapter always, on a software one only when asked for
 * (`forced`). Registers the backend (lib/backends/webgpu.ts), starts it and checks that it computes
 * on the GPU itself: small tensors it holds on the CPU are computed there.
 */
async function tryWebGpu(options: Selection, forced: boolean): Promise<Trial> {
  const probe = await (options.probeWebGpu ?? (forced ? probeWebGpuOnMachine : () => probeHardwareWebGpu(options.env)))();
  const webgpu: WebGpuReport = { adapter: probe.adapter, reason: probe.reason };
  const adapter = probe.adapter;
  if (!adapter && probe.softwareDrivers) {
    return {
      reason: `${probe.reason}, slower than wasm: never chosen automatically (TSLAB_DL_BACKEND=webgpu uses one anyway)`,
      notTried: true,
      webgpu,
    };
  }
  if (!adapter) return { reason: probe.reason ?? 'no WebGPU adapter', notTried: !forced, webgpu };
  const name = adapterName(adapter);
  if (adapter.software && !forced) {
    return {
      reason:
        `only a software WebGPU adapter (${name}), which emulates a GPU on the CPU, slower than wasm: software adapters are ` +
        'never chosen automatically (TSLAB_DL_BACKEND=webgpu uses it anyway)',
      notTried: true,
      webgpu,
    };
  }
  const unregistered = registerWebGpuBackend(options.resolve);
  if (unregistered) return { reason: unregistered, webgpu };
  const failed = await activate('webgpu');
  if (failed) return { reason: `adapter ${name}: ${failed}`, webgpu };
  try {
    // 4096 values made on the GPU: above the size (WEBGPU_CPU_HANDOFF_SIZE_THRESHOLD) it computes on the CPU.
    const sum = tf.tidy(() => tf.sum(tf.mul(tf.ones([4096]), 2)));
    const value = (await sum.data())[0];
    sum.dispose();
    if (value !== 8192) return { reason: `adapter ${name}: the webgpu backend computed sum(2 * ones(4096)) = ${value}`, webgpu };
  } catch (e) {
    return { reason: `adapter ${name}: the webgpu backend initialised but a computation on the GPU failed: ${firstLines(e)}`, webgpu };
  }
  return { usingGpu: !adapter.software, webgpu: { ...webgpu, missingKernels: webgpuMissingKernels() } };
}

async function tryCandidate(name: BackendName, options: Selection, forced: boolean): Promise<Trial> {
  switch (name) {
    case 'tfjs-node-gpu':
    case 'tfjs-node':
      return tryNative(name, options);
    case 'webgpu':
      return tryWebGpu(options, forced);
    case 'wasm': {
      try {
        const wasm = require(options.resolve(PACKAGES.wasm));
        const dist = path.join(path.dirname(options.resolve(`${PACKAGES.wasm}/package.json`)), 'dist') + path.sep;
        wasm.setWasmPaths(dist);
        // Training convolutions needs kernels wasm lacks (lib/backends/wasm-gradient-kernels.ts).
        registerWasmGradientKernels();
      } catch (e) {
        return { reason: `${PACKAGES.wasm} could not be loaded: ${firstLines(e)}` };
      }
      // Emscripten's Node glue adds process listeners per module: kept to be removed on a reset.
      const { result: reason, listeners } = await collectModuleListeners(() => activate('wasm'));
      if (reason === undefined) {
        const instance = tf.findBackend('wasm') ?? undefined;
        rememberModuleListeners(instance, listeners);
        guardWasmMemory(instance);
        prepareSpareWasmBackend();
      }
      return { reason };
    }
    case 'cpu':
      return { reason: await activate('cpu') };
  }
}

function silenceCpuBanner(): void {
  // The cpu backend prints "looks like you are running TensorFlow.js in Node.js" on first use;
  // we choose the backend ourselves and report it, so the banner only misleads.
  const cpu = tf.findBackend('cpu') as any;
  if (cpu) cpu.firstUse = false;
}

function parseRequested(value: string, source: string): BackendName {
  const name = value.trim() as BackendName;
  if (!BACKEND_ORDER.includes(name)) {
    throw new ValueError(`${source} must be one of ${BACKEND_ORDER.join(', ')}. Received ${JSON.stringify(value)}.`);
  }
  return name;
}

/** The options with their defaults; the WebGPU probe's depends on whether webgpu was asked for. */
type Selection = Required<Omit<SelectionOptions, 'probeWebGpu'>> & Pick<SelectionOptions, 'probeWebGpu'>;

function withDefaults(options: SelectionOptions): Selection {
  return {
    resolve: options.resolve ?? defaultResolve,
    env: options.env ?? process.env,
    checkGpu: options.checkGpu ?? checkGpuOnMachine,
    probeWebGpu: options.probeWebGpu,
  };
}

async function choose(order: readonly BackendName[], requestedBy: BackendInfo['requestedBy'], options: Selection): Promise<BackendInfo> {
  const candidates: BackendCandidate[] = [];
  let gpu: GpuCheck | undefined;
  let webgpu: WebGpuReport | undefined;
  for (const name of order) {
    const version = installedVersion(name, options.resolve);
    const installed = version !== undefined;
    if (!installed) {
      const setup =
        name === 'tfjs-node-gpu' ? ' (`npm run setup:gpu` adds it)' : name === 'tfjs-node' ? ' (`npm run setup:native` adds it)' : '';
      candidates.push({ name, installed, usable: false, reason: `${PACKAGES[name]} is not installed${setup}` });
      continue;
    }
    const trial = await tryCandidate(name, options, requestedBy !== 'default');
    gpu = trial.gpu ?? gpu;
    webgpu = trial.webgpu ?? webgpu;
    candidates.push({
      name,
      installed,
      version,
      usable: trial.reason === undefined ? true : trial.notTried ? undefined : false,
      reason: trial.reason,
    });
    if (trial.reason === undefined) {
      silenceCpuBanner();
      for (const rest of BACKEND_ORDER) {
        if (!candidates.some((c) => c.name === rest)) {
          const restVersion = installedVersion(rest, options.resolve);
          const why = requestedBy === 'default' ? `${name} comes first and was chosen` : `${requestedBy} asked for ${name}`;
          candidates.push({ name: rest, installed: restVersion !== undefined, version: restVersion, reason: `not tried: ${why}` });
        }
      }
      return {
        backend: name,
        tfBackend: tf.getBackend(),
        usingGpu: trial.usingGpu ?? false,
        candidates,
        requestedBy,
        tfjsVersion: tf.version.tfjs,
        gpu,
        webgpu,
      };
    }
  }
  const lines = candidates.map((c) => `  ${c.name}: ${c.reason}`).join('\n');
  const fix =
    requestedBy === 'TSLAB_DL_BACKEND'
      ? `\nUnset TSLAB_DL_BACKEND (or set it to wasm or cpu) and restart the kernel.`
      : requestedBy === 'setBackend'
        ? `\nThe backend in use is unchanged${info ? ` (${info.backend})` : ''}.`
        : '';
  const what =
    requestedBy === 'default'
      ? 'No TensorFlow.js backend could be started'
      : `The ${order[0]} backend (asked for by ${requestedBy}) cannot be used`;
  throw new BackendError(`${what}:\n${lines}${fix}`, order.length === 1 ? order[0] : undefined);
}

/**
 * Chooses and initialises the backend once; later calls return the same choice.
 * Every async entry point of the library awaits this first.
 */
export function ready(options: SelectionOptions = {}): Promise<BackendInfo> {
  if (info) {
    const chosen = info;
    const resetting = pendingReset();
    return resetting
      ? resetting.then(
          () => chosen,
          (e) => Promise.reject(resetFailed(e)),
        )
      : Promise.resolve(chosen);
  }
  if (!pending) {
    const full = withDefaults(options);
    const requested = full.env.TSLAB_DL_BACKEND;
    pending = (async () =>
      requested
        ? choose([parseRequested(requested, 'TSLAB_DL_BACKEND')], 'TSLAB_DL_BACKEND', full)
        : choose(BACKEND_ORDER, 'default', full))().then(
      (chosen) => (info = chosen),
      (e) => {
        pending = undefined;
        throw e;
      },
    );
  }
  return pending;
}

/**
 * Switches to another backend now, e.g. `await setBackend('cpu')` after the GPU ran out
 * of memory. Throws a {@link BackendError} with the reason if it cannot be used, and
 * then keeps the backend that was in use.
 */
export async function setBackend(name: BackendName, options: SelectionOptions = {}): Promise<BackendInfo> {
  const wanted = parseRequested(name, 'setBackend(name)');
  const previous = info;
  try {
    info = await choose([wanted], 'setBackend', withDefaults(options));
  } catch (e) {
    if (previous) await tf.setBackend(previous.tfBackend).catch(() => false);
    throw e;
  }
  pending = Promise.resolve(info);
  return info;
}

/** The backend in use and why the others were skipped. Call after `await ready()`. */
export function backendInfo(): BackendInfo {
  if (!info) {
    throw new Error('No backend has been chosen yet: await ready() (the tslab-dl kernel does this at start-up).');
  }
  return info;
}

/**
 * One line for the kernel to show at start-up, e.g.
 * "tslab-dl: TensorFlow.js 4.22.0 on wasm (tfjs-node-gpu: @tensorflow/tfjs-node-gpu is not installed ...; ...)".
 */
export function backendSummary(chosen: BackendInfo = backendInfo()): string {
  const adapter = chosen.webgpu?.adapter;
  const where =
    chosen.backend === 'tfjs-node-gpu'
      ? 'tfjs-node-gpu (CUDA GPU)'
      : chosen.backend === 'webgpu' && adapter
        ? `webgpu (${adapterName(adapter)}${adapter.software ? ': a software adapter, slower than wasm' : ''})`
        : chosen.backend;
  const skipped = chosen.candidates.filter((c) => c.usable === false).map((c) => `${c.name}: ${c.installed ? c.reason : 'not installed'}`);
  const how = chosen.requestedBy === 'default' ? '' : ` [${chosen.requestedBy}]`;
  return `tslab-dl: TensorFlow.js ${chosen.tfjsVersion} on ${where}${how}${skipped.length ? ` (${skipped.join('; ')})` : ''}`;
}

const OUT_OF_MEMORY =
  /\bOOM\b|out of memory|CUDA_ERROR_OUT_OF_MEMORY|RESOURCE_EXHAUSTED|Invalid TF_Status: 8\b|Cannot enlarge memory|Array buffer allocation failed|failed to allocate/i;
const NATIVE_FAILURE =
  /Invalid TF_Status: (2|9|13|14)\b|CUDA_ERROR|CUDNN_STATUS|CUBLAS_STATUS|cuDNN|cuBLAS|GPU sync failed|Failed to get convolution algorithm/;
// Emscripten (the wasm backend) aborts with a WebAssembly.RuntimeError "Aborted(...)".
const WASM_ABORT = /^(RuntimeError: )?(Aborted\(|abort\()/;

/** The BackendError made for an error: explaining it again (kernel and library both do) must not reset twice. */
const explained = new WeakMap<object, BackendError>();

/** A failed reset, in words: what to do instead. */
function resetFailed(e: unknown): BackendError {
  return new BackendError(
    `The wasm backend broke and could not be reset (${firstLines(e)}). Restart the kernel (Kernel > Restart Kernel) and run the notebook ` +
      `again from the top, or switch backend: \`await setBackend('cpu')\`, then re-run the cells from the one that loads the data.`,
    'wasm',
    { cause: e },
  );
}

/**
 * Turns an error thrown by the running backend (out of memory, a CUDA or cuDNN failure, a wasm
 * abort) into a {@link BackendError} that says so, what the failure left behind and how to go on.
 * It checks the backend with a tiny computation: a wasm backend that no longer computes is reset
 * (lib/backends/reset.ts) and the message says that every tensor on it, model weights included, is
 * lost. Any other error (a wrong shape, a missing file) is returned unchanged. Use as
 * `catch (e) { throw explainBackendError(e); }`; the tslab-dl kernel calls it for every failed cell.
 */
export function explainBackendError(e: unknown): unknown {
  if (e instanceof BackendError) return e;
  const known = typeof e === 'object' && e !== null ? explained.get(e) : undefined;
  if (known) return known;
  const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const plain = e instanceof Error ? e.message : String(e);
  // WebAssembly is a Node global, but the ES2022 + node typings declare it as a namespace only.
  const wasmRuntimeError = (globalThis as { WebAssembly?: { RuntimeError: abstract new () => Error } }).WebAssembly?.RuntimeError;
  const isWasmRuntime = wasmRuntimeError !== undefined && e instanceof wasmRuntimeError;
  const backendNow = info?.backend ?? (tf.getBackend() as BackendName);
  const webgpuLimit = explainWebGpuLimit(e, plain, backendNow);
  if (webgpuLimit) {
    if (typeof e === 'object' && e !== null) explained.set(e, webgpuLimit);
    return webgpuLimit;
  }
  // The wasm backend's memory is one WebAssembly.Memory of at most 4 GiB: a tensor that does not
  // fit throws from our allocator guard (lib/backends/wasm-memory.ts), or a RangeError from a typed-array view.
  const wasmMemory =
    e instanceof WasmOutOfMemoryError ||
    (backendNow === 'wasm' &&
      e instanceof RangeError &&
      /offset is out of bounds|Invalid typed array length|allocation failed/.test(plain));
  let what: string | undefined;
  if (OUT_OF_MEMORY.test(message) || wasmMemory) what = 'ran out of memory';
  else if (NATIVE_FAILURE.test(message)) what = 'failed';
  else if (isWasmRuntime || WASM_ABORT.test(plain)) what = 'aborted';
  if (!what) return e;
  const backend = backendNow;
  const detail = e instanceof WasmOutOfMemoryError ? e.detail : firstLines(e, 3);

  // What the failure left behind. A trap inside tfjs-backend-wasm leaves its module broken (and
  // its memory possibly overwritten) even when a tiny computation still happens to work.
  const wasmInUse = backend === 'wasm' && tf.getBackend() === 'wasm';
  const trappedInBackend = isWasmRuntime && /tfjs-backend-wasm/.test((e as Error).stack ?? '');
  const held = wasmTensorCount();
  let state: 'works' | 'reset' | 'pending' | 'broken';
  let failure: string | undefined;
  if (!(wasmInUse && trappedInBackend) && backendWorks()) {
    state = 'works';
  } else if (wasmInUse) {
    const outcome = resetWasmBackend();
    state = outcome.state === 'failed' ? 'broken' : outcome.state;
    failure = outcome.reason;
  } else {
    state = 'broken';
  }
  // A trap in another WebAssembly module (h5wasm reading weights, say), with the backend unharmed, is not the backend's.
  if (what === 'aborted' && isWasmRuntime && !trappedInBackend && state === 'works') return e;

  const others = BACKEND_ORDER.filter((b) => b !== backend && (b === 'cpu' || b === 'wasm'));
  const other = others.includes('cpu') ? 'cpu' : others[0];
  const switchTo = (from: string) =>
    `  - switch backend in this kernel: \`await setBackend('${other}')\`, then re-run the cells from the one that ${from}, or`;
  const restartWith = `  - start Jupyter with TSLAB_DL_BACKEND=${others[0] ?? 'cpu'} (e.g. \`TSLAB_DL_BACKEND=${others[0] ?? 'cpu'} npm start\`) and restart the kernel.`;
  const lines = [`The ${backend} backend ${what}: ${detail}`];
  if (state === 'works') {
    lines.push('The kernel is still running, and so is the backend: the tensors and models you made are intact. To go on:');
    // An emscripten abort in the wasm backend is most often its memory (4 GiB at most) running out.
    if (what === 'ran out of memory' || backend === 'wasm')
      lines.push('  - use a smaller batch size (batchSize) and run the cell again, or');
    lines.push(switchTo('builds the model'), restartWith);
  } else if (state === 'reset' || state === 'pending') {
    const now =
      state === 'reset'
        ? 'so tslab-dl reset it: a fresh wasm backend runs now'
        : 'so tslab-dl is resetting it: a fresh wasm backend runs in a moment (`await ready()` waits for it)';
    lines.push(
      `This broke the wasm backend (afterwards even tf.scalar(1).add(1) fails), ${now}.`,
      `Lost: every tensor that was on the old backend (${held} in all), including the data you loaded and the weights of every model: ` +
        'the model must be built again. Using an old tensor raises an error that says so.',
      'The kernel is still running. To go on:',
      '  - re-run the cells from the one that loads the data, and build the model again; use a smaller batch size (batchSize) if memory ran out, or',
      switchTo('loads the data'),
      restartWith,
    );
  } else {
    lines.push(
      `This broke the ${backend} backend (afterwards even tf.scalar(1).add(1) fails)` +
        `${failure ? `, and tslab-dl could not reset it (${failure})` : ''}: every tensor on it is lost, the weights of every model included. To go on:`,
      switchTo('loads the data'),
      '  - or restart the kernel (Kernel > Restart Kernel) and run the notebook again from the top.',
    );
  }
  const error = new BackendError(lines.join('\n'), backend, { cause: e });
  if (typeof e === 'object' && e !== null) explained.set(e, error);
  return error;
}

/**
 * What the webgpu backend cannot do, which leaves it working: run a kernel it lacks (tfjs' error
 * names it), or read a tensor computed on the GPU synchronously (lib/core/tensor-reads.ts).
 */
function explainWebGpuLimit(e: unknown, plain: string, backendNow: BackendName): BackendError | undefined {
  const kernel = missingKernelIn(plain, 'webgpu');
  const syncRead = !kernel && tf.getBackend() === 'webgpu' && isSyncReadFailure(e);
  if (!kernel && !syncRead) return undefined;
  const what = kernel
    ? `The webgpu backend has no '${kernel}' kernel (TensorFlow.js ${tf.version.tfjs}'s webgpu backend does not implement it), ` +
      `so this operation cannot run on it: ${firstLines(e)}`
    : 'The webgpu backend cannot read a tensor computed on the GPU synchronously in Node: dataSync(), arraySync(), print() and ' +
      'toString() (a tensor in a template string, say) need an OffscreenCanvas, which Node lacks.';
  const lines = [what, 'The kernel is still running, and so is the backend: the tensors and models you made are intact. To go on:'];
  if (syncRead)
    lines.push(
      '  - read asynchronously instead: `await t.data()`, `await t.array()` (a cell that ends with a tensor shows its values), or',
    );
  lines.push(
    `  - switch backend in this kernel: \`await setBackend('wasm')\`, then re-run ${kernel ? 'this cell' : 'the cell'}, or`,
    '  - start Jupyter with TSLAB_DL_BACKEND=wasm (e.g. `TSLAB_DL_BACKEND=wasm npm start`) and restart the kernel.',
  );
  return new BackendError(lines.join('\n'), backendNow === 'webgpu' ? 'webgpu' : undefined, { cause: e });
}

/**
 * Runs `work`, turning backend failures into a {@link BackendError} (see {@link explainBackendError});
 * when the failure reset the backend, it throws once the fresh backend is ready.
 */
export async function withBackendErrors<T>(work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    const error = explainBackendError(e);
    const resetting = pendingReset();
    if (resetting) await resetting.catch(() => undefined);
    throw error;
  }
}

/**
 * Makes the backend usable again after it broke: waits for a reset in progress, or resets a
 * broken wasm backend now (every tensor on it is lost). Resolves to whether a reset happened;
 * throws a {@link BackendError} saying what to do when the backend cannot be reset.
 */
export async function recoverBackend(): Promise<boolean> {
  try {
    return await recoverWasmBackend();
  } catch (e) {
    throw e instanceof BackendError ? e : resetFailed(e);
  }
}

/** Forgets the choice so the next ready() chooses again (tests only). */
export function resetBackendChoice(): void {
  resetHardwareProbe();
  info = undefined;
  pending = undefined;
  // Tests load stand-in native packages one after another; a real process cannot unload one.
  nativeLoaded = undefined;
}
