/**
 * Writing files so that each is either complete or absent: write a temporary file next to it,
 * flush it to disk, then rename it over the destination (rename is atomic within one file
 * system, which "next to it" guarantees). The library's atomic writes are built here: single
 * files (sync and async, bytes or text, or filled by a caller such as the HDF5 writer), a whole
 * folder (a saved model), and a set of files committed all or nothing (`tslab-dl export`);
 * downloads, which stream, use its temporary names and folder flush (lib/net/download.ts).
 * Temporary files a killed process left behind are removed when the folder is next written
 * (lib/core/stale-files.ts recognises the names {@link temporaryPathFor} gives).
 */
import { randomBytes } from 'crypto';
import * as fsSync from 'fs';
import { promises as fs } from 'fs';
import * as path from 'path';
import { removeStaleTemporaryFiles, removeStaleTemporaryFilesSync } from './stale-files';

/** What a file is written from: text, bytes, or pieces of either written one after the other (no copy joins them). */
export type FileData = string | Uint8Array | readonly (string | Uint8Array)[];

/**
 * The tag of a temporary name: 'tmp' (the default) or 'part' (downloads and the feature cache);
 * lib/core/stale-files.ts removes abandoned files with either. 'old' names a replaced folder on its
 * way out ({@link replaceFolderAtomic}).
 */
export type TemporaryTag = 'tmp' | 'part' | 'old';

export interface AtomicWriteOptions {
  /** The temporary file's tag (see {@link TemporaryTag}). Defaults to 'tmp'. */
  tag?: 'tmp' | 'part';
}

/** A temporary name in the same folder as `dest`, unique to this process and call: `<dest>.<tag>-<pid>-<8 hex>`. */
export function temporaryPathFor(dest: string, tag: TemporaryTag = 'part'): string {
  return `${dest}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Flushes a folder's entry table, so that a rename inside it survives a crash. Best effort. */
export async function syncFolder(folder: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(folder, 'r');
    await handle.sync();
  } catch {
    // Some file systems (and Windows) cannot fsync a folder; the rename itself is still atomic.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function chunksOf(data: FileData): readonly (string | Uint8Array)[] {
  if (typeof data === 'string' || data instanceof Uint8Array) return [data];
  return data.length > 0 ? data : [''];
}

/**
 * Writes `data` into the new file `file` and flushes it to disk. The first piece creates the file
 * ('wx': an existing file is an error, never overwritten), the others are appended.
 */
export async function writeNewFile(file: string, data: FileData): Promise<void> {
  for (const [i, chunk] of chunksOf(data).entries()) await fs.writeFile(file, chunk, { flag: i === 0 ? 'wx' : 'a' });
  const handle = await fs.open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** {@link writeNewFile} for synchronous callers. */
export function writeNewFileSync(file: string, data: FileData): void {
  chunksOf(data).forEach((chunk, i) => fsSync.writeFileSync(file, chunk, { flag: i === 0 ? 'wx' : 'a' }));
  const fd = fsSync.openSync(file, 'r+');
  try {
    fsSync.fsyncSync(fd);
  } finally {
    fsSync.closeSync(fd);
  }
}

/**
 * Replaces `file` atomically with what `write` puts in the temporary path it is given: readers see
 * the old file (or none) until the new one is complete. Creates the parent folder and removes
 * abandoned temporary files from it first. On error the temporary file is removed and the error
 * rethrown; `file` is as it was.
 */
export async function replaceFileAtomic(
  file: string,
  write: (temporary: string) => Promise<void>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const folder = path.dirname(file);
  await fs.mkdir(folder, { recursive: true });
  await removeStaleTemporaryFiles(folder);
  const temporary = temporaryPathFor(file, options.tag ?? 'tmp');
  try {
    await write(temporary);
    await fs.rename(temporary, file);
  } catch (e) {
    await fs.rm(temporary, { force: true });
    throw e;
  }
  await syncFolder(folder);
}

/** {@link replaceFileAtomic} for synchronous callers (e.g. a display function a notebook cell calls without await). */
export function replaceFileAtomicSync(file: string, write: (temporary: string) => void, options: AtomicWriteOptions = {}): void {
  const folder = path.dirname(file);
  fsSync.mkdirSync(folder, { recursive: true });
  removeStaleTemporaryFilesSync(folder);
  const temporary = temporaryPathFor(file, options.tag ?? 'tmp');
  try {
    write(temporary);
    fsSync.renameSync(temporary, file);
  } catch (e) {
    fsSync.rmSync(temporary, { force: true });
    throw e;
  }
}

/** Writes `data` to `file` atomically ({@link replaceFileAtomic}). */
export async function writeFileAtomic(file: string, data: FileData, options: AtomicWriteOptions = {}): Promise<void> {
  await replaceFileAtomic(file, (temporary) => writeNewFile(temporary, data), options);
}

/** {@link writeFileAtomic} for synchronous callers. */
export function writeFileAtomicSync(file: string, data: FileData, options: AtomicWriteOptions = {}): void {
  replaceFileAtomicSync(file, (temporary) => writeNewFileSync(temporary, data), options);
}

/**
 * Replaces the folder `target` atomically with what `fill` writes into the fresh temporary folder
 * it is given: an earlier `target` is moved aside, the new one renamed into place, and the earlier
 * one removed; if the swap fails, the earlier one is put back. On any error the temporary folder
 * is removed and `target` is as it was. Returns what `fill` returns.
 */
export async function replaceFolderAtomic<T>(target: string, fill: (temporary: string) => Promise<T>): Promise<T> {
  const parent = path.dirname(target);
  await fs.mkdir(parent, { recursive: true });
  const temporary = temporaryPathFor(target, 'tmp');
  await fs.mkdir(temporary);
  let old: string | undefined;
  try {
    const result = await fill(temporary);
    if (fsSync.existsSync(target)) {
      old = temporaryPathFor(target, 'old');
      await fs.rename(target, old);
    }
    await fs.rename(temporary, target);
    await syncFolder(parent);
    return result;
  } catch (e) {
    if (old && !fsSync.existsSync(target)) await fs.rename(old, target);
    throw e;
  } finally {
    await fs.rm(temporary, { recursive: true, force: true });
    if (old) await fs.rm(old, { recursive: true, force: true });
  }
}

/** A file of a set written all or nothing ({@link writeFilesAtomicSync}). */
export interface FileToWrite {
  path: string;
  data: FileData;
}

export interface WriteFilesOptions {
  /** Replace files that exist. Defaults to false: an existing file is refused, even one created meanwhile. */
  overwrite?: boolean;
  /** The error for `file` (as given) existing when `overwrite` is false. */
  exists(file: string): Error;
  /** The error to throw for `error`, met while writing `file` (as given), after the clean-up. Defaults to `error` itself. */
  failure?(file: string, error: unknown): Error;
}

/** Codes of link(2) on a file system that has no hard links (https://man7.org/linux/man-pages/man2/link.2.html). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** Folders that do not exist yet on the way to `folder`, outermost first. */
function missingFolders(folder: string): string[] {
  const missing: string[] = [];
  for (let f = path.resolve(folder); !fsSync.existsSync(f); f = path.dirname(f)) {
    missing.unshift(f);
    if (path.dirname(f) === f) break;
  }
  return missing;
}

/**
 * Writes every file of `files`, or none: each is first written to a temporary name next to its
 * destination, and only when all are complete are they moved into place. Without `overwrite`, a
 * hard link (which fails if the name exists) moves each into place, so that "do not overwrite"
 * holds even against a file created meanwhile. On any error, the temporary files, the files moved
 * into place so far and the folders made for them are removed (a file that existed before and was
 * overwritten keeps its new content; its old content is gone either way).
 */
export function writeFilesAtomicSync(files: readonly FileToWrite[], options: WriteFilesOptions): void {
  const createdFolders: string[] = [];
  const temporaries: string[] = [];
  const created: string[] = [];
  // The file being written when an error comes, for its message.
  let current: FileToWrite | undefined;
  try {
    const staged = files.map((file) => {
      current = file;
      const destination = path.resolve(file.path);
      const folder = path.dirname(destination);
      const missing = missingFolders(folder);
      fsSync.mkdirSync(folder, { recursive: true });
      createdFolders.push(...missing);
      removeStaleTemporaryFilesSync(folder);
      const temporary = temporaryPathFor(destination, 'tmp');
      temporaries.push(temporary);
      writeNewFileSync(temporary, file.data);
      return { file, destination, temporary };
    });
    for (const { file, destination, temporary } of staged) {
      current = file;
      if (options.overwrite) {
        const existed = fsSync.existsSync(destination);
        fsSync.renameSync(temporary, destination);
        if (!existed) created.push(destination);
      } else {
        try {
          fsSync.linkSync(temporary, destination);
          created.push(destination);
          fsSync.unlinkSync(temporary);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EEXIST') throw options.exists(file.path);
          // File systems without hard links (FAT, some network and FUSE mounts): check, then
          // rename, which leaves a moment for another program to create the file in between.
          if (!NO_HARD_LINKS.has(code ?? '')) throw e;
          if (fsSync.existsSync(destination)) throw options.exists(file.path);
          fsSync.renameSync(temporary, destination);
          created.push(destination);
        }
      }
    }
  } catch (e) {
    for (const file of [...temporaries, ...created]) {
      try {
        fsSync.rmSync(file, { force: true });
      } catch {
        // The error that brought us here is the one to report.
      }
    }
    for (const folder of createdFolders.reverse()) {
      try {
        fsSync.rmdirSync(folder);
      } catch {
        // Not empty: something else lives there now.
      }
    }
    throw current && options.failure ? options.failure(current.path, e) : e;
  }
}
