// Barrel for lib/weights: Keras .h5 weight files and the ImageNet weights cache.
export { loadWeightsH5, saveWeightsH5, readWeightsH5 } from './h5';
export type { H5LoadReport, H5WeightsFile, H5Layer, H5Weight } from './h5';
export { getWeightsFile, kerasCacheDir, tslabCacheDir, weightsUrl } from './imagenet';
export type { WeightsFileSpec, WeightsFileOptions } from './imagenet';
