/**
 * The ONNX translation of the augmentation layers: the identity, as for Dropout
 * (lib/onnx/translators/core.ts). The prefix engine (lib/features/) only ever runs them at
 * inference, where Keras' layers pass the images through (base_image_preprocessing_layer.py:
 * `training=False`); in training they run on tfjs. Without a translation, an augmentation layer
 * at the start of a model would leave every layer after it to tfjs in predict and evaluate.
 *
 * Registered through lib/onnx's public hook for custom layers when this module is imported
 * (./index.ts imports it).
 */
import { registerOnnxTranslator, type Translator } from '../../onnx/translators';
import { onlyInput } from '../../onnx/translators/context';
import { AUGMENTATION_LAYERS } from './class-names';

const identity: Translator = (ctx) => [onlyInput(ctx)];

for (const className of AUGMENTATION_LAYERS) {
  registerOnnxTranslator(className, identity);
}
