/**
 * Repeatable randomness, like `keras.utils.set_random_seed`.
 *
 * TensorFlow.js draws every unseeded random number from `Math.random`:
 * - weight initialisers (`glorotUniform`, ...) and `tf.randomUniform`/`tf.randomNormal` without a
 *   seed use `Math.random()` to seed their own generator (tfjs-core rand_util.ts);
 * - `Dropout` layers call `tf.dropout` without a seed, which does the same;
 * - `model.fit({shuffle: true})` shuffles sample indices with `tf.util.shuffle`, i.e. `Math.random`.
 *
 * So `setRandomSeed(seed)` replaces `Math.random` (process-wide, like Python's global
 * `random.seed`) with a seeded generator. Two runs that seed the same value and then do the same
 * work on the same backend draw the same numbers: the same initial weights, dropout masks and
 * batch order. `setRandomSeed(null)` puts the native `Math.random` back.
 */
import { ValueError } from './errors';

const NATIVE_RANDOM = Symbol.for('tslab-dl.nativeMathRandom');
type Registry = { [NATIVE_RANDOM]?: () => number };

/** The native Math.random, kept once per process even if this module is loaded twice. */
function nativeRandom(): () => number {
  const registry = globalThis as unknown as Registry;
  if (!registry[NATIVE_RANDOM]) registry[NATIVE_RANDOM] = Math.random;
  return registry[NATIVE_RANDOM]!;
}
nativeRandom();

let currentSeed: number | null = null;

/**
 * A small, fast generator with a 128-bit state (sfc32, from PractRand), seeded through
 * splitmix32 so that nearby seeds (1, 2, 3) give unrelated sequences.
 * Returns doubles in [0, 1) with 53 random bits, like Math.random.
 */
export function seededGenerator(seed: number): () => number {
  let s = seed >>> 0;
  const high = Math.floor(seed / 2 ** 32) >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) | 0;
    let z = s ^ high;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) next32(); // mix the initial state
  return () => {
    // 27 + 26 bits -> a double in [0, 1) with full 53-bit resolution.
    const hi = next32() >>> 5;
    const lo = next32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  };
}

/**
 * Seeds every random draw of TensorFlow.js (weight initialisation, dropout, fit's shuffle)
 * by replacing `Math.random` with a seeded generator, like `keras.utils.set_random_seed(seed)`.
 *
 * @param seed a non-negative integer (up to 2**53 - 1), or null to restore the native
 *   `Math.random`.
 */
export function setRandomSeed(seed: number | null): void {
  if (seed === null) {
    Math.random = nativeRandom();
    currentSeed = null;
    return;
  }
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new ValueError(
      `setRandomSeed(seed): seed must be a non-negative integer, as in keras.utils.set_random_seed(2). ` +
        `Received ${JSON.stringify(seed)}.`,
    );
  }
  Math.random = seededGenerator(seed);
  currentSeed = seed;
}

/** The seed last given to {@link setRandomSeed}, or null when Math.random is the native one. */
export function randomSeed(): number | null {
  return Math.random === nativeRandom() ? null : currentSeed;
}

/**
 * Remembers where the random generator is; the returned function puts it back there (the same
 * generator at the same point of its sequence, not reseeded), so work done in between with a
 * seed of its own (e.g. stand-in weights made while a model is built) leaves the caller's
 * sequence as if it had not happened.
 */
export function saveRandomState(): () => void {
  const generator = Math.random;
  const seed = currentSeed;
  return () => {
    Math.random = generator;
    currentSeed = seed;
  };
}
