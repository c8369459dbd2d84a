// Barrel for lib/applications: re-exports its public API.
export { DenseNet121, DenseNet169, DenseNet201, denseNet } from './densenet';
export type { DenseNetArgs } from './densenet';
