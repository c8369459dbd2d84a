/**
 * `keras.callbacks`: Keras 3's callbacks (keras/src/callbacks/early_stopping.py) for `fit()` and
 * tfjs' `model.fit`, using tslab-dl's EarlyStopping (lib/train/callbacks.ts), which unlike tfjs' own
 * supports `restoreBestWeights` and Keras' metric names.
 *
 *     early_stopper = keras.callbacks.EarlyStopping(monitor='val_accuracy', patience=5)      # Python
 *     const earlyStopper = keras.callbacks.EarlyStopping({ monitor: 'val_accuracy', patience: 5 }); // here
 */
import { EarlyStopping as EarlyStoppingCallback, type EarlyStoppingArgs } from '../train/callbacks';

export type { EarlyStoppingArgs };

/**
 * Keras' `EarlyStopping(monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
 * baseline=None, restore_best_weights=False, start_from_epoch=0)`; every argument defaults as there.
 */
export function EarlyStopping(args: EarlyStoppingArgs = {}): EarlyStoppingCallback {
  return new EarlyStoppingCallback(args);
}
