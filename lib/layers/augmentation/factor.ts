/**
 * Keras' `factor` arguments of the augmentation layers: a number, or [lower, upper], turned into
 * the [lower, upper] range the layer draws from.
 *
 * - keras/src/layers/preprocessing/image_preprocessing/base_image_preprocessing_layer.py
 *   `_set_factor` (RandomRotation, bounds [-1, 1]; RandomContrast, bounds [0, 1]): a number f
 *   gives [max(-|f|, low), |f|] (so RandomContrast(0.2) gives [0, 0.2]); a pair is sorted.
 * - random_zoom.py / random_translation.py `_set_factor`: a number f gives [-|f|, |f|]; a pair is
 *   sorted; each number in (-1, 1] (zoom) or [-1, 1] (translation).
 *
 * Both rules are "lower = max(-|f|, low), upper = |f|" for a number. For a pair, every number must
 * lie in the bounds (Keras' base layer only checks factor[0] <= high and factor[1] >= low).
 */
import { ValueError } from '../../core/errors';

/** A factor as Keras takes it: a number, or [lower, upper]. */
export type Factor = number | [number, number];

export interface FactorBounds {
  low: number;
  high: number;
  /** Whether `low` itself is excluded (RandomZoom: (-1, 1]). Defaults to false. */
  lowOpen?: boolean;
}

function describe(bounds: FactorBounds): string {
  return `${bounds.lowOpen ? '(' : '['}${bounds.low}, ${bounds.high}]`;
}

/** The [lower, upper] range of a Keras factor, or a ValueError naming the layer, the argument and the value. */
export function parseFactor(layer: string, arg: string, value: unknown, bounds: FactorBounds): [number, number] {
  const inBounds = (v: unknown): v is number =>
    typeof v === 'number' && Number.isFinite(v) && (bounds.lowOpen ? v > bounds.low : v >= bounds.low) && v <= bounds.high;
  if (inBounds(value)) {
    const f = Math.abs(value);
    return [Math.max(-f, bounds.low), f];
  }
  if (Array.isArray(value) && value.length === 2 && value.every(inBounds)) {
    const [a, b] = value as [number, number];
    return a <= b ? [a, b] : [b, a];
  }
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  throw new ValueError(
    `${layer}: received an invalid value for \`${arg}\`, expected a number or an array of two numbers [lower, upper], ` +
      `each in ${describe(bounds)}. Received: ${arg}=${shown}.`,
  );
}

/** A copy of a factor as given (configs keep it so, as Keras' get_config does). */
export function copyFactor(factor: Factor): Factor {
  return Array.isArray(factor) ? [factor[0], factor[1]] : factor;
}
