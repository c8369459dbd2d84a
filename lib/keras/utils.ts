/**
 * `keras.utils`: `setRandomSeed(seed)`, Keras 3's `keras.utils.set_random_seed`
 * (keras/src/utils/rng_utils.py): one seed makes weight initialisation, dropout masks and fit's
 * shuffling repeatable (lib/core/random.ts).
 */
import { randomSeed, setRandomSeed } from '../core/random';

export { randomSeed, setRandomSeed };
