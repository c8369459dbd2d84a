/**
 * Keras' class names of the augmentation layers (keras/src/layers/preprocessing/image_preprocessing/):
 * random during training, the identity at inference. lib/features/split.ts lists them among the
 * stochastic layers; ./onnx.ts translates them.
 */
export const AUGMENTATION_LAYERS = ['RandomFlip', 'RandomRotation', 'RandomZoom', 'RandomTranslation', 'RandomContrast'] as const;
