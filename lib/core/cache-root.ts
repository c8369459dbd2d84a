/**
 * tslab-dl's cache root, the one rule every cache folder derives from (model files in
 * `models/`, stand-in weights in `models/standin/`, frozen-base features in `features/`), so
 * that setting TSLAB_DL_CACHE moves them all together.
 */
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
