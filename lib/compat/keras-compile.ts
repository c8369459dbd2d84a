/**
 * Keras' meaning of `model.compile(...)`, on TensorFlow.js.
 *
 * The lesson compiles with
 *
 *     model.compile({ optimizer: 'adam', loss: sparseCategoricalCrossentropy({ fromLogits: true }),
 *                     metrics: ['accuracy'] });
 *
 * and then monitors `val_accuracy`. Plain tfjs 4.22 gets three things wrong with that call
 * (docs/keras-compatibility.md): it resolves 'accuracy' from the loss function (a custom loss gets
 * categorical accuracy, wrong for integer labels), it logs it as `acc`/`val_acc`, and it rejects
 * integer labels of shape [n] for a custom loss (it expects them shaped like the output, [n, 10]).
 * Two prototype patches fix that for every model, whether trained with our `fit()` or tfjs'
 * own `model.fit()`:
 * - `compile` puts Keras' accuracy behind the strings 'accuracy' and 'acc' (lib/train/metrics.ts),
 *   named as the user wrote it, so logs say `accuracy` / `val_accuracy`, and hands tfjs the
 *   per-sample form of tslab-dl's losses: tfjs multiplies a loss by the samples' class weights
 *   before taking the mean, which weights nothing when the loss is already a mean;
 * - `standardizeUserDataXY` (the input check of fit/evaluate) lets a loss marked as taking
 *   integer labels (lib/train/losses.ts) receive [n] or [n, 1] labels, as tfjs already does for its
 *   own 'sparseCategoricalCrossentropy', and rejects labels outside [0, classes) with a clear
 *   error where Keras raises too (tfjs would silently one-hot them to zeros).
 */
import * as tf from '@tensorflow/tfjs';
import { takesSparseLabels } from '../train/losses';
import { kerasAccuracy } from '../train/metrics';
import { checkClassLabels, CompilableModel } from '../train/label-checks';
import { markOnce } from './markers';
import { layersModelPrototype } from './prototypes';

const PATCHED = Symbol.for('tslab-dl.kerasCompile');

type Metric = string | ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor);
type MetricsArg = Metric | Metric[] | { [outputName: string]: Metric | Metric[] } | undefined;

/** Replaces 'accuracy' / 'acc' by Keras' shape-dispatched accuracy with the same name. */
export function kerasMetrics(metrics: MetricsArg): MetricsArg {
  const one = (metric: Metric): Metric => (metric === 'accuracy' || metric === 'acc' ? kerasAccuracy(metric) : metric);
  if (metrics == null) return metrics;
  if (Array.isArray(metrics)) return metrics.map(one);
  if (typeof metrics === 'string' || typeof metrics === 'function') return one(metrics);
  const perOutput: { [outputName: string]: Metric | Metric[] } = {};
  for (const [name, value] of Object.entries(metrics)) perOutput[name] = Array.isArray(value) ? value.map(one) : one(value);
  return perOutput;
}

function patchCompile(proto: CompilableModel): void {
  const originalCompile = proto.compile;
  proto.compile = function (this: CompilableModel, args: tf.ModelCompileArgs) {
    const loss = takesSparseLabels(args.loss) ? args.loss.perSample : args.loss;
    return originalCompile.call(this, {
      ...args,
      loss,
      metrics: kerasMetrics(args.metrics as MetricsArg) as tf.ModelCompileArgs['metrics'],
    });
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

/** Applies both patches once per process (idempotent; lib/compat/install.ts calls it). */
export function applyKerasCompileSemantics(): void {
  const proto = layersModelPrototype<CompilableModel>();
  if (typeof proto.compile !== 'function' || typeof proto.standardizeUserDataXY !== 'function') {
    throw new Error(
      'tslab-dl: tf.LayersModel has no compile/standardizeUserDataXY method; the compile patch needs updating for this TensorFlow.js version.',
    );
  }
  if (!markOnce(proto, PATCHED)) return;
  patchCompile(proto);
  patchStandardizeUserData(proto);
}
