/**
 * Helpers shared by the Keras applications, ported from keras/applications/imagenet_utils.py
 * (obtain_input_shape, validate_activation) and keras/utils/layer_utils.py (get_source_inputs),
 * with Keras' checks and messages (argument names in camelCase).
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../errors';

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
