// Barrel for lib/applications: re-exports its public API. A public entry point: importing it
// installs the Keras compatibility patches (lib/compat/install.ts), which frozen bases rely on.
import { installKerasCompat } from '../compat/install';

installKerasCompat();

export { DenseNet121, DenseNet169, DenseNet201, denseNet } from './densenet';
export type { DenseNetArgs } from './densenet';
/**
 * Keras' `applications.densenet` module: {@link DenseNet121}, DenseNet169, DenseNet201, the
 * general `denseNet(blocks)`, and `preprocessInput` ("torch" mode: x / 255, then the ImageNet mean
 * and standard deviation per channel).
 */
export * as densenet from './densenet';
// ResNet50, VGG16, InceptionV3, Xception: the builders at top level, each module (with its Keras
// preprocessInput) under Keras' module name, e.g. applications.resnet50.preprocessInput(x).
export { ResNet50 } from './resnet';
export type { ResNetArgs } from './resnet';
/**
 * Keras' `applications.resnet50` module: {@link ResNet50} and its `preprocessInput` ("caffe" mode:
 * RGB to BGR and the ImageNet mean pixel subtracted, from images 0..255).
 */
export * as resnet50 from './resnet';
export { VGG16 } from './vgg16';
export type { VGG16Args } from './vgg16';
/**
 * Keras' `applications.vgg16` module: {@link VGG16} and its `preprocessInput` ("caffe" mode: RGB to
 * BGR and the ImageNet mean pixel subtracted, from images 0..255).
 */
export * as vgg16 from './vgg16';
export { InceptionV3 } from './inception-v3';
export type { InceptionV3Args } from './inception-v3';
/**
 * Keras' `applications.inception_v3` module: {@link InceptionV3} and its `preprocessInput` ("tf"
 * mode: images 0..255 scaled to -1..1).
 */
export * as inception_v3 from './inception-v3';
export { Xception } from './xception';
export type { XceptionArgs } from './xception';
/**
 * Keras' `applications.xception` module: {@link Xception} and its `preprocessInput` ("tf" mode:
 * images 0..255 scaled to -1..1).
 */
export * as xception from './xception';
// MobileNetV2 and EfficientNetB0: likewise, e.g. applications.mobilenet_v2.preprocessInput(x).
export { MobileNetV2 } from './mobilenet-v2';
export type { MobileNetV2Args } from './mobilenet-v2';
/**
 * Keras' `applications.mobilenet_v2` module: {@link MobileNetV2} (any width multiplier `alpha`)
 * and its `preprocessInput` ("tf" mode: x / 127.5 - 1, from images 0..255).
 */
export * as mobilenet_v2 from './mobilenet-v2';
export { EfficientNetB0 } from './efficientnet';
export type { EfficientNetArgs } from './efficientnet';
/**
 * Keras' `applications.efficientnet` module: {@link EfficientNetB0} and its `preprocessInput` (the
 * identity: the model rescales and normalises images 0..255 itself).
 */
export * as efficientnet from './efficientnet';
