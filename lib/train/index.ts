// Barrel for lib/train: fit / evaluate / predict / summary and the forward-path seam. A public
// entry point: importing it installs the Keras compatibility patches (lib/compat/install.ts), so
// `fit` from here plans as `fit` from 'tslab-dl' does.
import { installKerasCompat } from '../compat/install';

installKerasCompat();

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
export { applyKerasCompileSemantics } from '../compat/keras-compile';
export type { Verbosity } from './training-display';
