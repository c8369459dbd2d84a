/**
 * `keras.losses`: Keras 3's loss classes (keras/src/losses/losses.py) as tslab-dl loss functions
 * for `model.compile({ loss })`.
 *
 *     loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)        # Python
 *     const loss = keras.losses.SparseCategoricalCrossentropy({ fromLogits: true }); // here
 *
 * tslab-dl's own implementation (lib/train/losses.ts) is used because tfjs' clips logits before the
 * softmax.
 */
import { sparseCategoricalCrossentropy, type SparseCategoricalCrossentropyArgs, type SparseLossFunction } from '../train/losses';

export type { SparseCategoricalCrossentropyArgs, SparseLossFunction };

/**
 * Keras' `SparseCategoricalCrossentropy(from_logits=False)`: integer labels, predictions of shape
 * [n, classes]; the mean over the batch. `fromLogits` defaults to false (probabilities in); the
 * lesson's head outputs logits, so it passes `{ fromLogits: true }`.
 */
export function SparseCategoricalCrossentropy(args: SparseCategoricalCrossentropyArgs = {}): SparseLossFunction {
  return sparseCategoricalCrossentropy(args);
}
