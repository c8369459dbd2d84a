/**
 * The forward data path of fit / evaluate / predict, as one swappable step.
 *
 * Each of them first asks for a {@link ForwardPlan}: which model to run and on which inputs.
 * By default that is the caller's model on the caller's tensors. A planner registered with
 * {@link registerForwardPlanner} can do better, e.g. (lib/features/planner.ts) compute a frozen, deterministic
 * prefix of the model once (cached features, perhaps on another engine such as onnxruntime) and
 * hand back the trainable remainder of the model with those features as its inputs:
 *
 *     fit = planForward(model, x, validation x) -> plan.model.fit(plan.x, y, ...)
 *
 * Options such as `cache` and `executor` travel untouched from the caller to the planners.
 */
import * as tf from '@tensorflow/tfjs';

/** Which of fit, evaluate or predict asks for a {@link ForwardPlan}. */
export type ForwardPurpose = 'fit' | 'evaluate' | 'predict';

/** Options of fit / evaluate / predict that concern the forward path; open for planners' own fields. */
export interface ForwardOptions {
  /** Samples per batch. Defaults to 32. */
  batchSize?: number;
  /** Frozen-prefix feature caching (lib/features): for example false, 'memory' or 'disk'. The default path ignores it. */
  cache?: unknown;
  /** Engine for frozen sub-graphs (lib/features/run.ts): for example 'tfjs' or 'onnx'. The default path ignores it. */
  executor?: unknown;
}

/** What a {@link ForwardPlanner} is asked to plan: the caller's model, inputs and options. */
export interface ForwardRequest {
  /** The function asking. */
  purpose: ForwardPurpose;
  /** The model the caller passed. */
  model: tf.LayersModel;
  /** Inputs to run: the training or evaluation or prediction images. */
  x: tf.Tensor;
  /** fit only: the validation inputs. */
  validationX?: tf.Tensor;
  /** The caller's options, passed on untouched (e.g. `cache`, `executor`). */
  options: ForwardOptions;
}

/**
 * How fit, evaluate or predict run a request: which model on which inputs (by default the caller's
 * model on the caller's tensors; a planner may substitute a trainable remainder on cached features).
 */
export interface ForwardPlan {
  /**
   * The model to run: the caller's model, or a model of its trainable part that shares its layers
   * (so training it trains the caller's model), compiled with the same optimizer, loss and metrics.
   */
  model: tf.LayersModel;
  /** Inputs for `model` (e.g. cached features of `request.x`; one tensor per input of `model`). */
  x: tf.Tensor | tf.Tensor[];
  /** Validation inputs for `model`, when the request had some. */
  validationX?: tf.Tensor | tf.Tensor[];
  /** One line on what the plan does, shown by fit/evaluate/predict (e.g. "base features cached"). */
  note?: string;
  /**
   * fit only, instead of `x`: the training batches of one epoch, made as they are consumed (e.g.
   * augmented images run through a frozen base on another engine), for labels `y`. fit then
   * trains `model` with tfjs' fitDataset.
   */
  trainingBatches?: (y: tf.Tensor, batchSize: number, shuffle: boolean) => tf.data.Dataset<tf.TensorContainer>;
  /** Frees what the plan created; never the caller's tensors or model. */
  dispose(): void;
}

/** Returns a plan, or undefined to leave the request to the next planner (and finally the default). */
export type ForwardPlanner = (request: ForwardRequest) => Promise<ForwardPlan | undefined>;

const planners: ForwardPlanner[] = [];

/** Adds a planner, tried before those registered earlier. Returns a function that removes it. */
export function registerForwardPlanner(planner: ForwardPlanner): () => void {
  planners.unshift(planner);
  return () => {
    const index = planners.indexOf(planner);
    if (index >= 0) planners.splice(index, 1);
  };
}

/** The default path: the caller's model on the caller's tensors. */
export function directPlan(request: ForwardRequest): ForwardPlan {
  return { model: request.model, x: request.x, validationX: request.validationX, dispose() {} };
}

/** The plan for one fit / evaluate / predict call. */
export async function planForward(request: ForwardRequest): Promise<ForwardPlan> {
  for (const planner of planners) {
    const plan = await planner(request);
    if (plan) return plan;
  }
  return directPlan(request);
}
