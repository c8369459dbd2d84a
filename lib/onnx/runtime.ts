/**
 * Loading onnxruntime-node on demand, and choosing its execution provider.
 *
 * The package is optional at run time: when it is missing or fails to load,
 * `onnxAvailable()` is false and `onnxRuntimeInfo().reason` says why, so the
 * caller can run everything on tfjs instead.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type * as Ort from 'onnxruntime-node';

export type OrtModule = typeof Ort;

/** Loads a module by name; tests replace it to simulate a missing package. */
export type ModuleLoader = (name: string) => unknown;

/** What {@link onnxRuntimeInfo} reports: whether onnxruntime-node loads, its version and its execution providers. */
export interface OnnxRuntimeInfo {
  /** Whether onnxruntime-node can be loaded here. */
  available: boolean;
  /** Why it is not available, in words a learner can act on. */
  reason?: string;
  /** onnxruntime-node's version. */
  version?: string;
  /** Execution providers this build lists (some, like 'cuda', may lack their libraries). */
  listedProviders: string[];
  /**
   * The listed providers whose libraries are here (bundled, or CUDA's downloaded by
   * `npm run setup:cuda`), in order of preference. Whether a GPU one is used also depends on the
   * device: see chooseOnnxProvider (lib/onnx/providers.ts).
   */
  providers: string[];
}

const PACKAGE = 'onnxruntime-node';
let loaded: { ort?: OrtModule; info: OnnxRuntimeInfo } | undefined;

/** Loads onnxruntime-node once (per loader) and describes it. */
export function loadOnnxRuntime(load: ModuleLoader = require): { ort?: OrtModule; info: OnnxRuntimeInfo } {
  if (loaded && load === require) return loaded;
  let result: { ort?: OrtModule; info: OnnxRuntimeInfo };
  try {
    const ort = load(PACKAGE) as OrtModule;
    const listed = ort.listSupportedBackends?.() ?? [{ name: 'cpu', bundled: true }];
    const listedProviders = listed.map((b) => b.name);
    const present = (name: string) =>
      listed.some((b) => b.name === name && (b.bundled || (name === 'cuda' && cudaProviderLibrary() !== undefined)));
    const providers = ['cuda', 'webgpu', 'cpu'].filter((name) => name === 'cpu' || present(name));
    result = { ort, info: { available: true, version: ort.env?.versions?.common, listedProviders, providers } };
  } catch (e) {
    const message = (e as Error).message.split('\n')[0];
    const reason =
      (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && message.includes(`'${PACKAGE}'`)
        ? `${PACKAGE} is not installed (npm install ${PACKAGE} adds it; tfjs runs everything meanwhile)`
        : `${PACKAGE} is installed but failed to load: ${message}`;
    result = { info: { available: false, reason, listedProviders: [], providers: [] } };
  }
  if (load === require) loaded = result;
  return result;
}

/** Whether onnxruntime-node can be used; see {@link onnxRuntimeInfo} for the reason when not. */
export function onnxAvailable(load: ModuleLoader = require): boolean {
  return loadOnnxRuntime(load).info.available;
}

/** What onnxruntime-node offers here, or why it cannot be used. */
export function onnxRuntimeInfo(load: ModuleLoader = require): OnnxRuntimeInfo {
  return loadOnnxRuntime(load).info;
}

/** The number of threads one inference uses: all the cores this process may use. */
export function defaultThreadCount(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/**
 * The CUDA provider library, when it is here. Every linux-x64 build lists CUDA, but its
 * libraries are downloaded by the package's install script, which npm does not run here
 * (`npm run setup:cuda` runs it): asking for CUDA without them fails and logs an error.
 */
export function cudaProviderLibrary(): string | undefined {
  if (process.platform !== 'linux') return undefined;
  let root: string;
  try {
    root = path.dirname(require.resolve(`${PACKAGE}/package.json`));
  } catch {
    return undefined;
  }
  // bin/napi-v<N>/linux/x64, N the N-API version the package was built for (6 in 1.30).
  const bin = path.join(root, 'bin');
  const napi = fs.existsSync(bin)
    ? fs
        .readdirSync(bin)
        .filter((d) => /^napi-v\d+$/.test(d))
        .sort()
    : [];
  for (const dir of napi.reverse()) {
    const file = path.join(bin, dir, process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
    if (fs.existsSync(file)) return file;
  }
  return undefined;
}
