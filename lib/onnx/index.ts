// Barrel for lib/onnx: running frozen tfjs models on onnxruntime-node.
export { createOnnxExecutor } from './executor';
export type { OnnxExecutor, OnnxExecutorOptions, OnnxRunOptions } from './executor';
export { onnxAvailable, onnxRuntimeInfo } from './runtime';
export { chooseOnnxProvider, providerStatuses } from './providers';
export type { OnnxProvider, ProviderChoice, ProviderStatus } from './providers';
export type { OnnxRuntimeInfo } from './runtime';
export { registerOnnxTranslator, translatableLayerClasses, Untranslatable } from './translators';
export type { Translator, TranslationContext } from './translators';
export type { UntranslatedLayer } from './translate';
