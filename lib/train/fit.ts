/**
 * `fit(model, x, y, options)`: Keras' `model.fit` for the lesson, on TensorFlow.js.
 *
 * It runs tfjs' own `model.fit` (so any tfjs callback works) on the plan chosen by
 * lib/train/forward.ts, with Keras' names in the logs (lib/train/compile.ts), a progress
 * display suited to where it runs, a seed, and the kernel's interrupt button honoured between
 * batches.
 */
import * as tf from '@tensorflow/tfjs';
import { ready } from '../backend';
import { EarlyStopping, resolveLogs } from '../callbacks';
import { interruptRequested } from '../display';
import { InterruptedError, ValueError } from '../errors';
import { setRandomSeed } from '../random';
import { checkBatchSize, checkCompiled, checkModel, checkSamples, checkTensor, describe, yieldToEventLoop } from './arguments';
import './compile';
import { ForwardOptions, planForward } from './forward';
import { displayMode, TrainingDisplay, Verbosity } from './training_display';

export type FitCallback = tf.Callback | tf.CustomCallbackArgs;

export interface FitOptions extends ForwardOptions {
  /** Samples per gradient step. Defaults to 32. */
  batchSize?: number;
  /** Passes over the training data (fewer if a callback stops training). Defaults to 1. */
  epochs?: number;
  /** Callbacks such as earlyStopping(...), or tfjs callback objects. Defaults to none. */
  callbacks?: FitCallback[];
  /** [images, labels] to evaluate after each epoch, logged as val_loss, val_accuracy. Defaults to none. */
  validationData?: [tf.Tensor, tf.Tensor];
  /** Shuffle the training samples before each epoch. Defaults to true. */
  shuffle?: boolean;
  /** 0 silent, 1 progress display, 2 one line per epoch; 'auto' by where it runs. Defaults to 'auto'. */
  verbose?: Verbosity;
  /** Calls setRandomSeed(seed) first, for a repeatable run. Defaults to leaving the generator as it is. */
  seed?: number;
}

const WHERE = 'fit(model, x, y, options)';

/** The tfjs callbacks, in order; tfjs only accepts an array whose first entry is a Callback. */
function asCallbacks(callbacks: FitCallback[]): tf.Callback[] {
  if (!Array.isArray(callbacks)) {
    throw new ValueError(`${WHERE}: options.callbacks must be an array, e.g. [earlyStopping({ monitor: 'val_accuracy', patience: 5 })]. Received ${describe(callbacks)}.`);
  }
  return callbacks.map((c, i) => {
    if (c instanceof tf.Callback || (c as { setModel?: unknown }).setModel instanceof Function) return c as tf.Callback;
    if (c && typeof c === 'object') return new tf.CustomCallback(c as tf.CustomCallbackArgs) as unknown as tf.Callback;
    throw new ValueError(`${WHERE}: options.callbacks[${i}] is ${describe(c)}; pass a callback such as earlyStopping({ patience: 5 }).`);
  });
}

/**
 * Puts the keys of epoch logs in Keras' order (loss, accuracy, val_loss, val_accuracy), in place:
 * tfjs adds the validation values first, and History keeps the order it sees.
 */
function inKerasOrder(logs: { [key: string]: number }, order: string[]): void {
  const entries = Object.entries(logs);
  const rank = (key: string) => (order.includes(key) ? order.indexOf(key) : order.length);
  for (const [key] of entries) delete logs[key];
  for (const [key, value] of entries.sort((a, b) => rank(a[0]) - rank(b[0]))) logs[key] = value;
}

/**
 * Drives the display, watches for interrupts and forwards every event to the user's callbacks.
 * After an interrupt the cut-short epoch is not reported to them as an epoch (no early-stopping
 * decision, no history entry on a partial epoch), but onTrainEnd still runs so they can clean up.
 */
class FitDriver extends tf.Callback {
  interrupted = false;
  epochsRun = 0;
  private epochStarted = 0;
  private lastYield = 0;
  private seen = 0;
  private totals: { [key: string]: number } = {};
  private batchesPerEpoch = 0;
  private epoch = 0;

  constructor(
    private readonly display: TrainingDisplay,
    private readonly callbacks: tf.Callback[],
  ) {
    super();
  }

  override setParams(params: tf.CustomCallbackArgs & { [key: string]: unknown }): void {
    super.setParams(params as never);
    const samples = Number(params.samples);
    this.batchesPerEpoch = Math.ceil(samples / Number(params.batchSize));
    for (const c of this.callbacks) c.setParams(params as never);
  }

  override setModel(model: tf.LayersModel): void {
    super.setModel(model);
    for (const c of this.callbacks) c.setModel(model);
  }

  override async onTrainBegin(logs?: tf.Logs): Promise<void> {
    for (const c of this.callbacks) await c.onTrainBegin(logs);
  }

  override async onEpochBegin(epoch: number, logs?: tf.Logs): Promise<void> {
    this.epoch = epoch;
    this.epochStarted = Date.now();
    this.seen = 0;
    this.totals = {};
    for (const c of this.callbacks) await c.onEpochBegin(epoch, logs);
  }

  override async onBatchBegin(batch: number, logs?: tf.Logs): Promise<void> {
    for (const c of this.callbacks) await c.onBatchBegin(batch, logs);
  }

  override async onBatchEnd(batch: number, logs?: tf.Logs): Promise<void> {
    const size = Number(logs?.size ?? 0);
    this.seen += size;
    // Running means over the epoch so far, weighted by batch size, as Keras' progress bar shows.
    const running: { [key: string]: number } = {};
    for (const key of (this.params.metrics as string[]) ?? []) {
      const value = (logs as { [key: string]: number | tf.Tensor } | undefined)?.[key];
      if (value === undefined || key.startsWith('val_')) continue;
      const number = typeof value === 'number' ? value : (await (value as tf.Tensor).data())[0];
      this.totals[key] = (this.totals[key] ?? 0) + number * size;
      running[key] = this.totals[key] / Math.max(this.seen, 1);
    }
    this.display.batch(this.epoch, batch + 1, this.batchesPerEpoch, running, Date.now() - this.epochStarted);
    for (const c of this.callbacks) await c.onBatchEnd(batch, logs);
    if (interruptRequested()) {
      this.interrupted = true;
      this.model.stopTraining = true;
    }
    // Let kernel messages (an interrupt request) in now and then.
    if (Date.now() - this.lastYield > 100) {
      await yieldToEventLoop();
      this.lastYield = Date.now();
    }
  }

  override async onEpochEnd(epoch: number, logs?: tf.Logs): Promise<void> {
    if (this.interrupted) return;
    const resolved = await resolveLogs(logs as { [key: string]: number | tf.Tensor });
    inKerasOrder(resolved, (this.params.metrics as string[]) ?? []);
    this.epochsRun = epoch + 1;
    this.display.epochEnd(epoch, resolved, Date.now() - this.epochStarted);
    for (const c of this.callbacks) await c.onEpochEnd(epoch, logs);
  }

  override async onTrainEnd(logs?: tf.Logs): Promise<void> {
    for (const c of this.callbacks) await c.onTrainEnd(logs);
  }
}

function checkFitArguments(model: unknown, x: unknown, y: unknown, options: FitOptions): asserts model is tf.LayersModel {
  checkModel(model, WHERE);
  checkCompiled(model, WHERE);
  checkTensor(x, WHERE, 'x');
  checkTensor(y, WHERE, 'y');
  checkSamples(x, y, WHERE, 'x', 'y');
  const { batchSize = 32, epochs = 1, validationData, seed } = options;
  checkBatchSize(batchSize, WHERE);
  if (!Number.isInteger(epochs) || epochs < 1) {
    throw new ValueError(`${WHERE}: options.epochs must be a positive integer, e.g. 30. Received ${JSON.stringify(epochs)}.`);
  }
  if (validationData !== undefined) {
    if (!Array.isArray(validationData) || validationData.length !== 2) {
      throw new ValueError(`${WHERE}: options.validationData must be [images, labels]. Received ${describe(validationData)}.`);
    }
    checkTensor(validationData[0], WHERE, 'validationData[0] (images)');
    checkTensor(validationData[1], WHERE, 'validationData[1] (labels)');
    checkSamples(validationData[0], validationData[1], WHERE, 'validationData[0]', 'validationData[1]');
  }
  if (seed !== undefined) setRandomSeed(seed);
}

function finalStatus(driver: FitDriver, epochs: number, callbacks: tf.Callback[]): string {
  if (driver.interrupted) return `Interrupted during epoch ${driver.epochsRun + 1}/${epochs}`;
  const ran = `Trained ${driver.epochsRun} epoch${driver.epochsRun === 1 ? '' : 's'}`;
  const stopper = callbacks.find((c): c is EarlyStopping => c instanceof EarlyStopping && c.stoppedEpoch > 0);
  if (!stopper && driver.epochsRun >= epochs) return ran;
  const why = stopper
    ? `early stopping: ${stopper.monitor} last improved at epoch ${stopper.bestEpoch + 1} (${stopper.best.toFixed(4)})` +
      (stopper.restoreBestWeights ? ', weights of that epoch restored' : '')
    : 'a callback stopped training';
  return `${ran} of ${epochs}; ${why}`;
}

/**
 * Trains `model` on images `x` and integer labels `y`, like Keras' `model.fit`:
 *
 *     const history = await fit(model, trainX, trainLabels, {
 *       batchSize: 32, epochs: 30, validationData: [valX, valLabels],
 *       callbacks: [earlyStopping({ monitor: 'val_accuracy', patience: 5 })],
 *     });
 *     history.history.val_accuracy  // one value per epoch run
 *
 * The model must be compiled. Returns tfjs' History: `history.history.loss`, `.accuracy`,
 * `.val_loss`, `.val_accuracy` and `history.epoch`. Throws InterruptedError when the user
 * interrupts the kernel; the model keeps the weights it had then.
 */
export async function fit(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, options: FitOptions = {}): Promise<tf.History> {
  await ready();
  checkFitArguments(model, x, y, options);
  const { batchSize = 32, epochs = 1, validationData, shuffle = true, verbose = 'auto' } = options;
  const callbacks = asCallbacks(options.callbacks ?? []);
  const plan = await planForward({ purpose: 'fit', model, x, validationX: validationData?.[0], options });
  const display = new TrainingDisplay(displayMode(verbose), epochs);
  const driver = new FitDriver(display, callbacks);
  try {
    if (plan.note && display.mode !== 'silent') console.log(plan.note);
    const history = await plan.model.fit(plan.x, y, {
      batchSize,
      epochs,
      shuffle,
      verbose: 0,
      validationData: validationData && plan.validationX ? [plan.validationX, validationData[1]] : undefined,
      callbacks: [driver],
    });
    display.finish(finalStatus(driver, epochs, callbacks));
    if (driver.interrupted) {
      throw new InterruptedError(`Training (after ${driver.epochsRun} complete epoch${driver.epochsRun === 1 ? '' : 's'} of ${epochs})`);
    }
    return history;
  } finally {
    plan.dispose();
  }
}
