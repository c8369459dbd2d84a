/**
 * Finding a pre-trained weights file for `weights: 'imagenet'`, the way Keras' `get_file` does,
 * plus Keras' own cache as the first place to look:
 *
 * 1. `$KERAS_HOME/models/<file>` or `~/.keras/models/<file>`: a learner who ran the Python
 *    lesson already has the DenseNet121 file there;
 * 2. tslab-dl's cache, `$TSLAB_DL_CACHE/models/<file>` or `~/.cache/tslab-dl/models/<file>`;
 * 3. the instructor's shared cache, `models/<file>` under `$TSLAB_DL_SHARED_CACHE` or
 *    /var/cache/tslab-dl (`npx tslab-dl prefetch` fills it), used once its sha256 matches the
 *    shared manifest (lib/core/shared-cache.ts), never written;
 * 4. a download from the official URL into tslab-dl's cache, with a progress display, checked
 *    against the md5 Keras publishes and stored atomically (nothing is left on failure).
 *
 * A cached file whose md5 does not match is ignored (and replaced by the download), as Keras does.
 * Temporary files an interrupted or killed download left in tslab-dl's cache are removed when it is
 * next used (lib/core/stale-files.ts); Keras' cache is Keras', and left alone.
 * `TSLAB_DL_WEIGHTS_BASE_URL` (or the `baseUrl` option) replaces the folder the files are
 * downloaded from, e.g. a local mirror or the test server.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { tslabCacheRoot } from '../core/cache-root';
import { downloadFile, md5File } from '../net/download';
import { DownloadError } from '../core/errors';
import { removeStaleTemporaryFiles } from '../core/stale-files';
import { sharedCacheStats, sharedFile } from '../core/shared-cache';

/** A published weights file: where Keras downloads it from and its md5. */
export interface WeightsFileSpec {
  /** The file name Keras caches it under, e.g. 'densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5'. */
  fileName: string;
  /** The official URL. */
  url: string;
  /** md5 of the file as Keras checks it (`file_hash`). Defaults to no check. */
  md5?: string;
  /** What the file is, for messages and the progress display, e.g. 'DenseNet121 ImageNet weights (no top)'. */
  description?: string;
}

/** Options of {@link getWeightsFile}: a mirror, the cache folders, and an AbortSignal. */
export interface WeightsFileOptions {
  /** Folder URL to download from instead of the official one. Defaults to $TSLAB_DL_WEIGHTS_BASE_URL, else the official URL. */
  baseUrl?: string;
  /** Keras' cache folder. Defaults to $KERAS_HOME/models, else ~/.keras/models. */
  kerasCacheDir?: string;
  /** tslab-dl's cache folder (downloads go here). Defaults to $TSLAB_DL_CACHE/models, else ~/.cache/tslab-dl/models. */
  cacheDir?: string;
  /** Aborts a download. */
  signal?: AbortSignal;
  /** The instructor's shared cache to look in before downloading. Defaults to sharedCacheRoot(); null: none (the prefetch itself). */
  sharedCache?: string | null;
}

/** Keras' cache folder for model files: `$KERAS_HOME/models` or `~/.keras/models`. */
export function kerasCacheDir(): string {
  return path.join(process.env.KERAS_HOME || path.join(os.homedir(), '.keras'), 'models');
}

/**
 * tslab-dl's cache folder for model files: `models` under its cache root ($TSLAB_DL_CACHE, else
 * $XDG_CACHE_HOME/tslab-dl, else ~/.cache/tslab-dl), e.g. ~/.cache/tslab-dl/models.
 */
export function tslabCacheDir(): string {
  return path.join(tslabCacheRoot(), 'models');
}

/** The URL to download `spec` from, honouring a base-URL override. */
export function weightsUrl(spec: WeightsFileSpec, baseUrl = process.env.TSLAB_DL_WEIGHTS_BASE_URL): string {
  if (!baseUrl) return spec.url;
  return new URL(encodeURIComponent(spec.fileName), baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).toString();
}

/** Where a file may already be, in the order looked at. */
export function weightsCandidates(spec: WeightsFileSpec, options: WeightsFileOptions = {}): string[] {
  return [
    path.join(options.kerasCacheDir ?? kerasCacheDir(), spec.fileName),
    path.join(options.cacheDir ?? tslabCacheDir(), spec.fileName),
  ];
}

/**
 * The local path of a published weights file: a cached copy with the right md5, or a fresh
 * verified download. Throws a DownloadError naming the URL, the file and where to put a copy
 * downloaded by hand.
 */
export async function getWeightsFile(spec: WeightsFileSpec, options: WeightsFileOptions = {}): Promise<string> {
  const [kerasCopy, ourCopy] = weightsCandidates(spec, options);
  await removeStaleTemporaryFiles(path.dirname(ourCopy));
  for (const candidate of [kerasCopy, ourCopy]) {
    if (!fs.existsSync(candidate)) continue;
    if (!spec.md5) return candidate;
    const md5 = await md5File(candidate);
    if (md5 === spec.md5.toLowerCase()) return candidate;
    process.stderr.write(
      `tslab-dl: ignoring ${candidate}: its md5 is ${md5}, expected ${spec.md5} (an incomplete or different file); downloading a fresh copy.\n`,
    );
  }
  // The manifest's sha256 was taken from a copy the prefetch checked against the md5.
  const shared = await sharedFile(path.join('models', spec.fileName), {
    root: options.sharedCache,
    fallback: 'downloading a copy into your own cache instead',
  });
  if (shared.status === 'verified') {
    sharedCacheStats.weightsHits++;
    return shared.path;
  }
  const url = weightsUrl(spec, options.baseUrl ?? process.env.TSLAB_DL_WEIGHTS_BASE_URL);
  const what = spec.description ?? spec.fileName;
  try {
    const result = await downloadFile(url, ourCopy, { md5: spec.md5, label: `Downloading ${what}`, signal: options.signal });
    return result.path;
  } catch (e) {
    if (!(e instanceof DownloadError)) throw e;
    throw new DownloadError(
      url,
      `Could not get ${what} (file ${spec.fileName}). ${e.message} ` +
        `Keras' cache works too: a copy saved as ${kerasCopy} is used by both Keras and tslab-dl.`,
      e.reason, // so that callers can still tell "offline" from "a wrong file"
    );
  }
}
