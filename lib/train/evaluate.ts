/**
 * `evaluate(model, x, y)`: loss, accuracy and a confusion matrix, from one pass in inference mode.
 *
 * Keras' `model.evaluate` returns the loss and metrics; the lesson then asks "what do you think
 * of the results?", which a confusion matrix with class names answers better than one number.
 */
import * as tf from '@tensorflow/tfjs';
import { ready } from '../backends/selection';
import { confusionMatrix, ConfusionMatrix } from './confusion';
import { display, escapeXml, JUPYTER_DISPLAY, markShown, MimeBundle } from '../notebook/display';
import { ValueError } from '../core/errors';
import { takesSparseLabels } from './losses';
import { checkBatchSize, checkCompiled, checkModel, checkSamples, checkTensor } from './arguments';
import { checkClassLabelsAsync } from './label-checks';
import { ForwardOptions, planForward } from './forward';
import { predictBatches } from './predict';
import { Verbosity } from './training-display';

/** Options of {@link evaluate}. */
export interface EvaluateOptions extends ForwardOptions {
  /** Samples per batch. Defaults to 32. */
  batchSize?: number;
  /** A name per class for the confusion matrix. Defaults to DOLLAR_STREET_CLASSES for 10 classes, else "0", "1", ... */
  classNames?: readonly string[];
  /** 0: show nothing; otherwise progress while predicting and the results at the end. Defaults to 'auto'. */
  verbose?: Verbosity;
}

/**
 * What {@link evaluate} returns: the loss, the accuracy and the confusion matrix. Shown as HTML in
 * a notebook and as text in a terminal.
 */
export class EvaluationResult {
  constructor(
    /** The compiled loss, averaged over all samples. */
    readonly loss: number,
    /** Fraction of samples whose highest output is the true class. */
    readonly accuracy: number,
    /** Counts of true class (rows) against predicted class (columns). */
    readonly confusion: ConfusionMatrix,
  ) {}

  /** The loss, the accuracy and the confusion matrix as plain text. */
  text(): string {
    return `loss: ${this.loss.toFixed(4)} - accuracy: ${this.accuracy.toFixed(4)} (${this.confusion.correct} of ${this.confusion.total} correct)\n\n${this.confusion.text()}`;
  }

  [JUPYTER_DISPLAY](): MimeBundle {
    const summary =
      `<p style="font-family:monospace">loss: ${this.loss.toFixed(4)} &ndash; accuracy: <b>${(this.accuracy * 100).toFixed(1)}%</b> ` +
      `(${this.confusion.correct} of ${this.confusion.total} correct)</p>`;
    return {
      'text/plain': this.text(),
      'text/html': `<div>${summary}<p style="font-family:sans-serif;margin:0.3em 0">${escapeXml('Confusion matrix (rows: true class, columns: predicted class)')}</p>${this.confusion.html()}</div>`,
    };
  }
}

/** The compiled loss function, checked to take integer labels. */
function sparseLoss(model: tf.LayersModel, where: string): (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor {
  const compiled = (model as unknown as { lossFunctions?: ((yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor)[] }).lossFunctions?.[0];
  if (compiled && (takesSparseLabels(compiled) || model.loss === 'sparseCategoricalCrossentropy')) return compiled;
  throw new ValueError(
    `${where}: evaluate needs a model compiled with a loss for integer labels, e.g. ` +
      `loss: sparseCategoricalCrossentropy({ fromLogits: true }). This model's loss is ${JSON.stringify(String(model.loss))}.`,
  );
}

/**
 * Loss, accuracy and confusion matrix of `model` on images `x` with integer labels `y`,
 * computed in batches in inference mode; shown (HTML in a notebook, text in a terminal) and returned.
 * Keras' `model.evaluate` gives the loss and accuracy; the confusion matrix shows which classes are
 * confused with which.
 *
 * @param model - A tf.LayersModel compiled with a loss for integer labels, e.g.
 *   `sparseCategoricalCrossentropy({ fromLogits: true })`.
 * @param x - Inputs, e.g. images [n, height, width, 3].
 * @param y - Integer class indices [n] (or [n, 1]), each less than the model's number of outputs.
 * @param options - `batchSize` (default 32), `classNames` for the matrix (default
 *   {@link DOLLAR_STREET_CLASSES} for 10 classes) and `verbose` (0 shows nothing; default 'auto').
 * @returns A promise of the {@link EvaluationResult}: `loss`, `accuracy` (a fraction, 0..1) and
 *   `confusion` (a {@link ConfusionMatrix}).
 * @throws A {@link ValueError} when the model is not compiled, its loss does not take integer labels,
 *   a tensor is disposed or the sample counts differ, a label is out of range, or `batchSize` is
 *   not a positive integer.
 * @throws An {@link InterruptedError} when the user interrupts the kernel.
 *
 * @example
 * ```ts
 * import { evaluate, DOLLAR_STREET_CLASSES } from 'tslab-dl';
 *
 * const result = await evaluate(model, valImages, valLabels, { classNames: DOLLAR_STREET_CLASSES });
 * result.accuracy; // e.g. 0.64
 * ```
 */
export async function evaluate(
  model: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  options: EvaluateOptions = {},
): Promise<EvaluationResult> {
  await ready();
  const where = 'evaluate(model, x, y, options)';
  checkModel(model, where);
  checkCompiled(model, where);
  checkTensor(x, where, 'x');
  checkTensor(y, where, 'y');
  checkSamples(x, y, where, 'x', 'y');
  const { batchSize = 32, verbose = 'auto' } = options;
  checkBatchSize(batchSize, where);
  const lossFunction = sparseLoss(model, where);
  const classes = model.outputs[0].shape[model.outputs[0].shape.length - 1] as number;
  const labels = tf.tidy(() => tf.reshape(y, [-1, 1]).asType('int32'));
  try {
    await checkClassLabelsAsync(labels, classes, where);
    const plan = await planForward({ purpose: 'evaluate', model, x, options });
    let lossSum = 0;
    const predicted = new Int32Array(x.shape[0]);
    try {
      const outputs = await predictBatches(plan.model, plan.x, batchSize, 'Evaluate', verbose, async (output, start) => {
        const size = output.shape[0];
        const [batchLoss, argMax] = tf.tidy(() => [lossFunction(labels.slice(start, size), output).mean(), output.argMax(-1)]);
        // Keras averages the per-batch mean loss weighted by batch size: the mean over all samples.
        lossSum += (await batchLoss.data())[0] * size;
        predicted.set(await argMax.data(), start);
        tf.dispose([batchLoss, argMax]);
      });
      outputs.dispose();
    } finally {
      plan.dispose();
    }
    // The labels' values, read asynchronously: confusionMatrix reads a tensor synchronously (not on webgpu).
    const confusion = confusionMatrix(await labels.data(), predicted, { classes, classNames: options.classNames });
    const result = new EvaluationResult(lossSum / x.shape[0], confusion.accuracy, confusion);
    if (verbose !== 0) {
      display(result);
      // Already shown: a kernel showing the cell's value (Out[n]) skips it.
      markShown(result);
    }
    return result;
  } finally {
    labels.dispose();
  }
}
