/**
 * The ONNX translation of the augmentation layers (lib/layers/augmentation): the identity, as for
 * Dropout (./core.ts). The prefix engine (lib/features/) only ever runs them at inference, where
 * Keras' layers pass the images through (base_image_preprocessing_layer.py: `training=False`); in
 * training they run on tfjs. Without a translation, an augmentation layer at the start of a model
 * would leave every layer after it to tfjs in predict and evaluate.
 */
import { AUGMENTATION_LAYERS } from '../../layers/augmentation/class-names';
import { onlyInput, Translator } from './context';

const identity: Translator = (ctx) => [onlyInput(ctx)];

export const augmentationTranslators: Record<string, Translator> = Object.fromEntries(
  AUGMENTATION_LAYERS.map((className) => [className, identity]),
);
