/**
 * Keras' meaning of `model.compile(...)`, applied to TensorFlow.js once, when tslab-dl loads.
 *
 * The lesson compiles with
 *
 *     model.compile({ optimizer: 'adam', loss: sparseCategoricalCrossentropy({ fromLogits: true }),
 *                     metrics: ['accuracy'] });
 *
 * and then monitors `val_accuracy`. Plain tfjs 4.22 gets three things wrong with that call
 * (REFERENCE.md s.3): it resolves 'accuracy' from the loss function (a custom loss gets
 * categorical accuracy, wrong for integer labels), it logs it as `acc`/`val_acc`, and it rejects
 * integer labels of shape [n] for a custom loss (it expects them shaped like the output, [n, 10]).
 * Two prototype patches fix that for every model, whether trained with our `fit()` or tfjs'
 * own `model.fit()`:
 * - `compile` puts Keras' accuracy behind the strings 'accuracy' and 'acc' (lib/metrics.ts),
 *   named as the user wrote it, so logs say `accuracy` / `val_accuracy`, and hands tfjs the
 *   per-sample form of tslab-dl's losses: tfjs multiplies a loss by the samples' class weights
 *   before taking the mean, which weights nothing when the loss is already a mean;
 * - `standardizeUserDataXY` (the input check of fit/evaluate) lets a loss marked as taking
 *   integer labels (lib/losses.ts) receive [n] or [n, 1] labels, as tfjs already does for its
 *   own 'sparseCategoricalCrossentropy', and rejects labels outside [0, classes) with a clear
 *   error where Keras raises too (tfjs would silently one-hot them to zeros).
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../errors';
import { takesSparseLabels } from '../losses';
import { kerasAccuracy } from '../metrics';
import { canReadSync, valuesSyncIfReadable } from '../tensor-reads';

const PATCHED = Symbol.for('tslab-dl.kerasCompile');

type Metric = string | ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor);
type MetricsArg = Metric | Metric[] | { [outputName: string]: Metric | Metric[] } | undefined;

/** Replaces 'accuracy' / 'acc' by Keras' shape-dispatched accuracy with the same name. */
export function kerasMetrics(metrics: MetricsArg): MetricsArg {
  const one = (metric: Metric): Metric =>
    metric === 'accuracy' || metric === 'acc' ? kerasAccuracy(metric) : metric;
  if (metrics == null) return metrics;
  if (Array.isArray(metrics)) return metrics.map(one);
  if (typeof metrics === 'string' || typeof metrics === 'function') return one(metrics);
  const perOutput: { [outputName: string]: Metric | Metric[] } = {};
  for (const [name, value] of Object.entries(metrics)) perOutput[name] = Array.isArray(value) ? value.map(one) : one(value);
  return perOutput;
}

/**
 * Throws a ValueError naming the first label that is not an integer in [0, classes). Reads the
 * labels synchronously (tfjs' fit and evaluate check their inputs synchronously): on webgpu, labels
 * computed on the GPU cannot be read so, and are not checked here (lib/tensor-reads.ts); async
 * callers use {@link checkClassLabelsAsync}, which checks them on every backend.
 */
export function checkClassLabels(labels: tf.Tensor, classes: number, where: string): void {
  const values = valuesSyncIfReadable(labels);
  if (values !== undefined) checkLabelValues(values as tf.TypedArray, classes, where);
}

/** {@link checkClassLabels}, reading the labels asynchronously: checks them on every backend. */
export async function checkClassLabelsAsync(labels: tf.Tensor, classes: number, where: string): Promise<void> {
  checkLabelValues((await labels.data()) as tf.TypedArray, classes, where);
}

/**
 * On a backend that cannot read every tensor synchronously (webgpu), checks the labels of a model
 * compiled with a loss for integer labels before training, as `standardizeUserDataXY` below does
 * on the others, so that out-of-range labels are an error there too rather than silent zeros.
 */
export async function checkSparseLabelsBeforeFit(model: tf.LayersModel, labels: tf.Tensor[], where: string): Promise<void> {
  if (canReadSync()) return;
  const compiled = model as unknown as CompilableModel;
  const shape = compiled.feedOutputShapes?.[0];
  if (!shape || !takesSparseLabels(compiled.feedLossFns?.[0])) return;
  for (const y of labels) await checkClassLabelsAsync(y, shape[shape.length - 1], where);
}

function checkLabelValues(values: ArrayLike<number>, classes: number, where: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(Number.isInteger(v) && v >= 0 && v < classes)) {
      throw new ValueError(
        `${where}: labels must be integer class indices in [0, ${classes}) for a model with ${classes} outputs. ` +
          `Label ${i} is ${v}. Check that the labels match the images and that the last Dense layer has one unit per class.`,
      );
    }
  }
}

interface CompilableModel {
  feedLossFns?: unknown[];
  feedOutputShapes?: number[][];
  compile(args: tf.ModelCompileArgs): void;
  standardizeUserDataXY(x: unknown, y: unknown, checkBatchAxis?: boolean, batchSize?: number): [tf.Tensor[], tf.Tensor[]];
}

function patchCompile(proto: CompilableModel): void {
  const originalCompile = proto.compile;
  proto.compile = function (this: CompilableModel, args: tf.ModelCompileArgs) {
    const loss = takesSparseLabels(args.loss) ? args.loss.perSample : args.loss;
    return originalCompile.call(this, { ...args, loss, metrics: kerasMetrics(args.metrics as MetricsArg) as tf.ModelCompileArgs['metrics'] });
  };
}

function tensorsIn(data: unknown): tf.Tensor[] {
  if (data instanceof tf.Tensor) return [data];
  if (Array.isArray(data)) return data.filter((t): t is tf.Tensor => t instanceof tf.Tensor);
  if (data && typeof data === 'object') return Object.values(data).filter((t): t is tf.Tensor => t instanceof tf.Tensor);
  return [];
}

function patchStandardizeUserData(proto: CompilableModel): void {
  const original = proto.standardizeUserDataXY;
  proto.standardizeUserDataXY = function (this: CompilableModel, x, y, checkBatchAxis, batchSize) {
    const sparse = (this.feedLossFns ?? []).map(takesSparseLabels);
    const shapes = this.feedOutputShapes;
    if (!shapes || !sparse.some(Boolean)) return original.call(this, x, y, checkBatchAxis, batchSize);
    // Integer labels: one value per sample, i.e. the output shape with a last axis of 1.
    this.feedOutputShapes = shapes.map((shape, i) => (sparse[i] ? [...shape.slice(0, -1), 1] : shape));
    let result: [tf.Tensor[], tf.Tensor[]];
    try {
      result = original.call(this, x, y, checkBatchAxis, batchSize);
    } finally {
      this.feedOutputShapes = shapes;
    }
    try {
      result[1].forEach((labels, i) => {
        if (sparse[i] && labels) checkClassLabels(labels, shapes[i][shapes[i].length - 1], 'model.fit/evaluate');
      });
    } catch (e) {
      // Free the reshaped copies made above; the caller's own tensors stay.
      const given = new Set([...tensorsIn(x), ...tensorsIn(y)]);
      for (const t of [...result[0], ...result[1]]) if (t && !given.has(t)) t.dispose();
      throw e;
    }
    return result;
  };
}

/** Applies both patches once per process (idempotent; importing tslab-dl calls it). */
export function applyKerasCompileSemantics(): void {
  const proto = tf.LayersModel.prototype as unknown as CompilableModel & Record<symbol, unknown>;
  if (proto[PATCHED]) return;
  if (typeof proto.compile !== 'function' || typeof proto.standardizeUserDataXY !== 'function') {
    throw new Error('tslab-dl: tf.LayersModel has no compile/standardizeUserDataXY method; the compile patch needs updating for this tfjs version.');
  }
  patchCompile(proto);
  patchStandardizeUserData(proto);
  proto[PATCHED] = true;
}

applyKerasCompileSemantics();
