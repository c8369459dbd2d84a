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

export interface OnnxRuntimeInfo {
  available: boolean;
  /** Why it is not available, in words a learner can act on. */
  reason?: string;
  /** onnxruntime-node's version. */
  version?: string;
  /** Execution providers this build lists (some, like 'cuda', may lack their libraries). */
  listedProviders: string[];
  /** The providers a session will ask for, in order of preference. */
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
    const providers = cudaUsable(listed) ? ['cuda', 'cpu'] : ['cpu'];
    result = { ort, info: { available: true, version: ort.env?.versions?.common, listedProviders, providers } };
  } catch (e) {
    const message = (e as Error).message.split('\n')[0];
    const reason = (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && message.includes(`'${PACKAGE}'`)
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
 * CUDA is listed by every linux-x64 build, but its provider libraries are
 * downloaded by the package's install script (not run here): use it only when
 * they are present, or asking for it fails and logs an error.
 */
function cudaUsable(listed: { name: string; bundled: boolean }[]): boolean {
  const cuda = listed.find((b) => b.name === 'cuda');
  if (!cuda) return false;
  if (cuda.bundled) return true;
  try {
    const binding = path.join(path.dirname(require.resolve(`${PACKAGE}/package.json`)), 'bin', 'napi-v6', process.platform, process.arch);
    return fs.existsSync(path.join(binding, 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}
