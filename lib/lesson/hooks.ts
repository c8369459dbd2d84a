/**
 * Installs what lesson mode adds to the loaders of lib/data and lib/applications (the registry:
 * lib/settings/lesson-environment.ts): the data folder, TSLAB_DL_WEIGHTS and stand-in weights.
 */
import { setLessonHooks } from '../settings/lesson-environment';
import { lessonDataFolder } from './data';
import { lessonWeightsOverride, standInForImagenet } from './weights';

/** Idempotent; 'tslab-dl', lessonMode() and compareModels() call it. */
export function installLessonHooks(): void {
  setLessonHooks({ dataFolder: lessonDataFolder, weightsOverride: lessonWeightsOverride, standInForImagenet });
}
