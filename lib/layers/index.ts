// Barrel for lib/layers: tslab-dl's layers. A public entry point: importing it installs the Keras
// compatibility patches (lib/compat/install.ts), among them Keras' semantics for frozen layers.
import { installKerasCompat } from '../compat/install';

installKerasCompat();
export { upscale, Upscale, resizeWithPadGeometry } from './upscale';
export type { UpscaleArgs, UpscaleMethod, ResizeWithPadGeometry } from './upscale';
export { isFrozen } from './frozen';
export { applyFrozenLayerSemantics } from '../compat/frozen-layers';
export { Rescaling, rescaling } from './rescaling';
export type { RescalingArgs, ChannelValues } from './rescaling';
export { Normalization, normalization, NORMALIZATION_EPSILON } from './normalization';
export type { NormalizationArgs } from './normalization';
export { applyBatchNormalizationWithoutScaleOrCenter } from '../compat/batch-normalization-without-scale';
