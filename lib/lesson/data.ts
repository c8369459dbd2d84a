/**
 * Lesson mode's way to the Dollar Street data, for `loadDollarStreet(DATA_FOLDER)` as the lesson
 * notebook writes it:
 *
 * 1. the folder holds the four files (here, or the same relative path in a parent folder, where a
 *    learner who cloned the workshop repository keeps them): read them;
 * 2. it does not, and the network answers: download them from Zenodo into it (checked against
 *    the record's md5s), as Keras' get_file does for weights;
 * 3. the network does not answer (no route, no DNS, refused, timed out): the synthetic twin,
 *    announced loudly. A download that answers wrongly (bad checksum, corrupt file, HTTP error)
 *    is an error, never a reason to fall back.
 */
import * as fs from 'fs';
import * as path from 'path';
import { dollarStreetSource, fetchDollarStreet, resolveLessonData } from '../data';
import { isOffline } from '../core/errors';
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

/** The folder to read for `requested`: the real data (found or downloaded), or the synthetic twin. */
export async function lessonDataFolder(requested: string): Promise<string> {
  const env = lessonEnvironment();
  const folder = env.dataFolder ?? path.resolve(findUpwards(requested) ?? requested);
  const source = await dollarStreetSource(folder);
  if (source.kind === 'real' || source.kind === 'synthetic') {
    return (await resolveLessonData({ folder })).folder;
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
