/**
 * Argument handling shared by the `keras` namespace: Keras' two calling styles (positional,
 * `Dense(50, { activation: 'relu' })`, and one object, `Dense({ units: 50 })`), defaults that an
 * explicit argument always overrides, and Keras-style ValueErrors that name the function, the
 * argument and the value, and say what to pass instead.
 *
 * tfjs validates little (its Dropout clamps any rate into [0, 1], and a rate of 1 then drops
 * nothing), so a typo would otherwise build a different model without a word.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../core/errors';

/** A value as a learner would recognise it in a message: 0.5, "relu", [2, 2], NaN, undefined. */
export function show(value: unknown): string {
  if (value instanceof tf.Tensor) return `a tf.Tensor of shape [${value.shape.join(', ')}]`;
  if (value instanceof tf.SymbolicTensor) return `a symbolic tensor of shape [${value.shape.map((d) => d ?? 'null').join(', ')}]`;
  if (typeof value === 'number' || typeof value === 'bigint' || value === undefined) return String(value);
  if (typeof value === 'function') return `a function (${value.name || 'anonymous'})`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Throws Keras' "Received an invalid value for `arg`" ValueError, with a hint on what to pass. */
export function invalid(where: string, arg: string, expected: string, value: unknown, hint = ''): never {
  throw new ValueError(
    `${where}: received an invalid value for \`${arg}\`, expected ${expected}. Received: ${arg}=${show(value)}.${hint ? ` ${hint}` : ''}`,
  );
}

export function checkPositiveInteger(where: string, arg: string, value: unknown, hint = ''): void {
  if (!Number.isInteger(value) || (value as number) < 1) invalid(where, arg, 'a positive integer', value, hint);
}

/** A positive integer, or `rank` of them (Keras' standardize_tuple: `kernel_size=3` or `(3, 3)`). */
export function checkPositiveIntegers(where: string, arg: string, value: unknown, rank: number, hint = ''): void {
  const ok = (v: unknown) => Number.isInteger(v) && (v as number) >= 1;
  const valid = Array.isArray(value) ? value.length === rank && value.every(ok) : ok(value);
  if (!valid) invalid(where, arg, `a positive integer or an array of ${rank} positive integers`, value, hint);
}

/** A finite number greater than 0 (learning rates, epsilons). */
export function checkPositiveNumber(where: string, arg: string, value: unknown, hint = ''): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) invalid(where, arg, 'a number greater than 0', value, hint);
}

/** A number in [low, high] (or [low, high) when `highOpen`). */
export function checkInRange(where: string, arg: string, value: unknown, low: number, high: number, highOpen = false, hint = ''): void {
  const ok = typeof value === 'number' && value >= low && (highOpen ? value < high : value <= high);
  if (!ok) invalid(where, arg, `a number in [${low}, ${high}${highOpen ? ')' : ']'}`, value, hint);
}

/** The object with its `undefined` entries removed, so that they do not hide a default. */
export function defined<T extends object>(args: T): Partial<T> {
  return Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Keras' defaults overridden by every argument the caller gave (undefined means "not given"). */
export function withDefaults<T extends object, D extends Partial<T>>(defaults: D, args: T): D & T {
  return { ...defaults, ...defined(args) } as D & T;
}

/** True when a first argument is a Keras positional value rather than an arguments object. */
export function isPositional(value: unknown): boolean {
  return typeof value !== 'object' || value === null || Array.isArray(value);
}

/**
 * Merges Keras' positional form `f(value, rest)` into one arguments object; the object form
 * `f(args)` passes through. Giving an argument both ways is an error, as in Python
 * ("got multiple values for argument").
 */
export function positional<T extends object>(where: string, arg: keyof T & string, first: unknown, rest: unknown): T {
  if (!isPositional(first)) {
    if (rest !== undefined) {
      throw new ValueError(
        `${where}: nothing may follow an arguments object; put every argument in it, e.g. ${where}({ ${arg}, ... }). Received: ${show(rest)} after the object.`,
      );
    }
    return { ...(first as T) };
  }
  if (rest !== undefined && !(typeof rest === 'object' && rest !== null && !Array.isArray(rest))) {
    throw new ValueError(
      `${where}: the argument after \`${arg}\` must be an options object such as { name: 'x' }. Received: ${show(rest)}.`,
    );
  }
  const options = (rest ?? {}) as Record<string, unknown>;
  if (options[arg] !== undefined) {
    throw new ValueError(`${where}: got two values for \`${arg}\` (${show(first)} and ${show(options[arg])}); give it once.`);
  }
  return { ...options, [arg]: first } as T;
}
