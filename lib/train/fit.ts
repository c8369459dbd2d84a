/**
 * `fit(model, x, y, options)`: Keras' `model.fit` for the lesson, on TensorFlow.js.
 *
 * It runs tfjs' own `model.fit` (so any tfjs callback works) on the plan chosen by
 * lib/train/forward.ts, with Keras' names in the logs (lib/compat/keras-compile.ts), a progress
 * display suited to where it runs, a seed, and the kernel's interrupt button honoured between
 * batches. tfjs' `model.fit(x, y, args)` of a model with a frozen part comes here too
 * (lib/compat/model-methods.ts), so the Keras habit is the fast path.
 */
import * as tf from '@tensorflow/tfjs';
import { ready } from '../backends/selection';
import { EarlyStopping, resolveLogs } from './callbacks';
import { interruptRequested } from '../notebook/interrupt';
import { InterruptedError, ValueError } from '../core/errors';
import { lessonEpochCap } from '../settings/lesson-environment';
import { setRandomSeed } from '../core/random';
import { checkBatchSize, checkCompiled, checkModel, checkSamples, checkTensor, describe, yieldToEventLoop } from './arguments';
import { checkSparseLabelsBeforeFit } from './label-checks';
import { ForwardOptions, planForward } from './forward';
import { tfjsFit } from './tfjs-methods';
import { displayMode, TrainingDisplay, Verbosity } from './training-display';

/**
 * A callback {@link fit} accepts: a tfjs Callback (such as {@link EarlyStopping}) or an object of
 * hooks, e.g. `{ onEpochEnd: (epoch, logs) => ... }`.
 */
export type FitCallback = tf.Callback | tf.CustomCallbackArgs;

/** Options of {@link fit}, as Keras' `model.fit` arguments in camelCase. */
export interface FitOptions extends ForwardOptions {
  /** Samples per gradient step. Defaults to 32. */
  batchSize?: number;
  /** Passes over the training data (fewer if a callback stops training). Defaults to 1. */
  epochs?: number;
  /** Callbacks such as earlyStopping(...), or tfjs callback objects. Defaults to none. */
  callbacks?: FitCallback[];
  /** [images, labels] to evaluate after each epoch, logged as val_loss, val_accuracy. Defaults to none. */
  validationData?: [tf.Tensor, tf.Tensor];
  /**
   * Fraction in (0, 1) of the samples, taken from the end of `x` and `y` before any shuffling,
   * held out for validation (Keras' and tfjs' rule). Ignored when `validationData` is given.
   * Defaults to none.
   */
  validationSplit?: number;
  /** Shuffle the training samples before each epoch. Defaults to true. */
  shuffle?: boolean;
  /** A weight per class index, applied to each training sample's loss (Keras' `class_weight`). Defaults to none. */
  classWeight?: { [classIndex: number]: number };
  /** The epoch to start counting from (to resume a run). Defaults to 0. */
  initialEpoch?: number;
  /** 0 silent, 1 progress display, 2 one line per epoch; 'auto' by where it runs. Defaults to 'auto'. */
  verbose?: Verbosity;
  /** Calls setRandomSeed(seed) first, for a repeatable run. Defaults to leaving the generator as it is. */
  seed?: number;
}

const WHERE = 'fit(model, x, y, options)';

/**
 * The callbacks, in order, as tfjs Callback objects. Accepted as tfjs accepts them: an array of
 * callbacks or of `{ onEpochEnd, ... }` objects, one such object, or a tfjs CallbackList.
 */
function asCallbacks(callbacks: unknown, where: string): tf.Callback[] {
  const list = (callbacks as { callbacks?: unknown }).callbacks;
  const items = Array.isArray(callbacks)
    ? callbacks
    : Array.isArray(list)
      ? list
      : callbacks && typeof callbacks === 'object'
        ? [callbacks]
        : undefined;
  if (!items) {
    throw new ValueError(
      `${where}: callbacks must be an array, e.g. [earlyStopping({ monitor: 'val_accuracy', patience: 5 })]. Received ${describe(callbacks)}.`,
    );
  }
  return items.map((c, i) => {
    if (c instanceof tf.Callback || (c as { setModel?: unknown } | null)?.setModel instanceof Function) return c as tf.Callback;
    if (c && typeof c === 'object') return new tf.CustomCallback(c as tf.CustomCallbackArgs) as unknown as tf.Callback;
    throw new ValueError(`${where}: callbacks[${i}] is ${describe(c)}; pass a callback such as earlyStopping({ patience: 5 }).`);
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

/** A batch's size and metrics, kept until the progress display shows them. */
interface UnreadBatch {
  size: number;
  values: [string, number | tf.Tensor][];
}

function tensorsOf(batches: UnreadBatch[]): tf.Tensor[] {
  return batches.flatMap((b) => b.values.map(([, value]) => value).filter((v): v is tf.Tensor => typeof v !== 'number'));
}

/** The first value of each tensor, in one read off the backend when they are all float32 scalars (tfjs' losses and metrics). */
async function firstValues(tensors: tf.Tensor[]): Promise<number[]> {
  if (tensors.length === 0) return [];
  if (tensors.every((t) => t.rank === 0 && t.dtype === 'float32')) {
    const stacked = tf.stack(tensors);
    try {
      return Array.from(await stacked.data());
    } finally {
      stacked.dispose();
    }
  }
  const values: number[] = [];
  for (const t of tensors) values.push((await t.data())[0] as number);
  return values;
}

/**
 * Drives the display, watches for interrupts and forwards every event to the user's callbacks.
 * After an interrupt the cut-short epoch is not reported to them as an epoch (no early-stopping
 * decision, no history entry on a partial epoch), but onTrainEnd still runs so they can clean up.
 *
 * The callbacks see the caller's model, as in Keras (`this.model.predict(images)` works), while
 * tfjs trains the plan's model (the head, on features); a callback's `model.stopTraining = true`
 * is passed on to the model being trained.
 */
class FitDriver extends tf.Callback {
  interrupted = false;
  epochsRun = 0;
  private epochStarted = 0;
  private lastYield = 0;
  private seen = 0;
  private totals: { [key: string]: number } = {};
  /**
   * The metrics of the batches since the display last showed them, still on the backend: read
   * only when the display draws (every 0.2 s at most), not after every batch, which on a GPU
   * would wait for each step to finish before the next one is queued.
   */
  private unread: UnreadBatch[] = [];
  private batchesPerEpoch = 0;
  private epoch = 0;

  constructor(
    private readonly display: TrainingDisplay,
    private readonly callbacks: tf.Callback[],
    private readonly userModel: tf.LayersModel,
  ) {
    super();
  }

  override setParams(params: tf.CustomCallbackArgs & { [key: string]: unknown }): void {
    super.setParams(params as never);
    // fit gives samples and batchSize (and steps: null); fitDataset gives its steps per epoch when it knows them.
    const steps = Number(params.steps ?? NaN);
    const batches = steps > 0 ? steps : Math.ceil(Number(params.samples ?? NaN) / Number(params.batchSize ?? NaN));
    this.batchesPerEpoch = batches > 0 ? batches : 0;
    for (const c of this.callbacks) c.setParams(params as never);
  }

  override setModel(model: tf.LayersModel): void {
    super.setModel(model);
    for (const c of this.callbacks) c.setModel(this.userModel);
  }

  /** A callback stopped the caller's model: stop the model tfjs is training. */
  private passOnStop(): void {
    if (this.userModel !== this.model && this.userModel.stopTraining) this.model.stopTraining = true;
  }

  override async onTrainBegin(logs?: tf.Logs): Promise<void> {
    if (this.userModel !== this.model) this.userModel.stopTraining = false;
    for (const c of this.callbacks) await c.onTrainBegin(logs);
  }

  override async onEpochBegin(epoch: number, logs?: tf.Logs): Promise<void> {
    this.epoch = epoch;
    this.epochStarted = Date.now();
    this.seen = 0;
    this.totals = {};
    this.forgetUnread();
    for (const c of this.callbacks) await c.onEpochBegin(epoch, logs);
    this.passOnStop();
  }

  override async onBatchBegin(batch: number, logs?: tf.Logs): Promise<void> {
    for (const c of this.callbacks) await c.onBatchBegin(batch, logs);
  }

  override async onBatchEnd(batch: number, logs?: tf.Logs): Promise<void> {
    if (this.display.showsBatches) {
      // tfjs disposes the batch's logs after this call: keep the values (a clone shares the data).
      const values: [string, number | tf.Tensor][] = [];
      for (const key of (this.params.metrics as string[]) ?? []) {
        const value = (logs as { [key: string]: number | tf.Tensor } | undefined)?.[key];
        if (value === undefined || key.startsWith('val_')) continue;
        values.push([key, typeof value === 'number' ? value : value.clone()]);
      }
      this.unread.push({ size: Number(logs?.size ?? 0), values });
    }
    if (this.display.due(batch + 1, this.batchesPerEpoch)) await this.showRunningEpoch(batch + 1);
    for (const c of this.callbacks) await c.onBatchEnd(batch, logs);
    this.passOnStop();
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

  /** Reads the unread batches' metrics and shows the running means of the epoch so far. */
  private async showRunningEpoch(batchesDone: number): Promise<void> {
    const unread = this.unread;
    this.unread = [];
    const tensors = tensorsOf(unread);
    let read: number[];
    try {
      read = await firstValues(tensors);
    } finally {
      tf.dispose(tensors);
    }
    // Running means over the epoch so far, weighted by batch size, as Keras' progress bar shows.
    let next = 0;
    for (const { size, values } of unread) {
      this.seen += size;
      for (const [key, value] of values) {
        const number = typeof value === 'number' ? value : read[next++];
        this.totals[key] = (this.totals[key] ?? 0) + number * size;
      }
    }
    const running: { [key: string]: number } = {};
    for (const [key, total] of Object.entries(this.totals)) running[key] = total / Math.max(this.seen, 1);
    this.display.batch(this.epoch, batchesDone, this.batchesPerEpoch, running, Date.now() - this.epochStarted);
  }

  /** Frees the metrics kept for the display (at each epoch's start and end, and after training). */
  forgetUnread(): void {
    tf.dispose(tensorsOf(this.unread));
    this.unread = [];
  }

  override async onEpochEnd(epoch: number, logs?: tf.Logs): Promise<void> {
    this.forgetUnread();
    if (this.interrupted) return;
    const resolved = await resolveLogs(logs as { [key: string]: number | tf.Tensor });
    inKerasOrder(resolved, (this.params.metrics as string[]) ?? []);
    this.epochsRun = epoch + 1;
    this.display.epochEnd(epoch, resolved, Date.now() - this.epochStarted);
    for (const c of this.callbacks) await c.onEpochEnd(epoch, logs);
    this.passOnStop();
  }

  override async onTrainEnd(logs?: tf.Logs): Promise<void> {
    this.forgetUnread();
    for (const c of this.callbacks) await c.onTrainEnd(logs);
  }
}

function checkFitArguments(model: unknown, x: unknown, y: unknown, options: FitOptions, where: string): asserts model is tf.LayersModel {
  checkModel(model, where);
  checkCompiled(model, where);
  checkTensor(x, where, 'x');
  checkTensor(y, where, 'y');
  checkSamples(x, y, where, 'x', 'y');
  const { batchSize = 32, epochs = 1, validationData, validationSplit, initialEpoch = 0, seed } = options;
  checkBatchSize(batchSize, where);
  if (!Number.isInteger(epochs) || epochs < 1) {
    throw new ValueError(`${where}: epochs must be a positive integer, e.g. 30. Received ${JSON.stringify(epochs)}.`);
  }
  if (!Number.isInteger(initialEpoch) || initialEpoch < 0 || initialEpoch >= epochs) {
    throw new ValueError(
      `${where}: initialEpoch must be an integer in [0, epochs) = [0, ${epochs}). Received ${JSON.stringify(initialEpoch)}.`,
    );
  }
  if (validationData !== undefined && validationData !== null) {
    if (!Array.isArray(validationData) || validationData.length < 2 || validationData.length > 3) {
      throw new ValueError(`${where}: validationData must be [images, labels]. Received ${describe(validationData)}.`);
    }
    checkTensor(validationData[0], where, 'validationData[0] (images)');
    checkTensor(validationData[1], where, 'validationData[1] (labels)');
    checkSamples(validationData[0], validationData[1], where, 'validationData[0]', 'validationData[1]');
  } else if (validationSplit !== undefined && validationSplit !== 0) {
    if (typeof validationSplit !== 'number' || !(validationSplit > 0 && validationSplit < 1)) {
      throw new ValueError(
        `${where}: validationSplit must be a fraction between 0 and 1, e.g. 0.2. Received ${JSON.stringify(validationSplit)}.`,
      );
    }
    const held = x.shape[0] - Math.floor(x.shape[0] * (1 - validationSplit));
    if (held === 0 || held === x.shape[0]) {
      throw new ValueError(
        `${where}: validationSplit ${validationSplit} of ${x.shape[0]} samples leaves ${held === 0 ? 'no validation' : 'no training'} samples; ` +
          'use a larger data set or another fraction.',
      );
    }
  }
  if (seed !== undefined) setRandomSeed(seed);
}

function finalStatus(driver: FitDriver, epochs: number, callbacks: tf.Callback[], initialEpoch: number): string {
  if (driver.interrupted) return `Interrupted during epoch ${driver.epochsRun + 1}/${epochs}`;
  const count = driver.epochsRun - initialEpoch;
  const ran =
    `Trained ${count} epoch${count === 1 ? '' : 's'}` + (initialEpoch > 0 ? ` (epochs ${initialEpoch + 1}-${driver.epochsRun})` : '');
  const stopper = callbacks.find((c): c is EarlyStopping => c instanceof EarlyStopping && c.stoppedEpoch > 0);
  if (!stopper && driver.epochsRun >= epochs) return ran;
  const why = stopper
    ? `early stopping: ${stopper.monitor} last improved at epoch ${stopper.bestEpoch + 1} (${stopper.best.toFixed(4)})` +
      (stopper.restoreBestWeights ? ', weights of that epoch restored' : '')
    : 'a callback stopped training';
  return `${ran} of ${epochs}; ${why}`;
}

/**
 * The training and validation tensors: `validationSplit` holds out the last samples, as Keras and
 * tfjs do, before any shuffling. The slices belong to the caller of this function.
 */
function splitValidation(
  x: tf.Tensor,
  y: tf.Tensor,
  options: FitOptions,
): { x: tf.Tensor; y: tf.Tensor; validation?: [tf.Tensor, tf.Tensor]; made: tf.Tensor[] } {
  const { validationData, validationSplit } = options;
  if (validationData) return { x, y, validation: [validationData[0], validationData[1]], made: [] };
  if (!validationSplit) return { x, y, made: [] };
  const at = Math.floor(x.shape[0] * (1 - validationSplit));
  const made = [x.slice(0, at), y.slice(0, at), x.slice(at), y.slice(at)];
  return { x: made[0], y: made[1], validation: [made[2], made[3]], made };
}

/** Settings outside FitOptions that tfjs' model.fit accepts and that go to tfjs unchanged. */
export type TfjsFitExtras = Omit<tf.ModelFitArgs, keyof FitOptions | 'callbacks' | 'validationData' | 'verbose'>;

/**
 * The common body of `fit(model, ...)` and of tfjs' `model.fit(...)` on a model with a frozen
 * part: plan, train the plan's model with tfjs, report. `where` names the call in errors.
 */
export async function fitThroughPlan(
  model: tf.LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
  options: FitOptions,
  where: string,
  extras: TfjsFitExtras = {},
): Promise<tf.History> {
  await ready();
  checkFitArguments(model, x, y, options, where);
  const { batchSize = 32, initialEpoch = 0, shuffle = true, verbose = 'auto', classWeight } = options;
  const epochs = lessonEpochCap(options.epochs ?? 1, options.initialEpoch ?? 0);
  const callbacks = asCallbacks(options.callbacks ?? [], where);
  const data = splitValidation(x, y, options);
  try {
    // On webgpu tfjs' own synchronous label check cannot read labels computed on the GPU: check them here.
    await checkSparseLabelsBeforeFit(model, data.validation ? [data.y, data.validation[1]] : [data.y], where);
    const plan = await planForward({ purpose: 'fit', model, x: data.x, validationX: data.validation?.[0], options });
    const display = new TrainingDisplay(displayMode(verbose), epochs);
    const driver = new FitDriver(display, callbacks, model);
    try {
      if (plan.note && display.mode !== 'silent') console.log(plan.note);
      const validationData =
        data.validation && plan.validationX
          ? [plan.validationX, ...data.validation.slice(1), ...(options.validationData?.slice(2) ?? [])]
          : undefined;
      const history = plan.trainingBatches
        ? await plan.model.fitDataset(plan.trainingBatches(data.y, batchSize, shuffle), {
            epochs,
            initialEpoch,
            classWeight,
            verbose: 0,
            validationData: validationData as [tf.Tensor, tf.Tensor],
            callbacks: [driver],
          })
        : await tfjsFit(plan.model, plan.x, data.y, {
            ...extras,
            batchSize,
            epochs,
            initialEpoch,
            shuffle,
            classWeight,
            verbose: 0,
            validationData: validationData as tf.ModelFitArgs['validationData'],
            callbacks: [driver],
          });
      // Keras' History belongs to the model the caller trained (tfjs' History keeps none).
      (history as unknown as { model: tf.LayersModel }).model = model;
      display.finish(finalStatus(driver, epochs, callbacks, initialEpoch));
      if (driver.interrupted) {
        throw new InterruptedError(`Training (after ${driver.epochsRun} complete epoch${driver.epochsRun === 1 ? '' : 's'} of ${epochs})`);
      }
      return history;
    } finally {
      driver.forgetUnread();
      plan.dispose();
    }
  } finally {
    tf.dispose(data.made);
  }
}

/**
 * Trains `model` on images `x` and integer labels `y`, like Keras' `model.fit`.
 * The model must be compiled. A frozen base is computed once and only the trainable part is
 * trained on its output. `model.fit(x, y, options)` does the same for a model with a frozen part.
 *
 * @param model - A compiled tf.LayersModel, e.g. `tf.model({ inputs, outputs })` after `model.compile(...)`.
 * @param x - Training inputs, e.g. images [n, height, width, 3].
 * @param y - Training labels [n]: integer class indices for the lesson's sparse loss.
 * @param options - `batchSize` (default 32), `epochs` (default 1), `callbacks`, `validationData`
 *   or `validationSplit`, `shuffle` (default true), `classWeight`, `initialEpoch`, `verbose`, `seed`.
 * @returns A promise of tfjs' History: `history.history.loss`, `.accuracy`, `.val_loss`,
 *   `.val_accuracy` (one value per epoch run) and `history.epoch`.
 * @throws A {@link ValueError} when the model is not a compiled tf.LayersModel, a tensor is disposed
 *   or does not match the model, the labels do not fit the loss, or an option is invalid.
 * @throws An {@link InterruptedError} when the user interrupts the kernel; the model keeps the weights
 *   it had then.
 *
 * @example
 * ```ts
 * import { sparseCategoricalCrossentropy, earlyStopping, fit } from 'tslab-dl';
 *
 * model.compile({
 *   optimizer: 'adam',
 *   loss: sparseCategoricalCrossentropy({ fromLogits: true }),
 *   metrics: ['accuracy'],
 * });
 * const history = await fit(model, trainImages, trainLabels, {
 *   batchSize: 32,
 *   epochs: 30,
 *   validationData: [valImages, valLabels],
 *   callbacks: [earlyStopping({ monitor: 'val_accuracy', patience: 5 })],
 * });
 * ```
 */
export async function fit(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, options: FitOptions = {}): Promise<tf.History> {
  return fitThroughPlan(model, x, y, options, WHERE);
}
