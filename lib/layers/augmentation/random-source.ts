/**
 * Where a data augmentation layer draws its random numbers: Keras 3's per-layer
 * `SeedGenerator(seed)` (keras/src/random/seed_generator.py), as used by every layer in
 * keras/src/layers/preprocessing/image_preprocessing/.
 *
 * - With a `seed`, the layer has a generator of its own (lib/core/random.ts' `seededGenerator`), so two
 *   layers built with the same seed (or one rebuilt from its saved config) draw the same sequence,
 *   whatever else the program draws in between.
 * - Without one, it draws from `Math.random`, which `keras.utils.setRandomSeed(seed)` (lib/core/random.ts)
 *   replaces with a seeded generator: the same seed and the same work give the same images.
 *
 * Draws are Keras' `random.uniform(shape=(batch,), minval, maxval)`: one number per image, in
 * [minval, maxval).
 */
import { ValueError } from '../../core/errors';
import { seededGenerator } from '../../core/random';

/** A layer's seed as Keras takes it: a non-negative integer, or none. */
export function checkSeed(layer: string, value: unknown): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ValueError(
      `${layer}: received an invalid value for \`seed\`, expected a non-negative integer (or none, to draw from ` +
        `keras.utils.setRandomSeed's generator). Received: seed=${JSON.stringify(value)}.`,
    );
  }
  return value;
}

export class RandomSource {
  private readonly own: (() => number) | undefined;

  /** @param seed the layer's seed, or null to draw from Math.random (seeded by setRandomSeed). */
  constructor(readonly seed: number | null) {
    this.own = seed === null ? undefined : seededGenerator(seed);
  }

  /** One number in [0, 1). */
  next(): number {
    return this.own ? this.own() : Math.random();
  }

  /** `count` numbers in [low, high): Keras' `random.uniform(shape=(count,), minval=low, maxval=high)`. */
  uniform(count: number, low: number, high: number): number[] {
    const values: number[] = [];
    for (let i = 0; i < count; i++) values.push(low + (high - low) * this.next());
    return values;
  }
}
