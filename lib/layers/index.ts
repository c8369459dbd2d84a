// Barrel for lib/layers: tslab-dl's layers and its Keras semantics for frozen layers.
// Importing this module applies the frozen-layer patch (lib/layers/frozen.ts) to tfjs.
export { upscale, Upscale, resizeWithPadGeometry } from './upscale';
export type { UpscaleArgs, UpscaleMethod, ResizeWithPadGeometry } from './upscale';
export { isFrozen, applyFrozenLayerSemantics } from './frozen';
export { Rescaling, rescaling } from './rescaling';
export type { RescalingArgs, ChannelValues } from './rescaling';
export { Normalization, normalization, NORMALIZATION_EPSILON } from './normalization';
export type { NormalizationArgs } from './normalization';
export { applyBatchNormalizationWithoutScaleOrCenter } from './batch_normalization';
