/**
 * tfjs' own `model.summary()`, readable in a notebook and with Keras' numbers.
 *
 * The lesson calls `model.summary()` on DenseNet121 plus its head: 434 layers. tfjs prints them
 * with console.log, one line at a time (in a notebook, about 900 stream messages), cuts long
 * layer names to fit fixed columns, and ends with 'Total params: 7093360', leaving the learner to
 * count digits against the lesson's 7,093,360. Called without arguments, the patched
 * `model.summary()` shows tslab-dl's summary instead (lib/train/summary.ts): Keras' layout, one
 * output, in a notebook an HTML table folded under the totals (the full text listing stays the
 * output's text/plain). Called with tfjs' arguments (lineLength, positions, printFn), it is tfjs'
 * table with only the three totals lines in Keras' format.
 */
import * as tf from '@tensorflow/tfjs';
import { kerasTotalsLine } from '../train/param-counts';
import { summary } from '../train/summary';
import { markOnce } from './markers';
import { layersModelPrototype } from './prototypes';

const PATCHED = Symbol.for('tslab-dl.kerasSummaryTotals');

type PrintFn = (message?: unknown, ...rest: unknown[]) => void;
type Summary = (lineLength?: number, positions?: number[], printFn?: PrintFn) => void;

/** Applies the patch once per process (idempotent; lib/compat/install.ts calls it). */
export function applyKerasSummaryTotals(): void {
  const proto = layersModelPrototype<{ summary: Summary }>();
  if (!markOnce(proto, PATCHED)) return;
  const original = proto.summary;
  proto.summary = function (this: tf.LayersModel, lineLength, positions, printFn) {
    if (lineLength === undefined && positions === undefined && printFn === undefined) {
      // tfjs' own checks first: a model not built yet says so, as before.
      if (!this.built) return original.call(this);
      summary(this);
      return;
    }
    original.call(this, lineLength, positions, (message?: unknown, ...rest: unknown[]) =>
      (printFn ?? console.log)(typeof message === 'string' ? kerasTotalsLine(message) : message, ...rest),
    );
  };
}
