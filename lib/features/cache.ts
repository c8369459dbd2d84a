/**
 * The feature cache: outputs of a frozen prefix, keyed by content, kept in memory and optionally
 * on disk so that re-running the notebook, or the next kernel session, skips the work.
 *
 * A disk entry is one file: a JSON header line (format, shape, dtype, sha256 of the payload) and
 * the float32 payload. It is written under a temporary name and renamed, and checked on every
 * read: a truncated or altered file is reported, deleted and recomputed, never used. Temporary
 * files a killed process left are removed when the folder is next used (lib/core/stale-files.ts).
 *
 * The disk is an optimisation: a folder that cannot be written (read-only, full, not a folder)
 * costs one warning naming it and TSLAB_DL_CACHE, and the features stay in memory.
 *
 * A shared cache an instructor filled (`npx tslab-dl prefetch`, lib/core/shared-cache.ts) holds
 * entries of the same format in its `features/`; they are read only after their sha256 matches its
 * manifest and their own header check passes, and are never deleted or rewritten from here.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { onBackendReset } from '../backends/reset';
import { tslabCacheRoot } from '../core/cache-root';
import { writeFileAtomicSync } from '../core/atomic-write';
import { removeStaleTemporaryFilesSync } from '../core/stale-files';
import { sharedFileSync } from '../core/shared-cache';
import { valuesSync } from '../core/tensor-reads';

const FORMAT = 'tslab-dl-features/1';
const MEMORY_ENTRIES = 8;

/**
 * Where disk entries go: `features` under tslab-dl's cache root ($TSLAB_DL_CACHE, else
 * $XDG_CACHE_HOME/tslab-dl, else ~/.cache/tslab-dl), e.g. ~/.cache/tslab-dl/features.
 */
export function featureCacheFolder(): string {
  return path.join(tslabCacheRoot(), 'features');
}

const memory = new Map<string, tf.Tensor>();

/** A kept copy of the cached features for `key`, from memory; undefined when absent. */
export function fromMemory(key: string): tf.Tensor | undefined {
  const hit = memory.get(key);
  if (!hit) return undefined;
  memory.delete(key); // re-insert: most recently used last
  memory.set(key, hit);
  return hit;
}

/** Keeps `features` in memory under `key` (the cache owns it from now on). */
export function toMemory(key: string, features: tf.Tensor): void {
  tf.keep(features);
  memory.get(key)?.dispose();
  memory.set(key, features);
  while (memory.size > MEMORY_ENTRIES) {
    const [oldest, tensor] = memory.entries().next().value as [string, tf.Tensor];
    memory.delete(oldest);
    tensor.dispose();
  }
}

/** Empties the in-memory cache (disk entries stay). */
export function clearFeatureMemory(): void {
  for (const tensor of memory.values()) tensor.dispose();
  memory.clear();
}

// A backend reset loses every tensor, these included (lib/backends/reset.ts).
onBackendReset(clearFeatureMemory);

function entryPath(key: string, folder: string): string {
  return path.join(folder, `${key}.features`);
}

interface Header {
  format: string;
  shape: number[];
  dtype: 'float32';
  sha256: string;
}

/**
 * The features stored on disk for `key`, or undefined when there are none. A corrupt entry is
 * deleted and reported through `warn`, and undefined is returned so that it gets recomputed.
 */
export function fromDisk(key: string, folder = featureCacheFolder(), warn: (m: string) => void = console.warn): tf.Tensor | undefined {
  const file = entryPath(key, folder);
  removeStaleTemporaryFilesSync(folder);
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  const problem = checkEntry(bytes);
  if (typeof problem === 'string') {
    warn(`tslab-dl: the feature cache file ${file} is corrupt (${problem}); deleting it and recomputing.`);
    fs.rmSync(file, { force: true });
    return undefined;
  }
  return tensorOf(problem);
}

/** The path of a shared entry relative to the shared cache's root. */
function sharedEntryPath(key: string): string {
  return path.join('features', `${key}.features`);
}

/** What {@link fromShared} found: the features, or nothing, and whether an entry was there but refused. */
export interface SharedFeatures {
  /** The features, when a verified entry was found. */
  features?: tf.Tensor;
  /** An entry was there (or listed) but failed its manifest or header check. */
  refused: boolean;
}

/**
 * The features stored for `key` in the shared cache (TSLAB_DL_SHARED_CACHE or /var/cache/tslab-dl),
 * verified twice: the file's sha256 against the shared manifest, then its own header check. An
 * entry failing either is refused with one warning naming it, and left where it is.
 */
export function fromShared(key: string, warn: (m: string) => void = console.warn, root?: string | null): SharedFeatures {
  const fallback = 'computing the features in this kernel instead';
  const lookup = sharedFileSync(sharedEntryPath(key), { warn, root, fallback });
  if (lookup.status === 'absent') return { refused: false };
  if (lookup.status === 'refused') return { refused: true };
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(lookup.path);
  } catch (e) {
    warn(`tslab-dl: cannot read ${lookup.path} from the shared cache (${(e as NodeJS.ErrnoException).code ?? e}); ${fallback}.`);
    return { refused: true };
  }
  const entry = checkEntry(bytes);
  if (typeof entry === 'string') {
    warn(
      `tslab-dl: not using ${lookup.path} from the shared cache: the feature file is corrupt (${entry}); ${fallback}. ` +
        'Ask the instructor to run `npx tslab-dl prefetch` again (as root) to repair the shared cache.',
    );
    return { refused: true };
  }
  return { features: tensorOf(entry), refused: false };
}

/** Whether `folder` holds a complete, intact entry for `key` (the prefetch skips what is there). */
export function hasIntactEntry(key: string, folder: string): boolean {
  try {
    return typeof checkEntry(fs.readFileSync(entryPath(key, folder))) !== 'string';
  } catch {
    return false;
  }
}

function tensorOf({ header, payload }: { header: Header; payload: Buffer }): tf.Tensor {
  const values = new Float32Array(payload.buffer.slice(payload.byteOffset, payload.byteOffset + payload.byteLength));
  return tf.tensor(values, header.shape, header.dtype);
}

function checkEntry(bytes: Buffer): string | { header: Header; payload: Buffer } {
  const newline = bytes.indexOf(0x0a);
  if (newline < 0) return 'no header';
  let header: Header;
  try {
    header = JSON.parse(bytes.subarray(0, newline).toString('utf8'));
  } catch {
    return 'unreadable header';
  }
  if (header.format !== FORMAT || header.dtype !== 'float32' || !Array.isArray(header.shape)) return 'unknown format';
  const payload = bytes.subarray(newline + 1);
  const expected = header.shape.reduce((a, b) => a * b, 1) * 4;
  if (payload.byteLength !== expected) return `${payload.byteLength} payload bytes, expected ${expected}`;
  if (createHash('sha256').update(payload).digest('hex') !== header.sha256) return 'checksum mismatch';
  return { header, payload };
}

/**
 * Stores `features` on disk under `key`, atomically. Throws the file-system error when it cannot.
 * `values`: the features' values when the caller has read them (asynchronously: on webgpu a
 * synchronous read of a result computed on the GPU fails, lib/core/tensor-reads.ts).
 */
export function toDisk(
  key: string,
  features: tf.Tensor,
  folder = featureCacheFolder(),
  values: Float32Array = valuesSync(features, 'the feature cache (writing to disk)') as Float32Array,
): string {
  const payload = Buffer.from(new Float32Array(values).buffer);
  const header: Header = {
    format: FORMAT,
    shape: features.shape,
    dtype: 'float32',
    sha256: createHash('sha256').update(payload).digest('hex'),
  };
  const file = entryPath(key, folder);
  // The payload follows the header line as a piece of its own: no copy joins them.
  writeFileAtomicSync(file, [JSON.stringify(header) + '\n', payload], { tag: 'part' });
  return file;
}

/** What a file-system error code means for a folder we want to write, in words. */
const UNWRITABLE: { [code: string]: string } = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'a read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'a file is where a folder should be',
  EEXIST: 'a file is where a folder should be',
};

/** Folders found unwritable in this session: not tried again (each try copies the features out first). */
const unwritable = new Set<string>();

/**
 * {@link toDisk}, or, when the folder cannot be written, one warning (per folder and session) that
 * names it, the reason and TSLAB_DL_CACHE, and undefined: the caller keeps the features in memory.
 * Errors that are not the file system's are thrown.
 */
export function toDiskIfWritable(
  key: string,
  features: tf.Tensor,
  folder = featureCacheFolder(),
  warn: (m: string) => void = console.warn,
  values?: Float32Array,
): string | undefined {
  const resolved = path.resolve(folder);
  if (unwritable.has(resolved)) return undefined;
  try {
    return toDisk(key, features, folder, values);
  } catch (e) {
    const error = e as NodeJS.ErrnoException;
    if (typeof error?.code !== 'string' || !error.code.startsWith('E')) throw e;
    unwritable.add(resolved);
    const why = UNWRITABLE[error.code] ?? error.message;
    const where = error.path && path.resolve(error.path) !== resolved ? ` at ${error.path}` : '';
    warn(
      `tslab-dl: cannot write the feature cache in ${resolved} (${error.code}: ${why}${where}); the features stay in memory only, ` +
        `so a new kernel session computes them again. To keep them on disk, set TSLAB_DL_CACHE to a writable folder ` +
        `(the cache goes to $TSLAB_DL_CACHE/features), e.g. TSLAB_DL_CACHE=${path.join(os.tmpdir(), 'tslab-dl-cache')}.`,
    );
    return undefined;
  }
}

/** Forgets which folders were found unwritable (tests). */
export function resetUnwritableFolders(): void {
  unwritable.clear();
}
