/**
 * Writing a file so that it is either complete or absent: write a temporary
 * file next to it, flush it to disk, then rename it over the destination
 * (rename is atomic within one file system, which "next to it" guarantees).
 * Temporary files a killed process left behind are removed when the folder is
 * next written (lib/stale-files.ts).
 */
import { randomBytes } from 'crypto';
import * as fsSync from 'fs';
import { promises as fs } from 'fs';
import * as path from 'path';
import { removeStaleTemporaryFiles, removeStaleTemporaryFilesSync } from '../stale-files';

/** A temporary name in the same folder as `dest`, unique to this process and call. */
export function temporaryPathFor(dest: string, tag = 'part'): string {
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

/**
 * Writes `chunks` to `file` atomically: readers see the old file (or none) until
 * the new one is complete. Creates the parent folder. On error nothing is left behind.
 */
export async function writeFileAtomic(file: string, chunks: Uint8Array | readonly Uint8Array[]): Promise<void> {
  const folder = path.dirname(file);
  await fs.mkdir(folder, { recursive: true });
  await removeStaleTemporaryFiles(folder);
  const temporary = temporaryPathFor(file, 'tmp');
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(temporary, 'wx');
    for (const chunk of chunks instanceof Uint8Array ? [chunks] : chunks) {
      await handle.writeFile(chunk); // writeFile loops until every byte is written
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(temporary, file);
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await fs.rm(temporary, { force: true });
    throw e;
  }
  await syncFolder(folder);
}

/** {@link writeFileAtomic} for synchronous callers (e.g. a display function a notebook cell calls without await). */
export function writeFileAtomicSync(file: string, data: Uint8Array): void {
  const folder = path.dirname(file);
  fsSync.mkdirSync(folder, { recursive: true });
  removeStaleTemporaryFilesSync(folder);
  const temporary = temporaryPathFor(file, 'tmp');
  let fd: number | undefined;
  try {
    fd = fsSync.openSync(temporary, 'wx');
    fsSync.writeFileSync(fd, data);
    fsSync.fsyncSync(fd);
    fsSync.closeSync(fd);
    fd = undefined;
    fsSync.renameSync(temporary, file);
  } catch (e) {
    if (fd !== undefined) fsSync.closeSync(fd);
    fsSync.rmSync(temporary, { force: true });
    throw e;
  }
}
