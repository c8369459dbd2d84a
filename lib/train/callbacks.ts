/**
 * Keras' EarlyStopping, with `restoreBestWeights`, for TensorFlow.js.
 *
 * tfjs' own `tf.callbacks.earlyStopping` throws on `restoreBestWeights: true` and is blind to
 * `val_accuracy` unless the logs use Keras' names (tfjs-layers src/callbacks.ts). This one follows
 * tf-keras `tf_keras/callbacks.py` (keras-team/tf-keras, the Keras 2.15+ line; the same logic
 * as Keras 2.11-2.14 except that restoring the best weights now also happens when training ran
 * all its epochs without stopping early):
 * - mode 'auto' maximises a monitor whose name ends in 'acc', 'accuracy' or 'auc', else minimises;
 * - an improvement is `current - minDelta` better than the best so far (minDelta's sign follows
 *   the mode);
 * - `wait` counts epochs since the last improvement; training stops when `wait >= patience`
 *   (never after the first epoch); a `baseline` must also be beaten to reset `wait`;
 * - epochs before `startFromEpoch` are ignored;
 * - with `restoreBestWeights`, the weights of the best epoch (or of the first monitored epoch if
 *   none improved) are put back at the end of training, whether or not it stopped early.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../core/errors';

type Logs = { [key: string]: number | tf.Tensor };

/**
 * Replaces scalar tensors in epoch logs by numbers (and frees them), as tfjs' own callbacks do;
 * later callbacks and the History then see plain numbers.
 */
export async function resolveLogs(logs: Logs | undefined): Promise<{ [key: string]: number }> {
  if (!logs) return {};
  for (const [key, value] of Object.entries(logs)) {
    if (value instanceof tf.Tensor) {
      logs[key] = (await value.data())[0];
      value.dispose();
    }
  }
  return logs as { [key: string]: number };
}

/** Arguments of {@link earlyStopping} and {@link EarlyStopping}: Keras' `EarlyStopping` arguments in camelCase. */
export interface EarlyStoppingArgs {
  /** The logged quantity to watch, e.g. 'val_accuracy'. Defaults to 'val_loss'. */
  monitor?: string;
  /** The smallest change that counts as an improvement. Defaults to 0. */
  minDelta?: number;
  /** Epochs without improvement before stopping. Defaults to 0. */
  patience?: number;
  /** 'min', 'max', or 'auto' (from the monitor's name). Defaults to 'auto'. */
  mode?: 'auto' | 'min' | 'max';
  /** A value the monitor must beat for an epoch to reset the patience count. Defaults to none. */
  baseline?: number;
  /** Put back the weights of the best epoch when training ends. Defaults to false. */
  restoreBestWeights?: boolean;
  /** Epochs to wait before watching the monitor at all (warm-up). Defaults to 0. */
  startFromEpoch?: number;
  /** 1 prints when training stops and when weights are restored. Defaults to 0. */
  verbose?: number;
}

/**
 * Keras' EarlyStopping callback (tf-keras' logic), with `restoreBestWeights`: stops training when
 * the monitored quantity (e.g. 'val_accuracy') has not improved for `patience` epochs. Made by
 * {@link earlyStopping} and `keras.callbacks.EarlyStopping(...)`; works with {@link fit} and tfjs'
 * `model.fit`. Mode 'auto' maximises a monitor ending in 'acc', 'accuracy' or 'auc', else minimises.
 */
export class EarlyStopping extends tf.Callback {
  /** The logged quantity watched, e.g. 'val_accuracy'. */
  readonly monitor: string;
  /** Epochs without improvement before stopping. */
  readonly patience: number;
  /** A value the monitor must beat for an epoch to reset the patience count. */
  readonly baseline?: number;
  /** Whether the best epoch's weights are put back when training ends. */
  readonly restoreBestWeights: boolean;
  /** Epochs ignored before watching starts. */
  readonly startFromEpoch: number;
  /** 1 prints when training stops and when weights are restored. */
  readonly verbose: number;
  /** Signed: positive when maximising, negative when minimising (Keras' convention). */
  readonly minDelta: number;
  /** 'max' or 'min', as resolved from 'auto'. */
  readonly mode: 'min' | 'max';

  /** Epochs since the last improvement. */
  wait = 0;
  /** The (0-based) epoch at which training was stopped; 0 if it was not. */
  stoppedEpoch = 0;
  /** The best monitored value so far. */
  best = Infinity;
  /** The (0-based) epoch of the best value. */
  bestEpoch = 0;
  private bestWeights: tf.Tensor[] | null = null;
  private warnedMissing = false;

  constructor(args: EarlyStoppingArgs = {}) {
    super();
    const {
      monitor = 'val_loss',
      minDelta = 0,
      patience = 0,
      baseline,
      restoreBestWeights = false,
      startFromEpoch = 0,
      verbose = 0,
    } = args;
    let mode = args.mode ?? 'auto';
    for (const [name, value] of Object.entries({ minDelta, patience, startFromEpoch })) {
      if (typeof value !== 'number' || !Number.isFinite(value) || (name !== 'minDelta' && value < 0)) {
        throw new ValueError(
          `earlyStopping({ ${name} }): expected a ${name === 'minDelta' ? 'finite number' : 'non-negative number'}. Received ${JSON.stringify(value)}.`,
        );
      }
    }
    if (typeof monitor !== 'string' || monitor === '') {
      throw new ValueError(
        `earlyStopping({ monitor }): expected the name of a logged quantity such as 'val_accuracy'. Received ${JSON.stringify(monitor)}.`,
      );
    }
    if (!['auto', 'min', 'max'].includes(mode)) {
      console.warn(`EarlyStopping mode ${mode} is unknown, fallback to auto mode.`);
      mode = 'auto';
    }
    this.monitor = monitor;
    this.patience = patience;
    this.baseline = baseline;
    this.restoreBestWeights = restoreBestWeights;
    this.startFromEpoch = startFromEpoch;
    this.verbose = verbose;
    const maximise = mode === 'max' || (mode === 'auto' && /(acc|accuracy|auc)$/.test(monitor));
    this.mode = maximise ? 'max' : 'min';
    this.minDelta = maximise ? Math.abs(minDelta) : -Math.abs(minDelta);
  }

  private isImprovement(value: number, reference: number): boolean {
    const shifted = value - this.minDelta;
    return this.mode === 'max' ? shifted > reference : shifted < reference;
  }

  private snapshotWeights(): void {
    tf.dispose(this.bestWeights ?? []);
    // Clones share storage with the variables until the optimizer reassigns them: cheap.
    this.bestWeights = this.model.getWeights().map((w) => w.clone());
  }

  override async onTrainBegin(): Promise<void> {
    // Allow instances to be re-used.
    this.wait = 0;
    this.stoppedEpoch = 0;
    this.best = this.mode === 'min' ? Infinity : -Infinity;
    tf.dispose(this.bestWeights ?? []);
    this.bestWeights = null;
    this.bestEpoch = 0;
    this.warnedMissing = false;
  }

  override async onEpochEnd(epoch: number, logs?: Logs): Promise<void> {
    const current = this.monitorValue(await resolveLogs(logs));
    if (current === undefined || epoch < this.startFromEpoch) return;
    if (this.restoreBestWeights && this.bestWeights === null) {
      // Restore the weights after the first epoch if no progress is ever made.
      this.snapshotWeights();
      this.bestEpoch = epoch;
    }
    this.wait += 1;
    if (this.isImprovement(current, this.best)) {
      this.best = current;
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.snapshotWeights();
      // Only restart wait if we beat both the baseline and our previous best.
      if (this.baseline === undefined || this.isImprovement(current, this.baseline)) this.wait = 0;
      return;
    }
    // Only check after the first epoch.
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      this.model.stopTraining = true;
    }
  }

  override async onTrainEnd(): Promise<void> {
    if (this.stoppedEpoch > 0 && this.verbose > 0) console.log(`Epoch ${this.stoppedEpoch + 1}: early stopping`);
    if (this.restoreBestWeights && this.bestWeights !== null) {
      if (this.verbose > 0) console.log(`Restoring model weights from the end of the best epoch: ${this.bestEpoch + 1}.`);
      this.model.setWeights(this.bestWeights);
    }
    tf.dispose(this.bestWeights ?? []);
    this.bestWeights = null;
  }

  private monitorValue(logs: { [key: string]: number }): number | undefined {
    const value = logs[this.monitor];
    if (value === undefined && !this.warnedMissing) {
      this.warnedMissing = true;
      const available = Object.keys(logs);
      const hint = available.includes(this.monitor.replace(/accuracy$/, 'acc'))
        ? ` (tfjs names accuracy 'acc' when compile() ran before tslab-dl was imported: import tslab-dl first, then compile)`
        : '';
      console.warn(
        `Early stopping conditioned on metric \`${this.monitor}\` which is not available. ` +
          `Available metrics are: ${available.join(',')}${hint}`,
      );
    }
    return value;
  }
}

/**
 * Keras' `EarlyStopping(...)` for `fit(..., { callbacks: [earlyStopping({ monitor: 'val_accuracy',
 * patience: 5 })] })` or tfjs' `model.fit`.
 */
export function earlyStopping(args: EarlyStoppingArgs = {}): EarlyStopping {
  return new EarlyStopping(args);
}
