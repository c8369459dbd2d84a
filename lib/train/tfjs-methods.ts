/**
 * tfjs' own `LayersModel.fit`, `evaluate` and `predict`, as they were before tslab-dl patched them
 * (lib/compat/model-methods.ts).
 *
 * The library trains the head of a split model with tfjs' fit and runs it with tfjs' predict;
 * those calls must reach tfjs itself, not the patched methods, or the head (whose first layer,
 * Flatten, has nothing to train) would be planned again.
 */
import * as tf from '@tensorflow/tfjs';

/** The methods kept, on the prototype, once per process even if tslab-dl is loaded twice. */
const ORIGINALS = Symbol.for('tslab-dl.tfjsModelMethods');

export interface TfjsModelMethods {
  fit(this: tf.LayersModel, x: unknown, y: unknown, args?: tf.ModelFitArgs): Promise<tf.History>;
  evaluate(this: tf.LayersModel, x: unknown, y: unknown, args?: tf.ModelEvaluateArgs): tf.Scalar | tf.Scalar[];
  predict(this: tf.LayersModel, x: unknown, args?: tf.ModelPredictConfig): tf.Tensor | tf.Tensor[];
}

type Prototype = TfjsModelMethods & { [ORIGINALS]?: TfjsModelMethods };

function prototype(): Prototype {
  return tf.LayersModel.prototype as unknown as Prototype;
}

/** Keeps the current methods as the originals (once: a second call keeps the first ones). */
export function keepTfjsModelMethods(): TfjsModelMethods {
  const proto = prototype();
  if (!proto[ORIGINALS]) {
    Object.defineProperty(proto, ORIGINALS, {
      value: { fit: proto.fit, evaluate: proto.evaluate, predict: proto.predict },
      enumerable: false,
    });
  }
  return proto[ORIGINALS]!;
}

/** tfjs' own method `name`, whether or not the patch is installed. */
export function tfjsMethod<K extends keyof TfjsModelMethods>(name: K): TfjsModelMethods[K] {
  return (prototype()[ORIGINALS] ?? prototype())[name];
}

/**
 * The LayersModel that runs `model`: a tf.Sequential keeps one inside and hands fit / evaluate /
 * predict to it (tfjs-layers models.ts), building it first where tfjs does.
 */
function runner(model: tf.LayersModel, buildIfNeeded: boolean): tf.LayersModel {
  if (!(model instanceof tf.Sequential)) return model;
  const sequential = model as unknown as { model?: tf.LayersModel; built: boolean; build(): void };
  if (!sequential.model && buildIfNeeded) sequential.build();
  if (!sequential.model) throw new Error('The model needs to be compiled before being used.');
  return sequential.model;
}

/** `model.fit(x, y, args)` as tfjs does it. */
export function tfjsFit(
  model: tf.LayersModel,
  x: tf.Tensor | tf.Tensor[],
  y: tf.Tensor | tf.Tensor[],
  args: tf.ModelFitArgs,
): Promise<tf.History> {
  return tfjsMethod('fit').call(runner(model, false), x, y, args);
}

/** `model.predict(x, args)` as tfjs does it. */
export function tfjsPredict(model: tf.LayersModel, x: tf.Tensor | tf.Tensor[], args: tf.ModelPredictConfig = {}): tf.Tensor | tf.Tensor[] {
  return tfjsMethod('predict').call(runner(model, true), x, args);
}

/** `model.evaluate(x, y, args)` as tfjs does it. */
export function tfjsEvaluate(
  model: tf.LayersModel,
  x: tf.Tensor | tf.Tensor[],
  y: tf.Tensor | tf.Tensor[],
  args: tf.ModelEvaluateArgs = {},
): tf.Scalar | tf.Scalar[] {
  return tfjsMethod('evaluate').call(runner(model, false), x, y, args);
}
