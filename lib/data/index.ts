// Barrel for lib/data: the lesson's data (Dollar Street 10), its synthetic stand-in, and looking at images.
export {
  DOLLAR_STREET_CLASSES,
  DOLLAR_STREET_FILES,
  DOLLAR_STREET_RECORD_URL,
  DOLLAR_STREET_BASE_URL,
  DEFAULT_DOLLAR_STREET_FOLDER,
  loadDollarStreet,
} from './dollarstreet';
export type { DollarStreetData } from './dollarstreet';
export { fetchDollarStreet } from './fetch';
export type { FetchDollarStreetOptions, FetchDollarStreetResult, FetchedFile } from './fetch';
export {
  makeSyntheticDollarStreet,
  generateSyntheticDollarStreet,
  readSyntheticManifest,
  SYNTHETIC_MANIFEST,
} from './synthetic';
export type { SyntheticOptions, SyntheticResult, SyntheticSplit, SyntheticManifest } from './synthetic';
export { DEFAULT_SYNTHETIC_FOLDER, dollarStreetSource, resolveLessonData, loadLessonData } from './lesson-data';
export type { DollarStreetSource, LessonDataOptions, LessonDataSource } from './lesson-data';
export { showImages, imageGrid } from './show';
export type { ShowImagesOptions, ImageGrid } from './show';
export { readNpy, readNpyHeader, decodeNpy, encodeNpy, writeNpy, NpyFormatError, NpyTooLargeError, NPY_READ_LIMIT } from './npy';
export type { NpyArray, NpyDtype, NpyData, NpyHeader, EncodeNpyOptions } from './npy';
