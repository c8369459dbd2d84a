/**
 * The steps every application builder shares (Keras' applications repeat them in each of
 * keras/src/applications/*.py): the arguments with Keras' defaults and checks, the image input,
 * the model on the caller's original inputs, the weights ('imagenet' through the caches, or a
 * file) loaded all-or-nothing, and the pooling and classifier of the top. Keras' own
 * imagenet_utils (obtain_input_shape, validate_activation, preprocess_input, correct_pad) is in
 * ./imagenet_utils.ts.
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { isOffline, ValueError } from '../core/errors';
import { getSourceInputs, upstreamLayers } from '../graph/upstream';
import { inLessonMode, lessonHooks } from '../settings/lesson-environment';
import { loadWeightsH5 } from '../weights/h5';
import { getWeightsFile, WeightsFileOptions, WeightsFileSpec } from '../weights/imagenet';
import { ImageShape, obtainInputShape, validateActivation, WeightsArg } from './imagenet-utils';

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
    throw new ValueError(
      `If using \`weights: 'imagenet'\` with \`includeTop\` as true, \`classes\` should be 1000. Received: classes=${args.classes}.`,
    );
  }
  if (args.weightsFallback !== undefined && args.weightsFallback !== 'error' && args.weightsFallback !== 'stand-in') {
    throw new ValueError(
      `\`weightsFallback\` should be 'error' or 'stand-in'. Received: weightsFallback=${JSON.stringify(args.weightsFallback)}.`,
    );
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
        `(e.g. \`upscale({height: 160, width: 160}).apply(inputs)\`). Received: ${input === null ? 'null' : ((input as object).constructor?.name ?? typeof input)}.`,
    );
  }
}

function checkApplicationInputTensor(input: tf.SymbolicTensor, inputShape: ImageShape | undefined, minSize: number): void {
  const shape = input.shape;
  if (shape.length !== 4) {
    throw new ValueError(
      `\`inputTensor\` should be a batch of images [batch, height, width, channels]. Received a tensor of shape [${shape.join(', ')}].`,
    );
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
export function applicationModel(
  args: ResolvedApplicationArgs,
  imgInput: tf.SymbolicTensor,
  outputs: tf.SymbolicTensor,
  name: string,
): tf.LayersModel {
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
  return upstreamLayers(inputTensor).has(layer);
}

/**
 * Loads the weights `args.weights` asks for into a freshly built application: the official file
 * for 'imagenet' (top or no top, through Keras' cache, tslab-dl's cache or a verified download),
 * or the given .h5 file. On failure the variables of the layers built for the model are freed
 * (not those of the caller's layers before `inputTensor`) and the error is rethrown.
 */
export async function loadApplicationWeights(
  model: tf.LayersModel,
  args: ResolvedApplicationArgs,
  files: ApplicationWeightFiles,
): Promise<void> {
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
async function imagenetWeightsFile(
  model: tf.LayersModel,
  args: ResolvedApplicationArgs,
  files: ApplicationWeightFiles,
): Promise<string | null> {
  const { url, md5 } = args.includeTop ? files.top : files.notop;
  const fileName = url.slice(url.lastIndexOf('/') + 1);
  const spec: WeightsFileSpec = { fileName, url, md5, description: `${files.model} ImageNet weights${args.includeTop ? '' : ' (no top)'}` };
  // Lesson mode's part (lib/lesson/weights.ts, installed by 'tslab-dl' and lessonMode()).
  const lesson = lessonHooks();
  // The network's own input (the upscaled images, for the lesson), not the model's first input.
  const size = Number((args.inputTensor ? args.inputTensor.shape[1] : args.inputShape[0]) ?? 224);
  const standIn = (why: string) => {
    if (!lesson) {
      throw new ValueError(
        `weightsFallback: 'stand-in' comes with tslab-dl's lesson helpers: import the application from 'tslab-dl' (${why})`,
      );
    }
    return lesson.standInForImagenet(files.model.split(' ')[0], size, why, { url, fileName }, args.standInImages);
  };
  const override = lesson?.weightsOverride();
  if (override === 'stand-in' && !args.includeTop)
    return standIn("TSLAB_DL_WEIGHTS=stand-in asks for stand-in weights instead of ImageNet's.");
  if (override !== undefined && override !== 'stand-in') {
    console.log(`weights: 'imagenet' -> ${override === null ? 'random initialisation' : override} (TSLAB_DL_WEIGHTS).`);
    return override;
  }
  try {
    return await getWeightsFile(spec, args.weightsOptions);
  } catch (e) {
    const fallback = args.weightsFallback ?? (inLessonMode() ? 'stand-in' : 'error');
    if (!isOffline(e) || fallback !== 'stand-in' || args.includeTop) throw e;
    return standIn(
      `the ImageNet weights of ${files.model} are not cached and cannot be downloaded: ${(e as Error).message.split('. ')[0]}.`,
    );
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
  const layer =
    pooling === 'avg' ? tf.layers.globalAveragePooling2d({ name: names.avg }) : tf.layers.globalMaxPooling2d({ name: names.max });
  return layer.apply(x) as tf.SymbolicTensor;
}

/** Keras' classifier of an application: Dense(classes, classifierActivation) named 'predictions'. */
export function predictions(
  x: tf.SymbolicTensor,
  args: ResolvedApplicationArgs,
  kernelInitializer: Parameters<typeof tf.layers.dense>[0]['kernelInitializer'] = 'glorotUniform',
): tf.SymbolicTensor {
  return tf.layers
    .dense({
      units: args.classes,
      activation: (args.classifierActivation ?? 'linear') as 'softmax',
      kernelInitializer,
      name: 'predictions',
    })
    .apply(x) as tf.SymbolicTensor;
}
