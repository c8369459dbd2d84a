/**
 * A confusion matrix: which classes the model mistakes for which.
 *
 * Rows are the true classes and columns the predicted ones (scikit-learn's convention), so
 * row i, column j counts the images of class i that the model called class j. Shown as an
 * HTML table with class names in a notebook and as an aligned text table in a terminal.
 */
import * as tf from '@tensorflow/tfjs';
import { escapeXml, JUPYTER_DISPLAY, MimeBundle } from '../notebook/display';
import { DOLLAR_STREET_CLASSES } from '../data/dollarstreet';
import { ValueError } from '../core/errors';
import { valuesSync } from '../core/tensor-reads';

/** Options of {@link confusionMatrix}: the number of classes and their names. */
export interface ConfusionOptions {
  /** Number of classes. Defaults to the length of `classNames`, else 1 + the largest label or prediction. */
  classes?: number;
  /** A name per class, for the table. Defaults to DOLLAR_STREET_CLASSES for 10 classes, else "0", "1", ... */
  classNames?: readonly string[];
}

/** The class names used when none are given: {@link DOLLAR_STREET_CLASSES} for 10 classes, else "0", "1", ... */
export function defaultClassNames(classes: number): string[] {
  if (classes === DOLLAR_STREET_CLASSES.length) return [...DOLLAR_STREET_CLASSES];
  return Array.from({ length: classes }, (_, i) => String(i));
}

function values(data: tf.Tensor | ArrayLike<number>, name: string): ArrayLike<number> {
  if (data instanceof tf.Tensor) {
    if (data.rank > 2 || (data.rank === 2 && data.shape[1] !== 1)) {
      throw new ValueError(
        `confusionMatrix: ${name} must be one class index per sample (shape [n] or [n, 1]); received shape [${data.shape}].`,
      );
    }
    // Synchronous: on webgpu a tensor computed on the GPU is an error saying to pass `await t.data()`.
    return valuesSync(data, `confusionMatrix(${name})`) as ArrayLike<number>;
  }
  return data;
}

/**
 * Counts of true class (rows) against predicted class (columns), scikit-learn's convention: what
 * {@link confusionMatrix} returns and {@link EvaluationResult.confusion} holds. Shown as an HTML
 * table with class names and per-class recall in a notebook, as an aligned text table in a terminal.
 */
export class ConfusionMatrix {
  constructor(
    /** counts[i][j]: samples of true class i predicted as class j. */
    readonly counts: number[][],
    /** A name per class, for the tables. */
    readonly classNames: readonly string[],
  ) {}

  /** Number of classes (rows and columns). */
  get classes(): number {
    return this.counts.length;
  }

  /** Number of samples counted. */
  get total(): number {
    return this.counts.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0);
  }

  /** Number of samples predicted correctly (the diagonal). */
  get correct(): number {
    return this.counts.reduce((sum, row, i) => sum + row[i], 0);
  }

  /** Fraction of all samples on the diagonal. */
  get accuracy(): number {
    return this.total ? this.correct / this.total : NaN;
  }

  /** Per true class: the fraction of its samples predicted correctly (NaN for a class with no samples). */
  recall(): number[] {
    return this.counts.map((row, i) => {
      const n = row.reduce((a, b) => a + b, 0);
      return n ? row[i] / n : NaN;
    });
  }

  /** Aligned text table; columns are numbered, rows carry the class names. */
  text(): string {
    const rowLabels = this.classNames.map((name, i) => (name === String(i) ? name : `${i} ${name}`));
    const labelWidth = Math.max('true \\ predicted'.length, ...rowLabels.map((l) => l.length));
    const cellWidth = Math.max(3, ...this.counts.flat().map((c) => String(c).length), String(this.classes - 1).length) + 1;
    const recall = this.recall();
    const header = 'true \\ predicted'.padEnd(labelWidth) + this.counts.map((_, j) => String(j).padStart(cellWidth)).join('') + '  recall';
    const lines = this.counts.map(
      (row, i) =>
        rowLabels[i].padEnd(labelWidth) +
        row.map((c) => String(c).padStart(cellWidth)).join('') +
        `  ${Number.isNaN(recall[i]) ? '   -' : (recall[i] * 100).toFixed(0).padStart(3) + '%'}`,
    );
    return [header, ...lines].join('\n');
  }

  /** HTML table: diagonal in green, off-diagonal counts shaded by their share of the row. */
  html(): string {
    const recall = this.recall();
    const th = (content: string, extra = '') => `<th style="padding:2px 6px;${extra}">${content}</th>`;
    const header =
      th('true \\ predicted', 'text-align:left') +
      this.classNames
        .map((name, j) =>
          th(name === String(j) ? name : `${j}<br><span style="font-weight:normal;font-size:80%">${escapeXml(name)}</span>`),
        )
        .join('') +
      th('recall');
    const rows = this.counts.map((row, i) => {
      const n = row.reduce((a, b) => a + b, 0) || 1;
      const cells = row.map((c, j) => {
        const share = c / n;
        const colour =
          i === j
            ? `rgba(40,160,70,${(0.15 + 0.6 * share).toFixed(2)})`
            : c
              ? `rgba(220,60,40,${(0.1 + 0.7 * share).toFixed(2)})`
              : 'transparent';
        return `<td style="text-align:right;padding:2px 6px;background:${colour}">${c}</td>`;
      });
      const r = Number.isNaN(recall[i]) ? '-' : `${(recall[i] * 100).toFixed(0)}%`;
      const label = this.classNames[i] === String(i) ? String(i) : `${i} ${escapeXml(this.classNames[i])}`;
      return `<tr>${th(label, 'text-align:left')}${cells.join('')}<td style="text-align:right;padding:2px 6px">${r}</td></tr>`;
    });
    return `<table style="border-collapse:collapse;font-family:monospace"><thead><tr>${header}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
  }

  [JUPYTER_DISPLAY](): MimeBundle {
    return { 'text/plain': this.text(), 'text/html': this.html() };
  }
}

/**
 * Counts (true label, predicted label) pairs. `labels` and `predictions` are class indices
 * (tensors of shape [n] or [n, 1], or arrays), e.g. `predictions = logits.argMax(-1)`.
 * Tensors are read synchronously; on webgpu pass `await t.data()` for one computed on the GPU.
 *
 * @param labels - The true class index of each sample.
 * @param predictions - The predicted class index of each sample, as many as `labels`.
 * @param options - `classes` (default: the number of `classNames`, else 1 + the largest index) and
 *   `classNames` (default {@link DOLLAR_STREET_CLASSES} for 10 classes, else "0", "1", ...).
 * @returns The {@link ConfusionMatrix}: `counts[i][j]` samples of class i predicted as class j.
 * @throws A {@link ValueError} when a tensor is not [n] or [n, 1], the counts of labels and
 *   predictions differ, an index is outside 0..classes-1, or `classNames` has the wrong length.
 * @throws A {@link BackendError} when a tensor computed on the GPU cannot be read synchronously (webgpu).
 *
 * @example
 * ```ts
 * import { confusionMatrix, predict, DOLLAR_STREET_CLASSES } from 'tslab-dl';
 *
 * const logits = await predict(model, valImages);
 * const matrix = confusionMatrix(await valLabels.data(), await logits.argMax(-1).data(), {
 *   classNames: DOLLAR_STREET_CLASSES,
 * });
 * matrix.recall(); // per class: the fraction predicted correctly
 * ```
 */
export function confusionMatrix(
  labels: tf.Tensor | ArrayLike<number>,
  predictions: tf.Tensor | ArrayLike<number>,
  options: ConfusionOptions = {},
): ConfusionMatrix {
  const truth = values(labels, 'labels');
  const predicted = values(predictions, 'predictions');
  if (truth.length !== predicted.length) {
    throw new ValueError(`confusionMatrix: ${truth.length} labels but ${predicted.length} predictions; pass one prediction per label.`);
  }
  let largest = -1;
  for (let i = 0; i < truth.length; i++) largest = Math.max(largest, truth[i], predicted[i]);
  const classes = options.classes ?? options.classNames?.length ?? largest + 1;
  const classNames = options.classNames ?? defaultClassNames(classes);
  if (classNames.length !== classes) {
    throw new ValueError(`confusionMatrix: ${classNames.length} classNames for ${classes} classes; pass one name per class.`);
  }
  const counts = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    const p = predicted[i];
    for (const [name, v] of [
      ['label', t],
      ['prediction', p],
    ] as const) {
      if (!Number.isInteger(v) || v < 0 || v >= classes) {
        throw new ValueError(`confusionMatrix: ${name} ${i} is ${v}, outside the classes 0..${classes - 1}.`);
      }
    }
    counts[t][p] += 1;
  }
  return new ConfusionMatrix(counts, [...classNames]);
}
