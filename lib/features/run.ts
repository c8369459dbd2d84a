/**
 * Running a frozen prefix batch by batch on an inference engine: ONNX Runtime (much faster on
 * CPUs, lib/onnx; on a GPU through its CUDA or WebGPU provider, lib/onnx/providers.ts) when it is
 * installed, or TensorFlow.js itself.
 */
import * as tf from '@tensorflow/tfjs';
import { InterruptedError, ValueError } from '../core/errors';
import { onnxAvailable, onnxRuntimeInfo } from '../onnx';
import { chooseOnnxProvider, OnnxProvider } from '../onnx/providers';
import { leasePrefixSession } from './prefix-sessions';

/**
 * The engine for a frozen prefix: 'auto' (ONNX Runtime on its best provider when it loads, else
 * tfjs), 'onnx' (ONNX Runtime, best provider: CUDA, a hardware WebGPU adapter, else the CPU),
 * 'onnx-cuda' / 'onnx-webgpu' / 'onnx-cpu' (ONNX Runtime on that provider, or an error saying why
 * not), 'tfjs'.
 */
export type Executor = 'auto' | 'onnx' | 'onnx-cuda' | 'onnx-webgpu' | 'onnx-cpu' | 'tfjs';
/** The engine that computed something. */
export type ExecutorName = 'tfjs' | 'onnx';
/** An executor once 'auto' is decided. */
export type ChosenExecutor = Exclude<Executor, 'auto'>;

export interface PrefixRunner {
  /** What runs the prefix, in a few words: 'tfjs', 'ONNX Runtime, CPU', 'ONNX Runtime, WebGPU: NVIDIA H200 (hardware)'. */
  name: string;
  engine: ExecutorName;
  /** The ONNX Runtime provider that runs it; undefined on tfjs. */
  provider?: OnnxProvider;
  /** One line on how the prefix runs (layers that fell back to tfjs, a GPU provider that failed), or undefined. */
  note?: string;
  /** Runs one batch; the result is one new tensor per output of the prefix, owned by the caller. */
  runBatch(batch: tf.Tensor): Promise<tf.Tensor[]>;
  /**
   * Runs all of `x` in batches itself, calling `onBatch(images)` after each; the result is one new
   * tensor per output, owned by the caller. ONNX does this: slicing wasm tensors per batch costs
   * ~20% of its time.
   */
  runAll?(x: tf.Tensor, batchSize: number, onBatch: (images: number) => void): Promise<tf.Tensor[]>;
  /** Gives back what it holds: an ONNX session goes back to the session cache (lib/onnx/session-cache.ts), open for the next call. */
  dispose(): Promise<void>;
}

export const EXECUTORS: readonly Executor[] = ['auto', 'onnx', 'onnx-cuda', 'onnx-webgpu', 'onnx-cpu', 'tfjs'];
const LIST = `'auto', 'onnx', 'onnx-cuda', 'onnx-webgpu', 'onnx-cpu' or 'tfjs'`;
const FORCED: Partial<Record<ChosenExecutor, OnnxProvider>> = { 'onnx-cuda': 'cuda', 'onnx-webgpu': 'webgpu', 'onnx-cpu': 'cpu' };

/** $TSLAB_DL_EXECUTOR, the executor when the caller names none (or 'auto'); undefined when unset. */
export function executorFromEnvironment(): Executor | undefined {
  const value = process.env.TSLAB_DL_EXECUTOR;
  if (value === undefined || value === '') return undefined;
  if (!EXECUTORS.includes(value as Executor)) {
    throw new ValueError(
      `TSLAB_DL_EXECUTOR must be ${LIST}. Received ${JSON.stringify(value)}: fix or unset it in the shell that starts Jupyter or node.`,
    );
  }
  return value as Executor;
}

/**
 * The executor `executor` stands for here (no executor, or 'auto': $TSLAB_DL_EXECUTOR when set),
 * decided without probing devices: 'auto' is ONNX Runtime when it loads, else tfjs with a note.
 */
export function chooseExecutor(executor?: Executor): { name: ChosenExecutor; engine: ExecutorName; note?: string } {
  if (executor !== undefined && !EXECUTORS.includes(executor)) {
    throw new ValueError(`executor must be ${LIST}. Received ${JSON.stringify(executor)}.`);
  }
  const wanted = executor === undefined || executor === 'auto' ? (executorFromEnvironment() ?? 'auto') : executor;
  if (wanted === 'tfjs') return { name: 'tfjs', engine: 'tfjs' };
  if (onnxAvailable()) return { name: wanted === 'auto' ? 'onnx' : wanted, engine: 'onnx' };
  const reason = onnxRuntimeInfo().reason;
  if (wanted !== 'auto') throw new ValueError(`executor '${wanted}' cannot be used: ${reason}. Use executor: 'tfjs' or 'auto'.`);
  return { name: 'tfjs', engine: 'tfjs', note: `Running the frozen layers on tfjs: ${reason}.` };
}

/** An executor with its provider decided: what the feature cache keys on. */
export interface Route {
  name: ChosenExecutor;
  engine: ExecutorName;
  /** The ONNX Runtime provider it will ask for first; undefined on tfjs. */
  provider?: OnnxProvider;
  note?: string;
}

/**
 * Decides the provider too (probing the WebGPU adapter and the CUDA library once per process):
 * a forced provider that is not available here throws, naming it and what to do.
 */
export async function resolveRoute(executor?: Executor): Promise<Route> {
  const chosen = chooseExecutor(executor);
  if (chosen.engine === 'tfjs') return chosen;
  const forced = FORCED[chosen.name];
  const choice = await chooseOnnxProvider(forced ?? 'best', undefined, `executor '${chosen.name}'`);
  return { ...chosen, provider: choice.provider };
}

/** The tag of an engine and provider in cache keys: 'tfjs', 'onnx-cpu', 'onnx-webgpu', 'onnx-cuda'. */
export function routeTag(engine: ExecutorName, provider?: OnnxProvider): string {
  return engine === 'tfjs' ? 'tfjs' : `onnx-${provider ?? 'cpu'}`;
}

/**
 * Prepares `prefix` to run on `route` (an executor, resolved here, or a resolved route). For ONNX:
 * the session kept for this prefix and provider since an earlier call (lib/features/prefix-sessions.ts),
 * else a new one, translated and opened now and kept for the next call; 'onnx' may fall back from a
 * GPU provider to the next one (the runner's note says why, when the session is opened), a forced
 * provider throws instead. `dispose()` gives the session back to the cache.
 */
export async function createPrefixRunner(prefix: tf.LayersModel, route: ChosenExecutor | Route): Promise<PrefixRunner> {
  const resolved = typeof route === 'string' ? await resolveRoute(route) : route;
  if (resolved.engine === 'tfjs') {
    return {
      name: 'tfjs',
      engine: 'tfjs',
      runBatch: async (batch) => {
        const out = prefix.predictOnBatch(batch);
        return Array.isArray(out) ? out : [out];
      },
      dispose: async () => {},
    };
  }
  const forced = FORCED[resolved.name];
  const lease = await leasePrefixSession(prefix, forced ?? 'best');
  const onnx = lease.session;
  // The fallback is told once, when it happened; which layers run on tfjs, at every call.
  const fellBack = onnx.fellBack && !lease.reused;
  const notes = [onnx.untranslated.length > 0 ? onnx.note : undefined, fellBack ? onnx.providerNote : undefined].filter(Boolean);
  // A run that failed inside onnxruntime (a lost GPU device, say) may have left the session unusable:
  // it is not kept. An interrupt or a wrong argument leaves it as it was.
  let broken = false;
  const watch = <T>(run: Promise<T>): Promise<T> =>
    run.catch((e: unknown) => {
      broken ||= !(e instanceof InterruptedError || e instanceof ValueError);
      throw e;
    });
  return {
    name: `ONNX Runtime, ${onnx.providerLabel}`,
    engine: 'onnx',
    provider: onnx.provider,
    note: notes.length > 0 ? notes.join(' ') : undefined,
    runBatch: (batch) => watch(onnx.runAll(batch, { batchSize: batch.shape[0] })),
    runAll: (x, batchSize, onBatch) => {
      let done = 0;
      return watch(
        onnx.runAll(x, {
          batchSize,
          onBatchEnd: async (now) => {
            onBatch(now - done);
            done = now;
            // Let the event loop breathe: display updates and interrupt requests get through.
            await new Promise((resolve) => setImmediate(resolve));
          },
        }),
      );
    },
    dispose: () => lease.release({ broken }),
  };
}

/** Runs the prefix over `x` in batches, reporting the images done after each batch; one tensor per output. */
export async function runPrefix(
  runner: PrefixRunner,
  x: tf.Tensor,
  batchSize: number,
  onBatch: (images: number) => void,
): Promise<tf.Tensor[]> {
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new ValueError(`batchSize must be a positive integer. Received ${batchSize}.`);
  }
  if (runner.runAll) return runner.runAll(x, batchSize, onBatch);
  const n = x.shape[0];
  const parts: tf.Tensor[][] = [];
  try {
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      const batch = x.slice(start, size);
      try {
        parts.push(await runner.runBatch(batch));
      } finally {
        batch.dispose();
      }
      onBatch(size);
      // Let the event loop breathe: display updates and interrupt requests get through.
      await new Promise((resolve) => setImmediate(resolve));
    }
  } catch (e) {
    parts.flat().forEach((p) => p.dispose());
    throw e;
  }
  if (parts.length === 1) return parts[0];
  const all = parts[0].map((_, output) =>
    tf.concat(
      parts.map((batch) => batch[output]),
      0,
    ),
  );
  parts.flat().forEach((p) => p.dispose());
  return all;
}
