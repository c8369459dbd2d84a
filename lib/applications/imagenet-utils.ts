/**
 * Keras' imagenet_utils (keras/src/applications/imagenet_utils.py), channels-last: the input shape
 * and activation checks every application makes (obtain_input_shape, validate_activation), the
 * ImageNet preprocessing modes (preprocess_input) and correct_pad, with Keras' checks and messages
 * (argument names in camelCase). What tslab-dl's builders do around them (arguments, weights,
 * the top) is in ./build-steps.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../core/errors';

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
      throw new ValueError(
        `\`inputShape\` must be an array of three integers [height, width, channels]. Received: inputShape=${show(inputShape)}.`,
      );
    }
    if (inputShape.some((d) => d !== null && !(Number.isInteger(d) && d > 0))) {
      throw new ValueError(
        `\`inputShape\` entries must be positive integers (or null for any size). Received: inputShape=${show(inputShape)}.`,
      );
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
