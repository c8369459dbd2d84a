/**
 * Helpers shared by the Keras applications, ported from keras/applications/imagenet_utils.py
 * (obtain_input_shape, validate_activation) and keras/utils/layer_utils.py (get_source_inputs),
 * with Keras' checks and messages (argument names in camelCase).
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { isOffline, ValueError } from '../errors';
import { inLessonMode } from '../lesson/environment';
import { loadWeightsH5 } from '../weights/h5';
import { getWeightsFile, WeightsFileOptions, WeightsFileSpec } from '../weights/imagenet';

/** An image shape without the batch axis, [height, width, channels]; null for "any size". */
export type ImageShape = (number | null)[];

/** `weights` as the applications accept it: 'imagenet', null (random), or a file path. */
export type WeightsArg = 'imagenet' | null | string;

function show(shape: readonly (number | null)[] | undefined): string {
  return shape === undefined ? 'undefined' : `[${shape.map((d) => (d === null ? 'null' : String(d))).join(', ')}]`;
}

function sameShape(a: readonly (number | null)[], b: readonly (number | null)[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Keras' obtain_input_shape (channels-last): the model's input shape, from the user's
 * `inputShape` or the default, after Keras' checks.
 *
 * @param inputShape the user's shape, or undefined for the default.
 * @param defaultSize the model's default height and width (224 for DenseNet).
 * @param minSize the smallest accepted height and width (32 for DenseNet).
 * @param requireFlatten whether the classification top is included (needs a static shape).
 */
export function obtainInputShape(
  inputShape: ImageShape | undefined,
  defaultSize: number,
  minSize: number,
  requireFlatten: boolean,
  weights: WeightsArg,
): ImageShape {
  let defaultShape: ImageShape;
  if (weights !== 'imagenet' && inputShape && inputShape.length === 3) {
    const channels = inputShape[2];
    if (channels !== 1 && channels !== 3) {
      process.stderr.write(
        `Warning: This model usually expects 1 or 3 input channels. However, it was passed an inputShape with ${channels} input channels.\n`,
      );
    }
    defaultShape = [defaultSize, defaultSize, channels];
  } else {
    defaultShape = [defaultSize, defaultSize, 3];
  }
  if (weights === 'imagenet' && requireFlatten) {
    if (inputShape !== undefined && !sameShape(inputShape, defaultShape)) {
      throw new ValueError(
        `When setting \`includeTop: true\` and loading \`imagenet\` weights, \`inputShape\` should be ${show(defaultShape)}. ` +
          `Received: inputShape=${show(inputShape)}. Pass includeTop: false to use another size.`,
      );
    }
    return defaultShape;
  }
  let shape: ImageShape;
  if (inputShape && inputShape.length > 0) {
    if (inputShape.length !== 3) {
      throw new ValueError(`\`inputShape\` must be an array of three integers [height, width, channels]. Received: inputShape=${show(inputShape)}.`);
    }
    if (inputShape.some((d) => d !== null && !(Number.isInteger(d) && d > 0))) {
      throw new ValueError(`\`inputShape\` entries must be positive integers (or null for any size). Received: inputShape=${show(inputShape)}.`);
    }
    if (inputShape[2] !== 3 && weights === 'imagenet') {
      throw new ValueError(`The input must have 3 channels; Received \`inputShape=${show(inputShape)}\`.`);
    }
    if ((inputShape[0] !== null && inputShape[0] < minSize) || (inputShape[1] !== null && inputShape[1] < minSize)) {
      throw new ValueError(`Input size must be at least ${minSize}x${minSize}; Received: inputShape=${show(inputShape)}.`);
    }
    shape = [...inputShape];
  } else {
    shape = requireFlatten ? defaultShape : [null, null, 3];
  }
  if (requireFlatten && shape.includes(null)) {
    throw new ValueError(`If \`includeTop\` is true, you should specify a static \`inputShape\`. Received: inputShape=${show(shape)}.`);
  }
  return shape;
}

/** Keras' validate_activation: pre-trained tops only take softmax or no activation. */
export function validateActivation(classifierActivation: string | null, weights: WeightsArg): void {
  if (weights === null) return;
  if (classifierActivation !== null && classifierActivation !== 'softmax' && classifierActivation !== 'linear') {
    throw new ValueError(
      'Only `null` and `softmax` activations are allowed for the `classifierActivation` argument when using ' +
        `pretrained weights, with \`includeTop: true\`; Received: classifierActivation=${JSON.stringify(classifierActivation)}.`,
    );
  }
}

/** The parts of a tfjs graph node that get_source_inputs walks. */
interface GraphNode {
  inboundLayers: unknown[];
  inputTensors: tf.SymbolicTensor[];
}

/**
 * Keras' get_source_inputs: the `tf.input()` tensors a symbolic tensor was computed from, so that
 * a model built on `inputTensor` takes the original inputs (e.g. before an upscale layer).
 */
export function getSourceInputs(tensor: tf.SymbolicTensor): tf.SymbolicTensor[] {
  const sources: tf.SymbolicTensor[] = [];
  const seen = new Set<tf.SymbolicTensor>();
  const visit = (t: tf.SymbolicTensor): void => {
    if (seen.has(t)) return;
    seen.add(t);
    const node = (t.sourceLayer?.inboundNodes as unknown as GraphNode[] | undefined)?.[t.nodeIndex];
    if (!node || node.inboundLayers.length === 0) {
      if (!sources.includes(t)) sources.push(t);
      return;
    }
    node.inputTensors.forEach(visit);
  };
  visit(tensor);
  return sources;
}

/**
 * Keras' imagenet_utils.preprocess_input modes, plus 'none' for the models that do their own
 * preprocessing (EfficientNet):
 * - 'caffe': RGB -> BGR, then subtract the ImageNet mean pixel [103.939, 116.779, 123.68] (BGR); no scaling. Input 0..255.
 * - 'tf': x / 127.5 - 1, from 0..255 to -1..1.
 * - 'torch': x / 255, then per channel (x - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]. Input 0..255.
 * - 'none': the input, unchanged.
 */
export type PreprocessMode = 'caffe' | 'tf' | 'torch' | 'none';
const PREPROCESS_MODES: readonly PreprocessMode[] = ['caffe', 'tf', 'torch', 'none'];

const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68];
const TORCH_MEAN = [0.485, 0.456, 0.406];
const TORCH_STD = [0.229, 0.224, 0.225];

/**
 * Keras' `imagenet_utils.preprocess_input(x, mode=...)` for channels-last images (any rank, the
 * last axis the 3 colour channels RGB), with the same float32 operations in the same order, so
 * the result is what Keras computes for float input. Integer input is cast to float32 first, as
 * Keras casts it to floatx. Returns a new tensor (for 'none': `x` itself when it is a float32
 * tensor); the caller disposes it.
 */
export function preprocessImagenetInput(x: tf.Tensor | tf.TensorLike, mode: PreprocessMode): tf.Tensor {
  if (!PREPROCESS_MODES.includes(mode)) {
    throw new ValueError(`Expected \`mode\` to be one of 'caffe', 'tf', 'torch' or 'none'. Received: mode=${JSON.stringify(mode)}.`);
  }
  const input = x instanceof tf.Tensor ? x : tf.tensor(x);
  if (mode === 'none' && input.dtype === 'float32') return input;
  return tf.tidy(() => {
    const images = input.dtype === 'float32' ? input : tf.cast(input, 'float32');
    if (mode === 'none') return images;
    if (mode === 'tf') return tf.sub(tf.div(images, 127.5), 1);
    const channels = images.shape[images.rank - 1];
    if (images.rank < 1 || channels !== 3) {
      throw new ValueError(
        `preprocessInput (mode '${mode}') expects channels-last RGB images, the last axis of size 3. ` +
          `Received a tensor of shape [${images.shape.join(', ')}].`,
      );
    }
    if (mode === 'torch') {
      // Keras: x /= 255, then x[..., c] -= mean[c], then x[..., c] /= std[c] (float32 throughout).
      return tf.div(tf.sub(tf.div(images, 255), tf.tensor1d(TORCH_MEAN)), tf.tensor1d(TORCH_STD));
    }
    // caffe: x[..., ::-1] (RGB -> BGR), then x[..., c] -= mean[c].
    return tf.sub(tf.reverse(images, -1), tf.tensor1d(CAFFE_MEAN_BGR));
  });
}

/**
 * Keras' imagenet_utils.correct_pad (channels-last): the zero padding [[top, bottom], [left,
 * right]] that makes a 'valid' convolution with stride 2 behave like TF's 'same' padding on an
 * even-sized input: one row and column fewer before than after. An unknown size counts as even.
 */
export function correctPad(input: tf.SymbolicTensor, kernelSize: number | [number, number]): [[number, number], [number, number]] {
  const [kh, kw] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
  const height = input.shape[1];
  const width = input.shape[2];
  const adjust = height === null ? [1, 1] : [1 - (height % 2), 1 - ((width as number) % 2)];
  const correct = [Math.floor(kh / 2), Math.floor(kw / 2)];
  return [
    [correct[0] - adjust[0], correct[0]],
    [correct[1] - adjust[1], correct[1]],
  ];
}

// ---------------------------------------------------------------------------------------------
// The skeleton every application builder shares (Keras' applications repeat it in each file):
// arguments with Keras' defaults and checks, the image input, the model on the caller's
// inputs, and the weights ('imagenet' through the caches, or a file) loaded all-or-nothing.

/** The constructor arguments of every Keras application, in camelCase. */
export interface ApplicationArgs {
  /** Whether to include the classification top. Defaults to true. */
  includeTop?: boolean;
  /**
   * 'imagenet' (pre-trained on ImageNet: Keras' file, from Keras' cache, tslab-dl's cache or a
   * download), null (random initialisation), or the path of a Keras .h5 weights file.
   * Defaults to 'imagenet'.
   */
  weights?: WeightsArg;
  /**
   * A symbolic tensor to use as the image input (e.g. the output of an upscale layer). The
   * returned model then takes the `tf.input()` that tensor came from. Defaults to a new input.
   */
  inputTensor?: tf.SymbolicTensor;
  /**
   * [height, width, channels], only to be given with `includeTop: false` (otherwise it must be
   * the model's default size); 3 channels, height and width at least the model's minimum.
   * Defaults to the model's default size with the top and [null, null, 3] without.
   */
  inputShape?: ImageShape;
  /**
   * Pooling of the last feature map when `includeTop` is false: 'avg' (GlobalAveragePooling2D),
   * 'max' (GlobalMaxPooling2D), or undefined/null for the 4D feature map. Defaults to undefined.
   */
  pooling?: 'avg' | 'max' | null;
  /** Number of classes of the top, only with `includeTop` and no pre-trained weights. Defaults to 1000. */
  classes?: number;
  /** Activation of the top layer: 'softmax', or null for logits. Defaults to 'softmax'. */
  classifierActivation?: string | null;
  /** Where to find or download 'imagenet' weights (cache folders, a mirror). Defaults to Keras' and tslab-dl's caches and the official URL. */
  weightsOptions?: WeightsFileOptions;
  /**
   * What `weights: 'imagenet'` does when the file is not cached and the network cannot be reached:
   * 'error' (Keras' behaviour) or 'stand-in' (random kernels with BatchNormalization statistics
   * calibrated on `standInImages`, announced loudly; without the top only). A corrupt or
   * mismatching download is an error either way. Defaults to 'error', and to 'stand-in' in the
   * lesson notebook (`lessonMode()`).
   */
  weightsFallback?: 'error' | 'stand-in';
  /** Images the stand-in is calibrated on, scaled as the model sees them. Defaults to the lesson's training images / 255. */
  standInImages?: tf.Tensor;
}

/** {@link ApplicationArgs} after Keras' defaults and checks, with the model's input shape. */
export interface ResolvedApplicationArgs extends ApplicationArgs {
  includeTop: boolean;
  weights: WeightsArg;
  classes: number;
  classifierActivation: string | null;
  /** What obtainInputShape decided (the shape of a new input; `inputTensor` keeps its own). */
  inputShape: ImageShape;
}

function checkApplicationArgs(args: ResolvedApplicationArgs): void {
  const weights = args.weights;
  if (!(weights === 'imagenet' || weights === null || (typeof weights === 'string' && fs.existsSync(weights)))) {
    throw new ValueError(
      'The `weights` argument should be either `null` (random initialization), `imagenet` (pre-training on ImageNet), ' +
        `or the path to the weights file to be loaded. Received: weights=${JSON.stringify(weights)}` +
        (typeof weights === 'string' ? ` (no file exists at that path, relative to ${process.cwd()}).` : '.'),
    );
  }
  if (weights === 'imagenet' && args.includeTop && args.classes !== 1000) {
    throw new ValueError(`If using \`weights: 'imagenet'\` with \`includeTop\` as true, \`classes\` should be 1000. Received: classes=${args.classes}.`);
  }
  if (args.weightsFallback !== undefined && args.weightsFallback !== 'error' && args.weightsFallback !== 'stand-in') {
    throw new ValueError(`\`weightsFallback\` should be 'error' or 'stand-in'. Received: weightsFallback=${JSON.stringify(args.weightsFallback)}.`);
  }
  if (args.pooling != null && args.pooling !== 'avg' && args.pooling !== 'max') {
    throw new ValueError(`\`pooling\` should be 'avg', 'max' or undefined. Received: pooling=${JSON.stringify(args.pooling)}.`);
  }
  if (!Number.isInteger(args.classes) || args.classes < 1) {
    throw new ValueError(`\`classes\` should be a positive integer. Received: classes=${JSON.stringify(args.classes)}.`);
  }
  const input = args.inputTensor;
  if (input !== undefined && !(input instanceof tf.SymbolicTensor)) {
    throw new ValueError(
      '`inputTensor` should be a symbolic tensor, the output of `tf.input()` or of a layer applied to one ' +
        `(e.g. \`upscale({height: 160, width: 160}).apply(inputs)\`). Received: ${input === null ? 'null' : (input as object).constructor?.name ?? typeof input}.`,
    );
  }
}

function checkApplicationInputTensor(input: tf.SymbolicTensor, inputShape: ImageShape | undefined, minSize: number): void {
  const shape = input.shape;
  if (shape.length !== 4) {
    throw new ValueError(`\`inputTensor\` should be a batch of images [batch, height, width, channels]. Received a tensor of shape [${shape.join(', ')}].`);
  }
  if (inputShape !== undefined) {
    const mismatch = inputShape.some((d, i) => d !== null && shape[i + 1] !== null && shape[i + 1] !== d);
    if (mismatch) {
      throw new ValueError(
        `\`inputTensor\` has shape [${shape.slice(1).join(', ')}] per image but \`inputShape\` is [${inputShape.join(', ')}]: ` +
          'they must agree (or leave out inputShape).',
      );
    }
  }
  // Keras checks only `inputShape`; a smaller inputTensor would fail later with a shape error deep inside the network.
  const [height, width] = [shape[1], shape[2]];
  if ((height !== null && height < minSize) || (width !== null && width < minSize)) {
    throw new ValueError(
      `Input size must be at least ${minSize}x${minSize}; Received: \`inputTensor\` of shape [${shape.slice(1).join(', ')}] per image. ` +
        `Upscale the images first, e.g. \`upscale({height: 160, width: 160}).apply(inputs)\`.`,
    );
  }
}

/**
 * Keras' defaults and argument checks for an application (the `weights` check, 'imagenet' with
 * the top needs 1000 classes, pooling, obtain_input_shape, validate_activation, the input tensor).
 *
 * @param defaultSize the model's default height and width (224, or 299 for InceptionV3 and Xception).
 * @param minSize the smallest accepted height and width (32, 75 for InceptionV3, 71 for Xception).
 */
export function resolveApplicationArgs(options: ApplicationArgs, defaultSize: number, minSize: number): ResolvedApplicationArgs {
  // An explicit `undefined` also means the default.
  const args = {
    ...options,
    includeTop: options.includeTop ?? true,
    weights: options.weights === undefined ? 'imagenet' : options.weights,
    classes: options.classes ?? 1000,
    classifierActivation: options.classifierActivation === undefined ? 'softmax' : options.classifierActivation,
    inputShape: [] as ImageShape,
  };
  checkApplicationArgs(args);
  args.inputShape = obtainInputShape(options.inputShape, defaultSize, minSize, args.includeTop, args.weights);
  if (args.includeTop) validateActivation(args.classifierActivation, args.weights);
  if (args.inputTensor) checkApplicationInputTensor(args.inputTensor, options.inputShape, minSize);
  return args;
}

/** The image input of the network: the caller's `inputTensor`, or a new `tf.input()`. */
export function applicationInput(args: ResolvedApplicationArgs): tf.SymbolicTensor {
  return args.inputTensor ?? tf.input({ shape: args.inputShape });
}

/** The model from the original inputs (Keras' get_source_inputs when `inputTensor` is given) to `outputs`. */
export function applicationModel(args: ResolvedApplicationArgs, imgInput: tf.SymbolicTensor, outputs: tf.SymbolicTensor, name: string): tf.LayersModel {
  const inputs = args.inputTensor ? getSourceInputs(args.inputTensor) : imgInput;
  return tf.model({ inputs, outputs, name });
}

/** An application's official weight files (Keras' URLs and md5), with and without the top. */
export interface ApplicationWeightFiles {
  /** e.g. 'ResNet50', for messages. */
  model: string;
  /** md5 as Keras checks it; undefined where Keras publishes none (MobileNetV2). */
  top: { url: string; md5?: string };
  notop: { url: string; md5?: string };
}

/** Whether `layer` produced (part of) the caller's `inputTensor`, so it is not ours to dispose. */
function isCallerLayer(layer: tf.layers.Layer, inputTensor: tf.SymbolicTensor | undefined): boolean {
  if (!inputTensor) return false;
  const upstream = new Set<tf.layers.Layer>();
  const visit = (t: tf.SymbolicTensor): void => {
    if (upstream.has(t.sourceLayer as tf.layers.Layer)) return;
    upstream.add(t.sourceLayer as tf.layers.Layer);
    const node = (t.sourceLayer.inboundNodes as unknown as { inputTensors: tf.SymbolicTensor[] }[])[t.nodeIndex];
    node?.inputTensors.filter((u) => u !== t).forEach(visit);
  };
  visit(inputTensor);
  return upstream.has(layer);
}

/**
 * Loads the weights `args.weights` asks for into a freshly built application: the official file
 * for 'imagenet' (top or no top, through Keras' cache, tslab-dl's cache or a verified download),
 * or the given .h5 file. On failure the variables of the layers built for the model are freed
 * (not those of the caller's layers before `inputTensor`) and the error is rethrown.
 */
export async function loadApplicationWeights(model: tf.LayersModel, args: ResolvedApplicationArgs, files: ApplicationWeightFiles): Promise<void> {
  try {
    if (args.weights === 'imagenet') {
      const file = await imagenetWeightsFile(model, args, files);
      if (file !== null) await loadWeightsH5(model, file);
    } else if (args.weights !== null) {
      await loadWeightsH5(model, args.weights);
    }
  } catch (e) {
    for (const layer of model.layers) {
      if (layer.weights.length > 0 && !isCallerLayer(layer, args.inputTensor)) layer.weights.forEach((w) => w.dispose());
    }
    throw e;
  }
}

/**
 * The file for `weights: 'imagenet'`: Keras' official one (caches, then a verified download); in
 * the lesson notebook, what TSLAB_DL_WEIGHTS puts in its place; offline with the fallback asked
 * for, stand-in weights. null: keep the random initialisation (TSLAB_DL_WEIGHTS=none).
 */
async function imagenetWeightsFile(model: tf.LayersModel, args: ResolvedApplicationArgs, files: ApplicationWeightFiles): Promise<string | null> {
  const { url, md5 } = args.includeTop ? files.top : files.notop;
  const fileName = url.slice(url.lastIndexOf('/') + 1);
  const spec: WeightsFileSpec = { fileName, url, md5, description: `${files.model} ImageNet weights${args.includeTop ? '' : ' (no top)'}` };
  // Required, not imported above: lib/lesson/weights.ts builds applications itself.
  const lesson = require('../lesson/weights') as typeof import('../lesson/weights');
  // The network's own input (the upscaled images, for the lesson), not the model's first input.
  const size = Number((args.inputTensor ? args.inputTensor.shape[1] : args.inputShape[0]) ?? 224);
  const standIn = (why: string) => lesson.standInForImagenet(files.model.split(' ')[0], size, why, { url, fileName }, args.standInImages);
  const override = lesson.lessonWeightsOverride();
  if (override === 'stand-in' && !args.includeTop) return standIn('TSLAB_DL_WEIGHTS=stand-in asks for stand-in weights instead of ImageNet\'s.');
  if (override !== undefined && override !== 'stand-in') {
    console.log(`weights: 'imagenet' -> ${override === null ? 'random initialisation' : override} (TSLAB_DL_WEIGHTS).`);
    return override;
  }
  try {
    return await getWeightsFile(spec, args.weightsOptions);
  } catch (e) {
    const fallback = args.weightsFallback ?? (inLessonMode() ? 'stand-in' : 'error');
    if (!isOffline(e) || fallback !== 'stand-in' || args.includeTop) throw e;
    return standIn(`the ImageNet weights of ${files.model} are not cached and cannot be downloaded: ${(e as Error).message.split('. ')[0]}.`);
  }
}

/** Names of the global pooling layers: Keras' 'avg_pool' / 'max_pool', or what it auto-names unnamed ones. */
export interface PoolingNames {
  avg: string;
  max: string;
}

export const NAMED_POOLING: PoolingNames = { avg: 'avg_pool', max: 'max_pool' };
/** The names a fresh Keras session gives unnamed GlobalAverage/MaxPooling2D layers (MobileNetV2, VGG16). */
export const UNNAMED_POOLING: PoolingNames = { avg: 'global_average_pooling2d', max: 'global_max_pooling2d' };

/** GlobalAveragePooling2D or GlobalMaxPooling2D over the last feature map. */
export function globalPooling(x: tf.SymbolicTensor, pooling: 'avg' | 'max', names: PoolingNames = NAMED_POOLING): tf.SymbolicTensor {
  const layer = pooling === 'avg' ? tf.layers.globalAveragePooling2d({ name: names.avg }) : tf.layers.globalMaxPooling2d({ name: names.max });
  return layer.apply(x) as tf.SymbolicTensor;
}

/** Keras' classifier of an application: Dense(classes, classifierActivation) named 'predictions'. */
export function predictions(
  x: tf.SymbolicTensor,
  args: ResolvedApplicationArgs,
  kernelInitializer: Parameters<typeof tf.layers.dense>[0]['kernelInitializer'] = 'glorotUniform',
): tf.SymbolicTensor {
  return tf.layers.dense({
    units: args.classes, activation: (args.classifierActivation ?? 'linear') as 'softmax', kernelInitializer, name: 'predictions',
  }).apply(x) as tf.SymbolicTensor;
}
