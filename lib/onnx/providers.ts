/**
 * Which ONNX Runtime execution provider runs the frozen layers: CUDA's, WebGPU's or the CPU's.
 *
 * - CUDA (https://onnxruntime.ai/docs/execution-providers/CUDA-ExecutionProvider.html): every
 *   linux-x64 build of onnxruntime-node lists it, but its libraries come from the package's install
 *   script, which only `npm run setup:cuda` runs here. Used when that library is present and loads
 *   (with the CUDA 12 runtime and cuDNN 9 it needs) and the NVIDIA driver's libcuda.so.1 is there.
 *   It comes first: nobody installs it by accident.
 * - WebGPU (https://onnxruntime.ai/docs/tutorials/web/ep-webgpu.html): bundled (Dawn, on Vulkan
 *   under Linux). Used automatically only for a hardware adapter (lib/backends/webgpu-adapter.ts): a software
 *   one (Mesa's lavapipe) runs the same shaders far slower than the CPU provider; forcing it with
 *   executor 'onnx-webgpu' is how the tests use it.
 * - CPU: always there.
 *
 * A GPU session is created with `session.disable_cpu_ep_fallback` (onnxruntime_session_options_config_keys.h):
 * ONNX Runtime would otherwise quietly run the nodes the GPU provider lacks on the CPU; it fails
 * instead, and the executor says why and takes the next provider.
 */
import { execFile } from 'child_process';
import * as path from 'path';
import { ValueError } from '../core/errors';
import { adapterName, describeAdapter, probeWebGpu, WebGpuAdapterInfo, WebGpuProbe } from '../backends/webgpu-adapter';
import { cudaProviderLibrary, loadOnnxRuntime, ModuleLoader } from './runtime';
import { releaseOnnxSessions } from './session-cache';
import { probeHardwareWebGpu, resetHardwareProbe } from '../backends/vulkan';

export type OnnxProvider = 'cuda' | 'webgpu' | 'cpu';

/** The order 'best' tries them in. */
export const PROVIDER_ORDER: readonly OnnxProvider[] = ['cuda', 'webgpu', 'cpu'];

/** What a provider can do here. */
export interface ProviderStatus {
  name: OnnxProvider;
  /** This onnxruntime-node build lists it (listSupportedBackends). */
  listed: boolean;
  /** A session may ask for it: forcing it works. */
  usable: boolean;
  /** 'best' may choose it (a software WebGPU adapter is usable but never automatic). */
  automatic: boolean;
  /** One line: the adapter, the library, or why not. */
  detail: string;
  /** What to install when it is not usable. */
  fix?: string;
  /** The WebGPU adapter, for 'webgpu'. */
  adapter?: WebGpuAdapterInfo;
}

/** Whether the CUDA provider library loads, checked in a child process. */
export interface CudaProviderCheck {
  /** The library, when the install script put it there. */
  library?: string;
  loads: boolean;
  /** The loader's message, naming the missing library. */
  error?: string;
}

/** How the checks are made; tests replace them. */
export interface ProviderProbes {
  loader?: ModuleLoader;
  webgpu?: () => Promise<WebGpuProbe>;
  cuda?: () => Promise<CudaProviderCheck>;
  /** Probe the WebGPU adapter with Dawn in this process (when it is asked for by name). */
  forceWebGpu?: boolean;
}

const NAMES: Record<OnnxProvider, string> = { cuda: 'CUDA', webgpu: 'WebGPU', cpu: 'CPU' };

/** 'CUDA', 'WebGPU', 'CPU'. */
export function providerName(provider: OnnxProvider): string {
  return NAMES[provider];
}

const CUDA_FIX =
  '`npm run setup:cuda` downloads it (it needs the network, the NVIDIA driver, the CUDA 12 runtime and cuDNN 9: ' +
  'https://onnxruntime.ai/docs/execution-providers/CUDA-ExecutionProvider.html#requirements)';
const WEBGPU_FIX =
  "install the Vulkan loader (`sudo apt-get install libvulkan1`) and your GPU driver's Vulkan driver: for NVIDIA the " +
  "driver's ICD, nvidia_icd.json (Debian: nvidia-vulkan-icd; Ubuntu: the driver's libnvidia-gl package; in a container, " +
  'NVIDIA_DRIVER_CAPABILITIES must include graphics)';

// dlopen()s libcuda.so.1 (the driver), then the provider, the way ONNX Runtime does when a session
// asks for CUDA: a missing CUDA or cuDNN library shows as the loader's message. process.dlopen
// loads any shared library; one that is no Node addon says "did not self-register" once loaded.
const CUDA_DLOPEN = `
const check = (file) => {
  try { process.dlopen({ exports: {} }, file); return { loads: true }; }
  catch (e) { const m = String(e && e.message); return m.includes('did not self-register') ? { loads: true } : { loads: false, error: m.split('\\n')[0] }; }
};
const driver = check('libcuda.so.1');
const out = driver.loads ? check(process.argv[1]) : { loads: false, error: 'the NVIDIA driver library libcuda.so.1 does not load: ' + driver.error };
process.stdout.write(JSON.stringify(out));
`;

/** Loads the CUDA provider library in a child process (a failed load leaves nothing behind here). */
export function checkCudaProvider(env: NodeJS.ProcessEnv = process.env): Promise<CudaProviderCheck> {
  const library = cudaProviderLibrary();
  if (!library) return Promise.resolve({ loads: false });
  // Its neighbour libonnxruntime_providers_shared.so is found through the library's folder.
  const ldPath = [path.dirname(library), env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-e', CUDA_DLOPEN, library],
      { env: { ...env, LD_LIBRARY_PATH: ldPath }, timeout: 60_000, encoding: 'utf8' },
      (error, stdout, stderr) => {
        try {
          resolve({ library, ...JSON.parse(stdout) });
        } catch {
          resolve({
            library,
            loads: false,
            error: `the check process failed: ${(stderr || error?.message || 'no output').trim().split('\n')[0]}`,
          });
        }
      },
    );
  });
}

let cudaChecked: Promise<CudaProviderCheck> | undefined;
const failures = new Map<OnnxProvider, string>();

/** Each provider's status here, in the order 'best' tries them. */
export async function providerStatuses(probes: ProviderProbes = {}): Promise<ProviderStatus[]> {
  const { ort, info } = loadOnnxRuntime(probes.loader);
  if (!ort)
    return [{ name: 'cpu', listed: false, usable: false, automatic: false, detail: info.reason ?? 'onnxruntime-node does not load' }];
  const listed = (name: string) => info.listedProviders.includes(name);
  const statuses: ProviderStatus[] = [];

  if (!listed('cuda')) {
    statuses.push({
      name: 'cuda',
      listed: false,
      usable: false,
      automatic: false,
      detail: `this onnxruntime-node build (${process.platform}-${process.arch}) has no CUDA provider`,
    });
  } else {
    const cuda = await (probes.cuda ? probes.cuda() : (cudaChecked ??= checkCudaProvider()));
    if (!cuda.library)
      statuses.push({
        name: 'cuda',
        listed: true,
        usable: false,
        automatic: false,
        detail: 'listed, but its library (libonnxruntime_providers_cuda.so) is not installed',
        fix: CUDA_FIX,
      });
    else if (!cuda.loads) {
      statuses.push({
        name: 'cuda',
        listed: true,
        usable: false,
        automatic: false,
        detail: `${cuda.library} does not load: ${cuda.error}`,
        fix: 'install the NVIDIA driver, the CUDA 12 runtime and cuDNN 9 (https://onnxruntime.ai/docs/execution-providers/CUDA-ExecutionProvider.html#requirements) and put their folder on LD_LIBRARY_PATH',
      });
    } else statuses.push({ name: 'cuda', listed: true, usable: true, automatic: true, detail: `${cuda.library} loads` });
  }

  if (!listed('webgpu')) {
    statuses.push({
      name: 'webgpu',
      listed: false,
      usable: false,
      automatic: false,
      detail: 'this onnxruntime-node build has no WebGPU provider',
    });
  } else {
    // Dawn itself (it may print to stderr) only when WebGPU is asked for; else the quiet probe.
    const probe = await (probes.webgpu ?? (probes.forceWebGpu ? probeWebGpu : () => probeHardwareWebGpu()))();
    if (!probe.adapter && probe.softwareDrivers) {
      statuses.push({
        name: 'webgpu',
        listed: true,
        usable: true,
        automatic: false,
        detail: `${probe.reason}; executor 'onnx-webgpu' forces it`,
        fix: WEBGPU_FIX,
      });
    } else if (!probe.adapter) {
      // The probe's reason may end with its own install hint: `fix` says it in full.
      const detail = (probe.reason ?? 'no WebGPU adapter').replace(/ \(install [^]*\)$/, '');
      statuses.push({ name: 'webgpu', listed: true, usable: false, automatic: false, detail, fix: WEBGPU_FIX });
    } else {
      const adapter = probe.adapter;
      statuses.push({
        name: 'webgpu',
        listed: true,
        usable: true,
        automatic: !adapter.software,
        detail: `adapter ${describeAdapter(adapter)}${adapter.software ? "; executor 'onnx-webgpu' forces it" : ''}`,
        fix: adapter.software ? WEBGPU_FIX : undefined,
        adapter,
      });
    }
  }

  statuses.push({ name: 'cpu', listed: true, usable: true, automatic: true, detail: 'always available' });
  // A GPU provider whose session failed earlier in this process is not chosen again by itself.
  return statuses.map((s) =>
    failures.has(s.name) && s.automatic
      ? { ...s, automatic: false, detail: `${s.detail}; a session failed earlier in this process: ${failures.get(s.name)}` }
      : s,
  );
}

/** The provider a session tries first, and those it may fall back to, in order (ending with the CPU). */
export interface ProviderChoice {
  provider: OnnxProvider;
  /** Providers to try when the first cannot create a session (empty when one was forced). */
  fallbacks: OnnxProvider[];
  /** Whether the caller named the provider (no fallback then). */
  forced: boolean;
  statuses: ProviderStatus[];
}

let bestChoice: Promise<ProviderChoice> | undefined;
let bestDecided: ProviderChoice | undefined;

/** The provider 'best' chose, once {@link chooseOnnxProvider} has decided it in this process; else undefined. */
export function decidedOnnxProvider(): ProviderChoice | undefined {
  return bestDecided;
}

/**
 * The provider for `wanted`: 'best' takes the first automatic one (see the header); a named one
 * must be usable, or this throws, naming it and saying what to do. 'best' is decided once per
 * process (the probes do not change), again after {@link markProviderFailed}.
 * `executorName` is how the caller asked for it, for the error message.
 */
export async function chooseOnnxProvider(
  wanted: OnnxProvider | 'best' = 'best',
  probes?: ProviderProbes,
  executorName?: string,
): Promise<ProviderChoice> {
  if (wanted !== 'best' && !PROVIDER_ORDER.includes(wanted)) {
    throw new ValueError(`provider must be 'best', 'cuda', 'webgpu' or 'cpu'. Received ${JSON.stringify(wanted)}.`);
  }
  const custom = probes !== undefined && (probes.loader ?? probes.webgpu ?? probes.cuda) !== undefined;
  if (wanted === 'best') {
    const decide = async (): Promise<ProviderChoice> => {
      const statuses = await providerStatuses(probes);
      const automatic = statuses.filter((s) => s.automatic).map((s) => s.name);
      if (automatic.length === 0) throw new Error(`ONNX Runtime cannot be used: ${statuses[0].detail}.`);
      return { provider: automatic[0], fallbacks: automatic.slice(1), forced: false, statuses };
    };
    if (custom) return decide();
    bestChoice ??= decide().then(
      (choice) => (bestDecided = choice),
      (e) => {
        bestChoice = undefined;
        throw e;
      },
    );
    return bestChoice;
  }
  const statuses = await providerStatuses({ ...probes, forceWebGpu: wanted === 'webgpu' });
  const status = statuses.find((s) => s.name === wanted);
  if (!status?.usable) {
    const asked = executorName ?? `provider '${wanted}'`;
    const why = status?.detail ?? 'onnxruntime-node does not load';
    const fix = status?.fix ? ` To use it: ${status.fix}.` : '';
    throw new ValueError(
      `${asked} cannot be used: ONNX Runtime's ${providerName(wanted)} provider is not available here (${why}).${fix} Or use executor 'onnx' (the best provider available) or 'onnx-cpu'.`,
    );
  }
  return { provider: wanted, fallbacks: [], forced: true, statuses };
}

/** A GPU provider could not create a session: 'best' does not choose it again in this process. */
export function markProviderFailed(provider: OnnxProvider, reason: string): void {
  if (provider === 'cpu') return;
  failures.set(provider, reason);
  bestChoice = undefined;
  bestDecided = undefined;
}

/** Session options naming the provider: a GPU one alone and with no quiet CPU fallback. */
export function providerSessionOptions(provider: OnnxProvider): {
  executionProviders: string[];
  extra?: { session: Record<string, string> };
} {
  if (provider === 'cpu') return { executionProviders: ['cpu'] };
  // ONNX Runtime adds the CPU provider itself; with this key a node assigned to it fails the session.
  return { executionProviders: [provider], extra: { session: { disable_cpu_ep_fallback: '1' } } };
}

/** The provider in a few words: 'CPU', 'CUDA', 'WebGPU: NVIDIA H200 (hardware)'. */
export function providerLabel(provider: OnnxProvider, statuses: ProviderStatus[] = []): string {
  const adapter = statuses.find((s) => s.name === provider)?.adapter;
  if (provider !== 'webgpu' || !adapter) return providerName(provider);
  return `WebGPU: ${adapterName(adapter)} (${adapter.software ? 'software' : 'hardware'})`;
}

/** One short line: "ONNX Runtime on WebGPU: NVIDIA H200 (hardware)", "ONNX Runtime on the CPU". */
export function describeProvider(provider: OnnxProvider, statuses: ProviderStatus[] = []): string {
  return `ONNX Runtime on ${provider === 'cpu' ? 'the CPU' : providerLabel(provider, statuses)}`;
}

/** Forgets the decisions and failures (tests), and releases the sessions opened on them. */
export function resetProviderChoice(): void {
  releaseOnnxSessions();
  resetHardwareProbe();
  bestChoice = undefined;
  bestDecided = undefined;
  cudaChecked = undefined;
  failures.clear();
}
