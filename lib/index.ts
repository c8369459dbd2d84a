/**
 * tslab-dl: the public API. Notebooks and scripts import everything from here:
 *
 *     import { tf, loadDollarStreet, upscale, DenseNet121, buildHead, fit, plotHistory } from 'tslab-dl';
 *
 * Importing it also makes TensorFlow.js behave like Keras where the lesson depends on it
 * (`installKerasCompat()`, lib/compat/install.ts): frozen BatchNormalization runs in inference
 * mode, `compile` understands 'accuracy' for integer labels and logs Keras' names,
 * `model.summary()` ends in Keras' layout, fit / evaluate / predict compute a frozen base once,
 * also as tfjs' own model.fit / evaluate / predict, and tfjs' layer factories default like Keras'.
 * docs/keras-compatibility.md lists every difference and what handles it.
 */
import * as tf from '@tensorflow/tfjs';
import { installKerasCompat } from './compat/install';
import { installLessonHooks } from './lesson/hooks';
import { applyKerasLayerDefaults } from './compat/keras-defaults';
import { applyDilatedConvGradients } from './compat/dilated-conv-gradients';
import { applyPoolingAndResizeGradients } from './compat/pooling-and-resize-gradients';
import { applyBatchNormalizationWithoutScaleOrCenter } from './compat/batch-normalization-without-scale';
import { applyKerasCompileSemantics } from './compat/keras-compile';
import { registerWasmGradientKernels } from './backends/wasm-gradient-kernels';

installKerasCompat();
installLessonHooks();

/** TensorFlow.js (`@tensorflow/tfjs` 4.22), the library tslab-dl builds on: `tf.tensor`, `tf.model`, `tf.layers`, ... */
export { tf };
export { installKerasCompat, checkTfjsVersion, SUPPORTED_TFJS_VERSION } from './compat/install';
export type { InstallOptions, TfjsVersions } from './compat/install';
export { applyBatchNormalizationWithoutScaleOrCenter, applyKerasCompileSemantics };
export { keras } from './keras';
export type { Keras } from './keras';
export type { KerasLayer } from './keras/layers';
export { applyKerasLayerDefaults, applyDilatedConvGradients, applyPoolingAndResizeGradients, registerWasmGradientKernels };

// Backends
export {
  ready,
  backendInfo,
  backendSummary,
  setBackend,
  explainBackendError,
  withBackendErrors,
  recoverBackend,
  BACKEND_ORDER,
  BackendError,
} from './backends/selection';
export { WasmOutOfMemoryError, WASM_MEMORY_LIMIT } from './backends/wasm-memory';
export { removeStaleTemporaryFiles, STALE_AFTER_MS } from './core/stale-files';
export type { BackendInfo, BackendCandidate, BackendName, SelectionOptions } from './backends/selection';
export { doctor, diagnose, formatReport } from './doctor/doctor';
export type { DoctorReport, DoctorOptions } from './doctor/doctor';
export { checkGpu, CUDA_LIBRARIES } from './backends/cuda-libraries';
export type { GpuCheck, LibraryCheck } from './backends/cuda-libraries';

// Showing things
export { display, DisplayHandle, JUPYTER_DISPLAY, inNotebook, toMimeBundle } from './notebook/display';
export type { Displayable, MimeBundle } from './notebook/display';
export { Progress } from './notebook/progress';
export { encodePng } from './notebook/png';
export { ValueError, DataFileError, DownloadError, InterruptedError, isOffline } from './core/errors';
export type { DownloadFailure } from './core/errors';
export { networkFetch, classifyNetworkError, idleTimeoutMs, connectTimeoutMs } from './net/http';
export type { NetworkErrorKind } from './net/http';

// Data
export * from './data';
export { downloadFile, md5File } from './net/download';
export type { DownloadOptions, DownloadResult } from './net/download';
export { lessonSettings } from './lesson/settings';
export { lessonMode, whereItRuns, decideWhereItRuns } from './lesson/mode';
export type { LessonModeOptions } from './lesson/mode';
export { inLessonMode } from './settings/lesson-environment';
export { recordResult, compareResults, readResults, resultsFolder } from './lesson/results';
export type { ResultRecord, ResultRow, RecordExtra } from './lesson/results';
export { denseNet121StandInWeights, standInWeights } from './lesson/stand-in-weights';
export type { StandInModel, StandInOptions } from './lesson/stand-in-weights';
export type { LessonOptions, LessonSettings } from './lesson/settings';

// Models
/**
 * The pre-trained networks under Keras' names, as `keras.applications` has them: the builders
 * ({@link DenseNet121}, {@link ResNet50}, {@link MobileNetV2}, ...) and each family's module with
 * its `preprocessInput`, e.g. `applications.resnet50.preprocessInput(x)`. The builders are also
 * exported at the top level.
 */
export * as applications from './applications';
export * from './applications';
export { upscale, Upscale, resizeWithPadGeometry } from './layers/upscale';
export type { UpscaleArgs, UpscaleMethod, ResizeWithPadGeometry } from './layers/upscale';
export { flatten, Flatten } from './layers/flatten';
export {
  RandomFlip,
  RandomRotation,
  RandomZoom,
  RandomTranslation,
  RandomContrast,
  randomFlip,
  randomRotation,
  randomZoom,
  randomTranslation,
  randomContrast,
  ImageAugmentationLayer,
  projectiveTransform,
  AUGMENTATION_LAYERS,
} from './layers/augmentation';
export type {
  RandomFlipArgs,
  RandomRotationArgs,
  RandomZoomArgs,
  RandomTranslationArgs,
  RandomContrastArgs,
  FlipMode,
  FillMode,
  Interpolation,
  Factor,
  AugmentationArgs,
  ImageDataFormat,
  ProjectiveTransform,
} from './layers/augmentation';
export { dense } from './layers/dense';
export { Rescaling, rescaling, Normalization, normalization } from './layers';
export { buildHead } from './train/head';
export type { HeadArgs } from './train/head';
export { loadWeightsH5, saveWeightsH5, readWeightsH5 } from './weights/h5';
export type { H5LoadReport, H5WeightsFile } from './weights/h5';
export { getWeightsFile, kerasCacheDir, tslabCacheDir, weightsUrl } from './weights/imagenet';
export type { WeightsFileSpec, WeightsFileOptions } from './weights/imagenet';
export { saveModel, loadModel } from './weights/model-files';
export type { SaveModelOptions } from './weights/model-files';
export { isFrozen } from './layers/frozen';

// Training
export { sparseCategoricalCrossentropy } from './train/losses';
export { sparseCategoricalAccuracy, categoricalAccuracy, binaryAccuracy, kerasAccuracy } from './train/metrics';
export { earlyStopping, EarlyStopping } from './train/callbacks';
export type { EarlyStoppingArgs } from './train/callbacks';
export { setRandomSeed, randomSeed } from './core/random';
export * from './train';
export { tfjsFit, tfjsEvaluate, tfjsPredict } from './train/tfjs-methods';
export { confusionMatrix, ConfusionMatrix } from './train/confusion';
export * from './plot';

// The model-swap challenge
export { compareModels, comparisonChartSvg, ModelComparison, COMPARABLE_MODELS } from './lesson/compare-models';
export type {
  CompareOptions,
  ComparisonData,
  ComparisonRow,
  ComparisonSetup,
  ModelSpec,
  BaseBuilder,
  Preprocess,
} from './lesson/compare-models';

// Notebooks as scripts
export { exportNotebook, importScript } from './export';
export type { ExportOptions, ImportOptions, Notebook, NotebookCell } from './export';

// Speed: the frozen base computed once, on the fastest engine
export { splitFrozenPrefix } from './features/split';
export { frozenFeatures, featureStats } from './features/extract';
export type { FeatureCacheMode, FeatureOptions, Features } from './features/extract';
export type { Executor } from './features/run';
export { clearFeatureMemory, featureCacheFolder } from './features/cache';

// Workshops: the shared, read-only cache an instructor fills once (`npx tslab-dl prefetch`)
export { prefetch, PREFETCH_APPLICATIONS } from './lesson/prefetch';
export type { PrefetchOptions, PrefetchResult } from './lesson/prefetch';
export { sharedCacheRoot, DEFAULT_SHARED_CACHE } from './core/cache-root';
export { sharedCacheStats, readSharedManifest } from './core/shared-cache';
export type { SharedManifest, SharedManifestFile } from './core/shared-cache';
export {
  createOnnxSession,
  createOnnxExecutor,
  onnxAvailable,
  onnxRuntimeInfo,
  onnxSessionStats,
  releaseOnnxSessions,
  setOnnxSessionCacheLimits,
  onnxSessionCacheLimits,
  registerOnnxTranslator,
  translatableLayerClasses,
  Untranslatable,
} from './onnx';
export type {
  OnnxSession,
  OnnxSessionOptions,
  OnnxExecutor,
  OnnxExecutorOptions,
  OnnxRunOptions,
  OnnxRuntimeInfo,
  OnnxSessionCacheLimits,
  Translator,
  TranslationContext,
  UntranslatedLayer,
} from './onnx';
