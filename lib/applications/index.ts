// Barrel for lib/applications: re-exports its public API. A public entry point: importing it
// installs the Keras compatibility patches (lib/compat/install.ts), which frozen bases rely on.
import { installKerasCompat } from '../compat/install';

installKerasCompat();

export { DenseNet121, DenseNet169, DenseNet201, denseNet } from './densenet';
export type { DenseNetArgs } from './densenet';
export * as densenet from './densenet';
// ResNet50, VGG16, InceptionV3, Xception: the builders at top level, each module (with its Keras
// preprocessInput) under Keras' module name, e.g. applications.resnet50.preprocessInput(x).
export { ResNet50 } from './resnet';
export type { ResNetArgs } from './resnet';
export * as resnet50 from './resnet';
export { VGG16 } from './vgg16';
export type { VGG16Args } from './vgg16';
export * as vgg16 from './vgg16';
export { InceptionV3 } from './inception-v3';
export type { InceptionV3Args } from './inception-v3';
export * as inception_v3 from './inception-v3';
export { Xception } from './xception';
export type { XceptionArgs } from './xception';
export * as xception from './xception';
// MobileNetV2 and EfficientNetB0: likewise, e.g. applications.mobilenet_v2.preprocessInput(x).
export { MobileNetV2 } from './mobilenet-v2';
export type { MobileNetV2Args } from './mobilenet-v2';
export * as mobilenet_v2 from './mobilenet-v2';
export { EfficientNetB0 } from './efficientnet';
export type { EfficientNetArgs } from './efficientnet';
export * as efficientnet from './efficientnet';
