// Barrel for lib/layers/augmentation: Keras 3's data augmentation layers (RandomFlip,
// RandomRotation, RandomZoom, RandomTranslation, RandomContrast) as tfjs layers, registered for
// serialisation under Keras' class names when this module is imported. Their ONNX translation
// (the identity) is among lib/onnx's built-in translators (lib/onnx/translators/augmentation.ts).
export { ImageAugmentationLayer } from './base';
export type { AugmentationArgs, ImageDataFormat } from './base';
export { RandomFlip, randomFlip, FLIP_MODES } from './random-flip';
export type { RandomFlipArgs, FlipMode, FlipTransformation } from './random-flip';
export { RandomRotation, randomRotation, rotationTransform } from './random-rotation';
export type { RandomRotationArgs, RotationTransformation } from './random-rotation';
export { RandomZoom, randomZoom, zoomTransform } from './random-zoom';
export type { RandomZoomArgs, ZoomTransformation } from './random-zoom';
export { RandomTranslation, randomTranslation, translationTransform } from './random-translation';
export type { RandomTranslationArgs, TranslationTransformation } from './random-translation';
export { RandomContrast, randomContrast } from './random-contrast';
export type { RandomContrastArgs, ContrastTransformation } from './random-contrast';
export { projectiveTransform, FILL_MODES, INTERPOLATIONS } from './projective-transform';
export type { FillMode, Interpolation, ProjectiveTransform, SamplingArgs, SamplingOptions } from './projective-transform';
export type { Factor } from './factor';
export { AUGMENTATION_LAYERS } from './class-names';
