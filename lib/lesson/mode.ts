/**
 * `await lessonMode()`: the first cell of the lesson notebook.
 *
 * It says in one short line where the lesson runs (TensorFlow.js backend, and the engine of the
 * frozen base), and turns on what lets the same notebook run anywhere without editing a cell:
 *
 * - `loadDollarStreet(DATA_FOLDER)` downloads the data from Zenodo when the folder is empty, and
 *   offline uses the synthetic twin (lib/lesson/data.ts);
 * - `weights: 'imagenet'` downloads Keras' file when it is not cached, and offline uses stand-in
 *   weights (lib/lesson/weights.ts); outside lesson mode that stays an error, as in Keras;
 * - the settings `npm run lesson` passes through the environment (epoch cap, synthetic sample
 *   count, data folder, weights: lib/settings/lesson-environment.ts) are applied, and announced here once.
 *
 * Every replacement is announced loudly where it happens.
 */
import { backendInfo, ready } from '../backends/selection';
import { inNotebook } from '../notebook/display';
import { onnxRuntimeInfo } from '../onnx';
import { chooseOnnxProvider, decidedOnnxProvider, providerLabel } from '../onnx/providers';
import { describeLessonEnvironment, setLessonMode } from '../settings/lesson-environment';
import { installLessonHooks } from './hooks';
import { adapterName } from '../backends/webgpu-adapter';

/** Options of {@link lessonMode}. */
export interface LessonModeOptions {
  /** Switch lesson mode off again (for tests and for leaving the lesson). Defaults to true. */
  on?: boolean;
}

/**
 * One short line: the backend, and where the frozen layers run; a faster backend that is
 * installed but failed is named, with where to read why (the rest: `backendInfo()`, `doctor()`).
 * A GPU is named: the webgpu backend's adapter (software ones say so), ONNX Runtime's GPU provider
 * once it has been decided ({@link decideWhereItRuns}).
 */
export function whereItRuns(): string {
  const info = backendInfo();
  const onnx = onnxRuntimeInfo();
  const provider = decidedOnnxProvider();
  const onGpu = provider && provider.provider !== 'cpu' ? ` on ${providerLabel(provider.provider, provider.statuses)}` : '';
  const frozen = onnx.available ? `${`ONNX Runtime ${onnx.version ?? ''}`.trim()}${onGpu}` : 'TensorFlow.js';
  const chosen = info.requestedBy === 'default' ? '' : ` (chosen by ${info.requestedBy})`;
  const failed = info.candidates.filter((c) => c.installed && c.usable === false).map((c) => c.name);
  const warning = failed.length ? ` ${failed.join(', ')} installed but not usable: \`await doctor()\` says why.` : '';
  const adapter = info.backend === 'webgpu' ? info.webgpu?.adapter : undefined;
  const device = adapter
    ? ` (${adapterName(adapter)}${adapter.software ? ': a software adapter, slower than wasm' : ', GPU'})`
    : info.usingGpu
      ? ' (GPU)'
      : '';
  return `TensorFlow.js ${info.tfjsVersion} on ${info.backend}${device}${chosen}; frozen layers on ${frozen}.${warning}`;
}

/**
 * Starts the backend and decides ONNX Runtime's provider (it probes the GPU once per process),
 * then returns {@link whereItRuns}' line.
 */
export async function decideWhereItRuns(): Promise<string> {
  await ready();
  if (onnxRuntimeInfo().available) await chooseOnnxProvider().catch(() => undefined);
  return whereItRuns();
}

/**
 * Turns lesson mode on and says where the lesson runs: the first cell of the lesson notebook.
 * In lesson mode {@link loadDollarStreet} downloads missing data from Zenodo (offline: the
 * synthetic twin), `weights: 'imagenet'` downloads Keras' file when it is not cached (offline:
 * stand-in weights), and the settings of `npm run lesson` (epoch cap, data folder, weights) are
 * applied; every replacement is announced loudly where it happens. Outside a notebook it prints
 * {@link whereItRuns}' line.
 *
 * @param options - `on: false` switches lesson mode off again. Defaults to `{ on: true }`.
 * @throws A {@link BackendError} when no TensorFlow.js backend can be started.
 *
 * @example
 * ```ts
 * import { tf, keras, lessonMode, loadDollarStreet } from 'tslab-dl';
 *
 * await lessonMode();
 * ```
 */
export async function lessonMode({ on = true }: LessonModeOptions = {}): Promise<void> {
  const line = await decideWhereItRuns();
  installLessonHooks();
  setLessonMode(on);
  if (!on) return;
  // In the kernel the first cell already starts with this line.
  if (!inNotebook()) console.log(line);
  const settings = describeLessonEnvironment();
  if (settings) console.log(settings);
}
