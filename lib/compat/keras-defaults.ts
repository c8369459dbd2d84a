/**
 * Keras' defaults for TensorFlow.js' own layer factories, applied once when tslab-dl is imported.
 *
 * A learner who writes `tf.layers.dense({ units: 50 })` expects Keras' `layers.Dense(50)`; two
 * defaults of tfjs-layers 4.22 differ from Keras 3 in ways that change what a model computes:
 *
 * - Kernel initialisation. Keras draws the kernels of Dense, the convolutions and the recurrent
 *   cells from glorot_uniform (keras/src/layers/core/dense.py, convolutional/base_conv.py,
 *   convolutional/base_depthwise_conv.py, rnn/simple_rnn.py, rnn/gru.py, rnn/lstm.py:
 *   `kernel_initializer="glorot_uniform"`); tfjs defaults them to glorotNormal (a truncated
 *   normal of a different shape), so a freshly built model starts elsewhere and trains differently.
 * - Flatten. Keras' Flatten accepts a (batch, features) input and passes it through
 *   (keras/src/layers/reshaping/flatten.py has no minimum rank); tfjs' Flatten declares
 *   `inputSpec = [{ minNDim: 3 }]` and rejects it, e.g. DenseNet121's pooled output in the lesson.
 *
 * How: in tfjs-layers 4.22 (dist/tf-layers.node.js, the CommonJS bundle Node loads) each of these
 * constructors *assigns* `this.DEFAULT_KERNEL_INITIALIZER = 'glorotNormal'` and then reads
 * `args.kernelInitializer || this.DEFAULT_KERNEL_INITIALIZER`. An accessor property on the class
 * prototype (the getter says 'glorotUniform', the setter ignores tfjs' assignment) therefore
 * changes only the default: an explicit `kernelInitializer` still wins, and saved models, whose
 * configs spell out their initialisers, load unchanged. Flatten gets an `inputSpec` accessor that
 * stores tfjs' spec with `minNDim: 3` relaxed to 2; nothing else about the layer changes.
 *
 * The classes are reached through instances made by the public factories (tfjs does not export
 * them), and the result is verified on fresh layers: a future tfjs that builds its layers
 * differently makes this throw, naming the version, instead of silently keeping glorotNormal.
 * Layers created before the patch keep what they were built with.
 */
import * as tf from '@tensorflow/tfjs';
import { prototypeOf as prototypeOfMade } from './prototypes';

const INSTALLED = Symbol.for('tslab-dl.kerasLayerDefaults');
/** Where the relaxed Flatten input spec is kept on each instance. */
const FLATTEN_SPEC = Symbol.for('tslab-dl.kerasFlattenInputSpec');

/** Keras' `kernel_initializer` default, in tfjs' spelling. */
const KERAS_KERNEL_INITIALIZER = 'glorotUniform';

/**
 * Probe layers get an explicit name: tfjs numbers unnamed layers per class (dense_Dense1, ...),
 * and a probe must not shift the names a learner's first layers get.
 */
const PROBE = 'tslab_dl_keras_defaults_probe';

type Prototype = Record<PropertyKey, unknown>;
type InputSpecLike = { minNDim?: number } | null;

interface InitializerLike {
  getConfig(): { [key: string]: unknown };
}

/** The fields of a tfjs layer this module reads (tfjs types them as protected). */
interface ProbedLayer {
  kernelInitializer?: InitializerLike;
  depthwiseInitializer?: InitializerLike;
  pointwiseInitializer?: InitializerLike;
  cell?: ProbedLayer;
  inputSpec?: InputSpecLike[] | null;
}

function prototypeOf(layer: unknown): Prototype {
  return prototypeOfMade<Prototype>(() => layer);
}

/** The nearest prototype shared by two layers (BaseConv for Conv2D and DepthwiseConv2D). */
function commonPrototype(a: unknown, b: unknown): Prototype {
  for (let proto = Object.getPrototypeOf(a) as object | null; proto; proto = Object.getPrototypeOf(proto)) {
    if (Object.prototype.isPrototypeOf.call(proto, b as object)) return proto as Prototype;
  }
  return Object.prototype as Prototype;
}

function failure(what: string): Error {
  return new Error(
    `tslab-dl: cannot give tfjs' layer factories Keras' defaults on tfjs-layers ${tf.version_layers} ` +
      `(tslab-dl was written for 4.22.0): ${what}. lib/compat/keras-defaults.ts needs updating for this ` +
      `tfjs version; until then pass kernelInitializer: 'glorotUniform' explicitly or use keras.layers.`,
  );
}

/** Makes `proto[key]` read `value` whatever a constructor assigns to it. */
function pinDefault(proto: Prototype, key: string, value: string): void {
  Object.defineProperty(proto, key, {
    configurable: true,
    enumerable: false,
    get: () => value,
    // tfjs' constructor assigns its own default here just before reading it: ignore it.
    set: () => undefined,
  });
}

/** The prototypes whose constructors assign DEFAULT_KERNEL_INITIALIZER = 'glorotNormal'. */
function kernelDefaultOwners(): Prototype[] {
  const base = commonPrototype(
    tf.layers.conv2d({ filters: 1, kernelSize: 1, name: PROBE }),
    tf.layers.depthwiseConv2d({ kernelSize: 1, name: PROBE }),
  );
  if (base === (tf.layers.Layer.prototype as unknown as Prototype) || base === Object.prototype) {
    throw failure('Conv2D and DepthwiseConv2D no longer share a convolution base class');
  }
  return [
    prototypeOf(tf.layers.dense({ units: 1, name: PROBE })),
    base, // Conv1D, Conv2D, Conv3D, the transposed and separable convolutions, DepthwiseConv2D
    prototypeOf(tf.layers.simpleRNNCell({ units: 1, name: PROBE })),
    prototypeOf(tf.layers.gruCell({ units: 1, name: PROBE })),
    prototypeOf(tf.layers.lstmCell({ units: 1, name: PROBE })), // and ConvLSTM2DCell, its subclass
  ];
}

function relaxFlattenSpec(spec: unknown): unknown {
  if (!Array.isArray(spec)) return spec;
  // Keras' Flatten takes rank 2 (a no-op); tfjs' call() (batchFlatten) handles it already.
  return spec.map((s: InputSpecLike) => (s && s.minNDim === 3 ? { ...s, minNDim: 2 } : s));
}

function patchFlatten(): void {
  const proto = prototypeOf(tf.layers.flatten({ name: PROBE }));
  Object.defineProperty(proto, 'inputSpec', {
    configurable: true,
    enumerable: false,
    get(this: Prototype) {
      return this[FLATTEN_SPEC] ?? null;
    },
    set(this: Prototype, value: unknown) {
      this[FLATTEN_SPEC] = relaxFlattenSpec(value);
    },
  });
}

/** glorot_uniform is VarianceScaling(scale 1, fan_avg, uniform) (keras/src/initializers/random_initializers.py). */
function isGlorotUniform(initializer: InitializerLike | undefined): boolean {
  if (!initializer || typeof initializer.getConfig !== 'function') return false;
  const { scale, mode, distribution } = initializer.getConfig();
  return scale === 1 && mode === 'fanAvg' && distribution === 'uniform';
}

/** Builds fresh layers with each factory and checks the defaults took effect. */
function verify(): void {
  const name = PROBE;
  const probes: Array<[string, () => unknown, (layer: ProbedLayer) => Array<InitializerLike | undefined>]> = [
    ['dense', () => tf.layers.dense({ units: 1, name }), (l) => [l.kernelInitializer]],
    ['conv1d', () => tf.layers.conv1d({ filters: 1, kernelSize: 1, name }), (l) => [l.kernelInitializer]],
    ['conv2d', () => tf.layers.conv2d({ filters: 1, kernelSize: 1, name }), (l) => [l.kernelInitializer]],
    ['conv3d', () => tf.layers.conv3d({ filters: 1, kernelSize: 1, name }), (l) => [l.kernelInitializer]],
    ['conv2dTranspose', () => tf.layers.conv2dTranspose({ filters: 1, kernelSize: 1, name }), (l) => [l.kernelInitializer]],
    [
      'separableConv2d',
      () => tf.layers.separableConv2d({ filters: 1, kernelSize: 1, name }),
      (l) => [l.depthwiseInitializer, l.pointwiseInitializer],
    ],
    ['depthwiseConv2d', () => tf.layers.depthwiseConv2d({ kernelSize: 1, name }), (l) => [l.depthwiseInitializer]],
    ['simpleRNN', () => tf.layers.simpleRNN({ units: 1, name }), (l) => [l.cell?.kernelInitializer]],
    ['gru', () => tf.layers.gru({ units: 1, name }), (l) => [l.cell?.kernelInitializer]],
    ['lstm', () => tf.layers.lstm({ units: 1, name }), (l) => [l.cell?.kernelInitializer]],
  ];
  for (const [factory, make, initializers] of probes) {
    if (!initializers(make() as ProbedLayer).every(isGlorotUniform)) {
      throw failure(`a fresh tf.layers.${factory}() still does not default to glorotUniform`);
    }
  }
  // The default must stay a default: an explicit initializer wins.
  const explicit = tf.layers.dense({ units: 1, kernelInitializer: 'glorotNormal', name }) as unknown as ProbedLayer;
  if (explicit.kernelInitializer?.getConfig().distribution !== 'normal') {
    throw failure("tf.layers.dense({ kernelInitializer: 'glorotNormal' }) no longer gets glorotNormal");
  }
  const flatten = tf.layers.flatten({ name }) as unknown as ProbedLayer;
  if (flatten.inputSpec?.[0]?.minNDim !== 2) {
    throw failure('a fresh tf.layers.flatten() still requires an input of rank 3 or more');
  }
}

/**
 * Makes tfjs' own factories use Keras' defaults: glorotUniform kernels for `tf.layers.dense`,
 * the convolutions and the recurrent cells, and a `tf.layers.flatten()` that accepts rank 2.
 * Idempotent; tslab-dl's entry point and `lib/keras` call it on import. Throws if this tfjs
 * version does not take the patch.
 */
export function applyKerasLayerDefaults(): void {
  const marker = prototypeOf(tf.layers.dense({ units: 1, name: PROBE }));
  if (marker[INSTALLED]) return;
  for (const proto of kernelDefaultOwners()) pinDefault(proto, 'DEFAULT_KERNEL_INITIALIZER', KERAS_KERNEL_INITIALIZER);
  patchFlatten();
  verify();
  Object.defineProperty(marker, INSTALLED, { value: true, configurable: true });
}
