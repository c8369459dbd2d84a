/**
 * The one switch that makes TensorFlow.js behave like Keras where the lesson depends on it:
 * `installKerasCompat()` applies every patch in this folder, in order, once per process. tslab-dl's
 * public entry points call it (lib/index.ts, the folder barrels such as lib/train/index.ts), so
 * `fit` plans the same way whichever of them it was imported from.
 *
 * The patches reach into tfjs' classes (private methods, prototype accessors, kernel gradients) as
 * TensorFlow.js 4.22.0 defines them. Another version may have moved any of them, silently changing
 * what a frozen layer or a loss computes, so the installer refuses any other version, naming it.
 * docs/keras-compatibility.md lists every difference from Keras and the patch or module for it.
 */
import * as tf from '@tensorflow/tfjs';
import { registerFeatureCachePlanner } from '../features/planner';
import { registerWasmGradientKernels } from '../backends/wasm-gradient-kernels';
import { applyBatchNormalizationWithoutScaleOrCenter } from './batch-normalization-without-scale';
import { applyDepthwiseDilation } from './depthwise-dilation';
import { applyDilatedConvGradients } from './dilated-conv-gradients';
import { applyFrozenLayerSemantics } from './frozen-layers';
import { applyKerasCompileSemantics } from './keras-compile';
import { applyKerasLayerDefaults } from './keras-defaults';
import { applyKerasModelMethods } from './model-methods';
import { applyPoolingAndResizeGradients } from './pooling-and-resize-gradients';
import { applyKerasSummaryTotals } from './summary-totals';

/** The TensorFlow.js version the patches were written for and tested with. */
export const SUPPORTED_TFJS_VERSION = '4.22.0';

/** The tfjs packages whose internals the patches touch. */
const PATCHED_PACKAGES = ['tfjs-core', 'tfjs-layers', 'tfjs-backend-cpu'] as const;

/** `tf.version`'s shape: package name to version. */
export type TfjsVersions = Partial<Record<string, string>>;

/**
 * Throws when a patched tfjs package is not at {@link SUPPORTED_TFJS_VERSION}, naming it, its
 * version and how to get the supported one.
 */
export function checkTfjsVersion(versions: TfjsVersions = tf.version): void {
  const wrong = PATCHED_PACKAGES.filter((name) => versions[name] !== SUPPORTED_TFJS_VERSION);
  if (wrong.length === 0) return;
  const found = wrong.map((name) => `@tensorflow/${name} ${versions[name] ?? '(missing)'}`).join(', ');
  throw new Error(
    `tslab-dl's Keras compatibility patches (lib/compat) were written for TensorFlow.js ${SUPPORTED_TFJS_VERSION}, ` +
      `and this process loaded ${found}. They change tfjs' internals, which move between versions, so they are not applied ` +
      `to another version (its results could silently differ from Keras'). Install the supported one: ` +
      `\`npm install @tensorflow/tfjs@${SUPPORTED_TFJS_VERSION}\` (and the same version of any other @tensorflow package), then restart the kernel.`,
  );
}

/** Options of {@link installKerasCompat}. */
export interface InstallOptions {
  /** The versions to check; defaults to `tf.version` (tests pass others). */
  versions?: TfjsVersions;
}

const INSTALLED = Symbol.for('tslab-dl.kerasCompat');

/** Whether {@link installKerasCompat} has run in this process. */
export function kerasCompatInstalled(): boolean {
  return (globalThis as Record<symbol, unknown>)[INSTALLED] === true;
}

/**
 * Applies every patch once (each is idempotent on its own too): Keras' frozen layers and
 * BatchNormalization, compile, summary totals, layer defaults, gradients TensorFlow.js lacks or
 * gets wrong, model.fit / evaluate / predict through the feature-cache planner.
 */
export function installKerasCompat(options: InstallOptions = {}): void {
  if (kerasCompatInstalled() && options.versions === undefined) return;
  checkTfjsVersion(options.versions);
  applyFrozenLayerSemantics();
  applyBatchNormalizationWithoutScaleOrCenter();
  applyKerasCompileSemantics();
  applyKerasSummaryTotals();
  applyKerasLayerDefaults();
  applyDilatedConvGradients();
  applyPoolingAndResizeGradients();
  applyDepthwiseDilation();
  registerWasmGradientKernels();
  registerFeatureCachePlanner();
  applyKerasModelMethods();
  (globalThis as Record<symbol, unknown>)[INSTALLED] = true;
}
