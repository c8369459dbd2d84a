/**
 * tslab-dl's cache root, the one rule every cache folder derives from (model files in
 * `models/`, stand-in weights in `models/standin/`, frozen-base features in `features/`), so
 * that setting TSLAB_DL_CACHE moves them all together; and the shared cache's root, the same layout
 * filled once by an instructor (`npx tslab-dl prefetch`) and only read by learners' kernels.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * `$TSLAB_DL_CACHE`, else `$XDG_CACHE_HOME/tslab-dl`, else `~/.cache/tslab-dl` (the XDG Base
 * Directory default, https://specifications.freedesktop.org/basedir-spec/latest/). A variable
 * set to the empty string counts as unset (`||`, not `??`), as the XDG specification says of
 * XDG_CACHE_HOME: an empty value would otherwise put the cache in the working folder.
 */
export function tslabCacheRoot(): string {
  return process.env.TSLAB_DL_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'tslab-dl');
}

/** Where an instructor's machine-wide cache lives when TSLAB_DL_SHARED_CACHE does not say. */
export const DEFAULT_SHARED_CACHE = '/var/cache/tslab-dl';

/**
 * The shared, read-only cache an instructor fills with `npx tslab-dl prefetch`: `$TSLAB_DL_SHARED_CACHE`
 * (empty counts as unset), else {@link DEFAULT_SHARED_CACHE} when that folder exists, so that a
 * learner's kernel finds the instructor's prefetch without any setting; undefined when there is none.
 * Same layout as {@link tslabCacheRoot}, plus a `manifest.json` (lib/core/shared-cache.ts).
 */
export function sharedCacheRoot(): string | undefined {
  const configured = process.env.TSLAB_DL_SHARED_CACHE;
  if (configured) return path.resolve(configured);
  return fs.existsSync(DEFAULT_SHARED_CACHE) ? DEFAULT_SHARED_CACHE : undefined;
}
