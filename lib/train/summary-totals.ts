/**
 * tfjs' own `model.summary()` with Keras' totals, applied once when tslab-dl loads.
 *
 * The lesson's `model.summary()` ends with
 *
 *     Total params: 7,093,360 (27.06 MB)
 *     Trainable params: 53,808 (210.19 KB)
 *     Non-trainable params: 7,039,552 (26.85 MB)
 *
 * tfjs prints 'Total params: 7093360': a learner comparing with the lesson has to count digits.
 * The patch rewrites only those three lines; the layer table is tfjs' own.
 */
import * as tf from '@tensorflow/tfjs';
import { kerasTotalsLine } from './param-counts';

const PATCHED = Symbol.for('tslab-dl.kerasSummaryTotals');

type Summary = (lineLength?: number, positions?: number[], printFn?: (message?: unknown, ...rest: unknown[]) => void) => void;

const proto = tf.LayersModel.prototype as unknown as Record<symbol, boolean> & { summary: Summary };
if (!proto[PATCHED]) {
  const original = proto.summary;
  proto.summary = function (this: tf.LayersModel, lineLength, positions, printFn = console.log) {
    original.call(this, lineLength, positions, (message?: unknown, ...rest: unknown[]) =>
      printFn(typeof message === 'string' ? kerasTotalsLine(message) : message, ...rest),
    );
  };
  proto[PATCHED] = true;
}
