/**
 * Removing temporary files that a killed process left behind.
 *
 * Downloads and cache entries are written under a temporary name next to their destination
 * (`<name>.part-<pid>-<8 hex>` by lib/net/download.ts and lib/features/cache.ts, `<name>.tmp-<pid>-<8 hex>`
 * by lib/core/atomic-write.ts) and renamed when complete; a failure removes them. A process killed
 * mid-write (the kernel restarted, the machine rebooted) cannot, so the next use of the folder
 * does: temporary files older than a day are removed. A day, because no write of ours stays
 * silent that long (a stalled download fails after TSLAB_DL_IDLE_TIMEOUT_MS), while a younger
 * file may be another kernel's download in progress.
 */
import * as fsSync from 'fs';
import { promises as fs } from 'fs';
import * as path from 'path';

/** How old a temporary file must be to count as abandoned. */
export const STALE_AFTER_MS = 24 * 60 * 60 * 1000;
/** A folder is looked at again after this long (a kernel can run for days). */
const RECHECK_AFTER_MS = 60 * 60 * 1000;

/** The names our temporary files get (see lib/core/atomic-write.ts temporaryPathFor). */
const TEMPORARY_NAME = /\.(part|tmp)-\d+-[0-9a-f]{8}$/;

const lastChecked = new Map<string, number>();

function due(folder: string, now: number): boolean {
  const key = path.resolve(folder);
  const last = lastChecked.get(key);
  if (last !== undefined && now - last < RECHECK_AFTER_MS) return false;
  lastChecked.set(key, now);
  return true;
}

export interface StaleOptions {
  /** The current time (tests). Defaults to Date.now(). */
  now?: number;
  /** Look even if the folder was looked at within the hour. Defaults to false. */
  force?: boolean;
}

/**
 * Removes our temporary files older than {@link STALE_AFTER_MS} from `folder` (not its subfolders).
 * Best effort: a missing or unreadable folder, or a file that cannot be removed, is skipped.
 * Returns the paths removed.
 */
export async function removeStaleTemporaryFiles(folder: string, options: StaleOptions = {}): Promise<string[]> {
  const now = options.now ?? Date.now();
  if (!options.force && !due(folder, now)) return [];
  let names: string[];
  try {
    names = await fs.readdir(folder);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names.filter((n) => TEMPORARY_NAME.test(n))) {
    const file = path.join(folder, name);
    try {
      const stat = await fs.lstat(file);
      if (!stat.isFile() || now - stat.mtimeMs < STALE_AFTER_MS) continue;
      await fs.rm(file, { force: true });
      removed.push(file);
    } catch {
      // Gone meanwhile, or not ours to remove: leave it.
    }
  }
  return removed;
}

/** {@link removeStaleTemporaryFiles} for synchronous callers (the feature cache). */
export function removeStaleTemporaryFilesSync(folder: string, options: StaleOptions = {}): string[] {
  const now = options.now ?? Date.now();
  if (!options.force && !due(folder, now)) return [];
  let names: string[];
  try {
    names = fsSync.readdirSync(folder);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names.filter((n) => TEMPORARY_NAME.test(n))) {
    const file = path.join(folder, name);
    try {
      const stat = fsSync.lstatSync(file);
      if (!stat.isFile() || now - stat.mtimeMs < STALE_AFTER_MS) continue;
      fsSync.rmSync(file, { force: true });
      removed.push(file);
    } catch {
      // Gone meanwhile, or not ours to remove: leave it.
    }
  }
  return removed;
}
