/**
 * Reading the shared cache an instructor filled with `npx tslab-dl prefetch` (its folder:
 * lib/core/cache-root.ts sharedCacheRoot). Every file there is listed in its `manifest.json` with
 * its sha256 and size, and a learner's kernel uses a file only once its content matches: a file
 * that is missing, unlisted, or changed since the prefetch is refused with one warning naming it,
 * and the caller falls back to the learner's own cache (or recomputes, or downloads).
 *
 * A learner's kernel only reads here: nothing in this module writes, renames or deletes.
 * Each file is hashed once per process; its size, mtime and inode tell when it has changed since.
 */
import { createHash } from 'crypto';
import * as fsSync from 'fs';
import { promises as fs } from 'fs';
import * as path from 'path';
import { sharedCacheRoot } from './cache-root';

/** The manifest's name, at the shared cache's root. */
export const SHARED_MANIFEST = 'manifest.json';
/** The manifest's `format`. */
export const SHARED_MANIFEST_FORMAT = 'tslab-dl-shared-cache/1';

/** One file of the shared cache as the manifest lists it. */
export interface SharedManifestFile {
  /** sha256 of the file's bytes, 64 hex digits. */
  sha256: string;
  /** Size in bytes. */
  size: number;
}

/** manifest.json: what the prefetch wrote, and every file with its hash. */
export interface SharedManifest {
  /** {@link SHARED_MANIFEST_FORMAT}. */
  format: string;
  /** The tslab-dl version that wrote it. */
  version: string;
  /** When it was written (ISO 8601). */
  created: string;
  /** What was asked for and made: applications, weights, data, features. */
  prefetched: Record<string, unknown>;
  /** Every file, by its path relative to the root with '/' separators, e.g. 'models/standin/x.h5'. */
  files: Record<string, SharedManifestFile>;
}

/** How shared files fared in this process (tests and reports). */
export const sharedCacheStats = {
  /** Files hashed to check them against the manifest. */
  filesHashed: 0,
  /** Files refused: missing, unlisted, or not matching the manifest. */
  filesRefused: 0,
  /** ImageNet weights files used from the shared cache. */
  weightsHits: 0,
  /** Stand-in weights files used from the shared cache. */
  standInHits: 0,
  /** Data folders used from the shared cache. */
  dataHits: 0,
};

/** What {@link sharedFile} found: a verified file, nothing (no shared cache, or no such entry), or a refusal. */
export type SharedLookup =
  { status: 'verified'; path: string } | { status: 'absent' } | { status: 'refused'; path: string; reason: string };

/** Options of {@link sharedFile}: which shared cache, and where a refusal is reported. */
export interface SharedLookupOptions {
  /** The shared cache's root. Defaults to sharedCacheRoot(); null: no shared cache. */
  root?: string | null;
  /** Where a refusal's warning goes. Defaults to console.warn. */
  warn?: (message: string) => void;
  /** How the caller goes on after a refusal, for the warning, e.g. 'recomputing the features'. */
  fallback?: string;
}

interface Seen {
  size: number;
  mtimeMs: number;
  ino: number;
}

const sameFile = (a: Seen, b: Seen) => a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;

/** Manifests read, by root: re-read when the file changes. */
const manifests = new Map<string, { seen: Seen; manifest: SharedManifest | string }>();
/** Files checked, by path: the verdict stands while the file and its manifest entry are unchanged. */
const verdicts = new Map<string, { seen: Seen; expected: string; problem: string | undefined }>();

/** The manifest of `root`, or why it cannot be used. Synchronous: small, and read once per change. */
function manifestOf(root: string): SharedManifest | string {
  const file = path.join(root, SHARED_MANIFEST);
  let stat: fsSync.Stats;
  try {
    stat = fsSync.statSync(file);
  } catch {
    return `${file} is missing (the prefetch did not finish)`;
  }
  const known = manifests.get(root);
  if (known && sameFile(known.seen, stat)) return known.manifest;
  let manifest: SharedManifest | string;
  try {
    const parsed = JSON.parse(fsSync.readFileSync(file, 'utf8')) as SharedManifest;
    manifest =
      parsed?.format === SHARED_MANIFEST_FORMAT && parsed.files && typeof parsed.files === 'object'
        ? parsed
        : `${file} is not a tslab-dl manifest (format ${JSON.stringify(parsed?.format)}, expected ${SHARED_MANIFEST_FORMAT})`;
  } catch (e) {
    manifest = `${file} cannot be read (${(e as Error).message})`;
  }
  manifests.set(root, { seen: stat, manifest });
  return manifest;
}

/** The manifest of the shared cache at `root` (default: sharedCacheRoot()), or undefined when it has none that can be read. */
export function readSharedManifest(root: string | undefined = sharedCacheRoot()): SharedManifest | undefined {
  if (!root) return undefined;
  const manifest = manifestOf(path.resolve(root));
  return typeof manifest === 'string' ? undefined : manifest;
}

/** A path relative to the root, as the manifest spells it ('/' separators). */
export function manifestName(relative: string): string {
  return relative.split(path.sep).join('/');
}

/** What the stat and the manifest say before any hashing: a verdict, or the expected hash to compare. */
function precheck(root: string, relative: string, stat: fsSync.Stats | undefined): { problem?: string; expected?: string; absent?: true } {
  const manifest = manifestOf(root);
  const listed = typeof manifest === 'string' ? undefined : manifest.files[manifestName(relative)];
  if (!stat) return listed ? { problem: 'it is listed in manifest.json but missing' } : { absent: true };
  if (!stat.isFile()) return { problem: 'it is not a regular file' };
  if (typeof manifest === 'string') return { problem: manifest };
  if (!listed) return { problem: 'it is not listed in manifest.json (written after the prefetch?)' };
  if (listed.size !== stat.size) return { problem: `its size is ${stat.size} bytes, manifest.json says ${listed.size}` };
  return { expected: listed.sha256 };
}

/** The problem each refused file was last reported with: a file is reported once, and again when its problem changes. */
const reported = new Map<string, string>();

function finish(root: string, file: string, problem: string | undefined, options: SharedLookupOptions): SharedLookup {
  if (problem === undefined) return { status: 'verified', path: file };
  sharedCacheStats.filesRefused++;
  if (reported.get(file) !== problem) {
    reported.set(file, problem);
    (options.warn ?? console.warn)(
      `tslab-dl: not using ${file} from the shared cache ${root}: ${problem}; ${options.fallback ?? 'using your own cache instead'}. ` +
        `Ask the instructor to run \`npx tslab-dl prefetch\` again (as root) to repair the shared cache.`,
    );
  }
  return { status: 'refused', path: file, reason: problem };
}

function rootOf(options: SharedLookupOptions): string | undefined {
  const root = options.root === undefined ? sharedCacheRoot() : options.root;
  return root ? path.resolve(root) : undefined;
}

/** A file to hash before a lookup can answer: its stat and the sha256 the manifest expects. */
interface ToHash {
  stat: fsSync.Stats;
  expected: string;
}

/** The answer a lookup has without hashing (absent, unlisted, a known verdict), or what to hash. */
function beforeHashing(
  root: string,
  relative: string,
  file: string,
  stat: fsSync.Stats | undefined,
  options: SharedLookupOptions,
): SharedLookup | ToHash {
  const check = precheck(root, relative, stat);
  if (check.absent) return { status: 'absent' };
  if (check.expected === undefined) return finish(root, file, check.problem, options);
  const known = verdicts.get(file);
  if (known && sameFile(known.seen, stat!) && known.expected === check.expected) return finish(root, file, known.problem, options);
  sharedCacheStats.filesHashed++;
  return { stat: stat!, expected: check.expected };
}

/** Remembers and reports the verdict on `file` from its sha256 (`hash`), or from the error reading it. */
function afterHashing(root: string, file: string, toHash: ToHash, hash: string | Error, options: SharedLookupOptions): SharedLookup {
  const problem =
    typeof hash !== 'string'
      ? `it cannot be read (${(hash as NodeJS.ErrnoException).code ?? hash.message})`
      : hash === toHash.expected
        ? undefined
        : `its sha256 is ${hash}, manifest.json says ${toHash.expected} (changed since the prefetch)`;
  verdicts.set(file, { seen: toHash.stat, expected: toHash.expected, problem });
  return finish(root, file, problem, options);
}

/**
 * The shared cache's file at `relative` (e.g. 'models/x.h5'), verified against manifest.json.
 * 'absent': no shared cache, or neither the file nor a manifest entry for it (a plain miss, no
 * warning). 'refused': the file is there (or listed) but cannot be trusted; one warning names it
 * (once per file and problem). Synchronous, for the synchronous feature lookups.
 */
export function sharedFileSync(relative: string, options: SharedLookupOptions = {}): SharedLookup {
  const root = rootOf(options);
  if (!root) return { status: 'absent' };
  const file = path.join(root, relative);
  let stat: fsSync.Stats | undefined;
  try {
    stat = fsSync.statSync(file);
  } catch {
    stat = undefined;
  }
  const next = beforeHashing(root, relative, file, stat, options);
  if ('status' in next) return next;
  let hash: string | Error;
  try {
    hash = createHash('sha256').update(fsSync.readFileSync(file)).digest('hex');
  } catch (e) {
    hash = e as Error;
  }
  return afterHashing(root, file, next, hash, options);
}

/** {@link sharedFileSync}, hashing without blocking (weights and data files are large). */
export async function sharedFile(relative: string, options: SharedLookupOptions = {}): Promise<SharedLookup> {
  const root = rootOf(options);
  if (!root) return { status: 'absent' };
  const file = path.join(root, relative);
  const next = beforeHashing(root, relative, file, await fs.stat(file).catch(() => undefined), options);
  if ('status' in next) return next;
  const hash = await sha256File(file).catch((e: Error) => e);
  return afterHashing(root, file, next, hash, options);
}

/** sha256 of a file's bytes, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fsSync.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Forgets every manifest read and file verified (tests). */
export function resetSharedCacheVerdicts(): void {
  manifests.clear();
  verdicts.clear();
  reported.clear();
}
