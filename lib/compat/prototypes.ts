/**
 * Where the compat patches find tfjs' classes. tfjs-layers exports factories (tf.layers.x(...))
 * but not most layer classes, so a class is reached through an instance's constructor; and an
 * accessor such as LayersModel's `trainable` is defined on an ancestor (Container), found by
 * walking the prototype chain. One lookup, for every patch in lib/compat.
 */
import * as tf from '@tensorflow/tfjs';

/** The prototype of the class `make()` instantiates (the tfjs-layers copy tslab-dl uses). */
export function prototypeOf<T>(make: () => unknown): T {
  return Object.getPrototypeOf(make()) as T;
}

/** BatchNormalization's prototype. */
export function batchNormalizationPrototype<T>(): T {
  return prototypeOf<T>(() => tf.layers.batchNormalization({}));
}

/** tf.LayersModel's prototype (also tf.Sequential's and every functional model's). */
export function layersModelPrototype<T>(): T {
  return tf.LayersModel.prototype as unknown as T;
}

/**
 * The object on `start`'s prototype chain that defines `name` itself, with its descriptor; throws
 * naming `what` (the patch) when there is none, i.e. tfjs changed.
 */
export function ownerOf(start: object, name: string, what: string): { owner: object; descriptor: PropertyDescriptor } {
  for (let owner: object | null = start; owner; owner = Object.getPrototypeOf(owner)) {
    const descriptor = Object.getOwnPropertyDescriptor(owner, name);
    if (descriptor) return { owner, descriptor };
  }
  throw new Error(`tslab-dl: cannot find \`${name}\` in tfjs' classes; ${what} needs updating for this TensorFlow.js version.`);
}
