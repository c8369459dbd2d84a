// Barrel for lib/train: fit / evaluate / predict / summary and the forward-path seam.
// Importing it applies Keras' compile semantics to tfjs (./compile) and Keras' totals to tfjs'
// model.summary() (./summary-totals).
import './compile';
import './summary-totals';

export { fit } from './fit';
export type { FitOptions, FitCallback } from './fit';
export { evaluate, EvaluationResult } from './evaluate';
export type { EvaluateOptions } from './evaluate';
export { predict } from './predict';
export type { PredictOptions } from './predict';
export { summary, ModelSummary } from './summary';
export { setTrainable } from './fine-tuning';
export type { SetTrainableOptions, TrainableReport } from './fine-tuning';
export type { LayerRow, SummaryOptions } from './summary';
export { registerForwardPlanner, planForward, directPlan } from './forward';
export type { ForwardOptions, ForwardPlan, ForwardPlanner, ForwardRequest, ForwardPurpose } from './forward';
export { applyKerasCompileSemantics } from './compile';
export type { Verbosity } from './training_display';
