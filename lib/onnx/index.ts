// Barrel for lib/onnx: running frozen tfjs models on onnxruntime-node.
export { createOnnxSession } from './session';
/** @deprecated Former name of {@link createOnnxSession}. */
export { createOnnxSession as createOnnxExecutor } from './session';
export type { OnnxSession, OnnxSessionOptions, OnnxRunOptions } from './session';
/** @deprecated Former names of {@link OnnxSession} and {@link OnnxSessionOptions}. */
export type { OnnxSession as OnnxExecutor, OnnxSessionOptions as OnnxExecutorOptions } from './session';
export { onnxAvailable, onnxRuntimeInfo } from './runtime';
export { onnxSessionStats, releaseOnnxSessions, setOnnxSessionCacheLimits, onnxSessionCacheLimits } from './session-cache';
export type { OnnxSessionCacheLimits } from './session-cache';
export { chooseOnnxProvider, providerStatuses } from './providers';
export type { OnnxProvider, ProviderChoice, ProviderStatus } from './providers';
export type { OnnxRuntimeInfo } from './runtime';
export { registerOnnxTranslator, translatableLayerClasses, Untranslatable } from './translators';
export type { Translator, TranslationContext } from './translators';
export type { UntranslatedLayer } from './translate';
