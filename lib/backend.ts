/**
 * Choosing the TensorFlow.js backend once, at start-up, and saying why.
 *
 * Order: tfjs-node-gpu (CUDA), tfjs-node (native CPU), wasm, cpu, unless
 * `TSLAB_DL_BACKEND` or {@link setBackend} says otherwise. Every skipped
 * candidate keeps the reason it was skipped, for `backendInfo()` and the doctor.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { ValueError } from './errors';

export type BackendName = 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'];

export interface BackendCandidate {
  name: BackendName;
  /** Whether this candidate was usable when it was tried (undefined: not tried). */
  usable?: boolean;
  /** Why it was skipped or failed, in words a learner can act on. */
  reason?: string;
}

export interface BackendInfo {
  /** The tslab-dl backend in use. */
  backend: BackendName;
  /** The name TensorFlow.js reports (`tf.getBackend()`): 'tensorflow', 'wasm' or 'cpu'. */
  tfBackend: string;
  /** Every candidate, in the order tried, with the reason for each one skipped. */
  candidates: BackendCandidate[];
  /** What asked for this backend: the default order, TSLAB_DL_BACKEND, or setBackend(). */
  requestedBy: 'default' | 'TSLAB_DL_BACKEND' | 'setBackend';
  tfjsVersion: string;
}

/** Resolves a module name; tests replace it to make candidates unavailable. */
export type ModuleResolver = (name: string) => string;

let info: BackendInfo | undefined;
let pending: Promise<BackendInfo> | undefined;

function wasmDistFolder(resolve: ModuleResolver): string {
  return path.join(path.dirname(resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
}

/** Tries one candidate; returns the reason it cannot be used, or undefined when it is now active. */
async function tryCandidate(name: BackendName, resolve: ModuleResolver): Promise<string | undefined> {
  switch (name) {
    case 'tfjs-node-gpu':
    case 'tfjs-node': {
      const module = `@tensorflow/${name}`;
      try {
        resolve(module);
      } catch {
        return `${module} is not installed (npm run setup:${name === 'tfjs-node-gpu' ? 'gpu' : 'native'} adds it)`;
      }
      try {
        require(module);
      } catch (e) {
        return `${module} is installed but failed to load: ${(e as Error).message.split('\n')[0]}`;
      }
      if (!(await tf.setBackend('tensorflow'))) return `${module} loaded but the 'tensorflow' backend did not initialise`;
      return undefined;
    }
    case 'wasm': {
      try {
        const wasm = require('@tensorflow/tfjs-backend-wasm');
        wasm.setWasmPaths(wasmDistFolder(resolve));
      } catch (e) {
        return `@tensorflow/tfjs-backend-wasm could not be loaded: ${(e as Error).message.split('\n')[0]}`;
      }
      return (await tf.setBackend('wasm')) ? undefined : 'the wasm backend failed to initialise';
    }
    case 'cpu':
      return (await tf.setBackend('cpu')) ? undefined : 'the cpu backend failed to initialise';
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

async function choose(
  order: readonly BackendName[],
  requestedBy: BackendInfo['requestedBy'],
  resolve: ModuleResolver,
): Promise<BackendInfo> {
  const candidates: BackendCandidate[] = [];
  for (const name of order) {
    const reason = await tryCandidate(name, resolve);
    candidates.push({ name, usable: reason === undefined, reason });
    if (reason === undefined) {
      silenceCpuBanner();
      for (const rest of BACKEND_ORDER) {
        if (!candidates.some((c) => c.name === rest)) candidates.push({ name: rest, reason: 'not tried: an earlier candidate was chosen' });
      }
      return { backend: name, tfBackend: tf.getBackend(), candidates, requestedBy, tfjsVersion: tf.version.tfjs };
    }
  }
  throw new Error(`No TensorFlow.js backend could be started:\n${candidates.map((c) => `  ${c.name}: ${c.reason}`).join('\n')}`);
}

/**
 * Chooses and initialises the backend once; later calls return the same choice.
 * Every async entry point of the library awaits this first.
 */
export function ready(resolve: ModuleResolver = require.resolve): Promise<BackendInfo> {
  if (info) return Promise.resolve(info);
  if (!pending) {
    const env = process.env.TSLAB_DL_BACKEND;
    pending = (env
      ? choose([parseRequested(env, 'TSLAB_DL_BACKEND')], 'TSLAB_DL_BACKEND', resolve)
      : choose(BACKEND_ORDER, 'default', resolve)
    ).then(
      (chosen) => (info = chosen),
      (e) => {
        pending = undefined;
        throw e;
      },
    );
  }
  return pending;
}

/** Switches to another backend now; throws with the reason if it cannot be used. */
export async function setBackend(name: BackendName, resolve: ModuleResolver = require.resolve): Promise<BackendInfo> {
  const wanted = parseRequested(name, 'setBackend(name)');
  info = await choose([wanted], 'setBackend', resolve);
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

/** Forgets the choice so the next ready() chooses again (tests only). */
export function resetBackendChoice(): void {
  info = undefined;
  pending = undefined;
}
