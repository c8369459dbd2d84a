/**
 * Lesson mode's way to the Dollar Street data, for `loadDollarStreet(DATA_FOLDER)` as the lesson
 * notebook writes it:
 *
 * 1. the folder holds the four files (here, or the same relative path in a parent folder, where a
 *    learner who cloned the workshop repository keeps them): read them;
 * 2. it does not, and the instructor's shared cache (`npx tslab-dl prefetch`) holds them in
 *    `data/dataset_dollarstreet/`, each file matching the shared manifest: read them there;
 * 3. it does not, and the network answers: download them from Zenodo into it (checked against
 *    the record's md5s), as Keras' get_file does for weights;
 * 4. the network does not answer (no route, no DNS, refused, timed out): the synthetic twin,
 *    announced loudly. A download that answers wrongly (bad checksum, corrupt file, HTTP error)
 *    is an error, never a reason to fall back.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DOLLAR_STREET_FILES, dollarStreetSource, fetchDollarStreet, resolveLessonData, SYNTHETIC_MANIFEST } from '../data';
import { isOffline } from '../core/errors';
import { sharedCacheRoot } from '../core/cache-root';
import { sharedCacheStats, sharedFile } from '../core/shared-cache';
import { lessonEnvironment } from '../settings/lesson-environment';

/** `relative` in the working folder, else in the nearest parent that has it; undefined when none has. */
function findUpwards(relative: string): string | undefined {
  if (path.isAbsolute(relative)) return fs.existsSync(relative) ? relative : undefined;
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, relative);
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** Where the prefetch puts the data, relative to the shared cache's root. */
export const SHARED_DATA_FOLDER = path.join('data', 'dataset_dollarstreet');

/**
 * The shared cache's data folder when its four files (and a synthetic set's synthetic.json) all
 * match the shared manifest; undefined when there is none, or when a file is refused (each
 * refusal warns, naming the file). `samples` (TSLAB_DL_SAMPLES): a synthetic set of another size is passed over.
 */
async function sharedDataFolder(samples: number | undefined): Promise<string | undefined> {
  const root = sharedCacheRoot();
  if (!root) return undefined;
  const folder = path.join(root, SHARED_DATA_FOLDER);
  const source = await dollarStreetSource(folder);
  if (source.kind === 'missing') return undefined;
  if (samples !== undefined && source.manifest && source.manifest.train !== samples) {
    console.log(
      `The shared cache's data in ${folder} is a synthetic set of ${source.manifest.train} training images, not ${samples} (TSLAB_DL_SAMPLES): not using it.`,
    );
    return undefined;
  }
  const names = [...Object.values(DOLLAR_STREET_FILES), ...(source.manifest ? [SYNTHETIC_MANIFEST] : [])];
  let usable = true;
  for (const name of names) {
    // Every file is looked at, so that each refused one is named.
    const lookup = await sharedFile(path.join(SHARED_DATA_FOLDER, name), { root, fallback: 'not using the shared data' });
    if (lookup.status !== 'verified') usable = false;
  }
  if (!usable) return undefined;
  sharedCacheStats.dataHits++;
  return folder;
}

/** The folder to read for `requested`: the real data (found or downloaded), or the synthetic twin. */
export async function lessonDataFolder(requested: string): Promise<string> {
  const env = lessonEnvironment();
  const folder = env.dataFolder ?? path.resolve(findUpwards(requested) ?? requested);
  const source = await dollarStreetSource(folder);
  if (source.kind === 'real' || source.kind === 'synthetic') {
    return (await resolveLessonData({ folder })).folder;
  }
  if (source.kind === 'missing') {
    const shared = await sharedDataFolder(env.samples);
    if (shared) {
      console.log(`The Dollar Street 10 files are not in ${folder}: reading the instructor's copy in ${shared} (the shared cache).`);
      return (await resolveLessonData({ folder: shared })).folder;
    }
  }
  const synthetic = env.samples ? { train: env.samples, test: Math.max(1, Math.round(env.samples / 3)) } : {};
  const syntheticFolder = path.join(path.dirname(folder), `${path.basename(folder)}_synthetic${env.samples ? `_${env.samples}` : ''}`);
  try {
    console.log(`The Dollar Street 10 files are not in ${folder}: downloading them from Zenodo.`);
    await fetchDollarStreet(folder);
    return folder;
  } catch (e) {
    if (!isOffline(e)) throw e;
    const why = `the Dollar Street 10 files are not in ${folder}, and Zenodo cannot be reached (${(e as Error).message.split('. ')[0]}).`;
    return (await resolveLessonData({ folder, syntheticFolder, synthetic, why })).folder;
  }
}
