/**
 * File-system errors of `tslab-dl export` / `import` as one-line messages that
 * name the file and say what to do, instead of Node's stack traces. Node sets
 * `code` (the POSIX error name), `syscall` and `path` on these errors
 * (https://nodejs.org/api/errors.html#class-systemerror); the codes are those of
 * errno(3) (https://man7.org/linux/man-pages/man3/errno.3.html).
 */
import * as fs from 'fs';
import * as path from 'path';
import { DataFileError } from '../core/errors';

/** An error from Node's fs functions (it has a string `code` such as 'ENOENT'). */
export function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}

/** How messages name a path: as the user wrote it when relative, else relative to the current folder. */
function shown(file: string): string {
  if (!path.isAbsolute(file)) return file;
  const relative = path.relative(process.cwd(), file);
  return relative === '' ? '.' : relative.startsWith('..') ? file : relative;
}

/** The folder that holds `file`, for messages. */
function folderOf(file: string): string {
  const folder = path.dirname(file);
  return folder === '.' ? 'the current folder' : `${shown(folder)}/`;
}

/** The nearest existing path on the way to `file` when it is not a folder (what ENOTDIR means), else undefined. */
function fileInTheWay(file: string): string | undefined {
  for (let f = path.dirname(path.resolve(file)); path.dirname(f) !== f; f = path.dirname(f)) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(f);
    } catch {
      continue;
    }
    return stat.isDirectory() ? undefined : f;
  }
  return undefined;
}

/** `error`, from reading `file`, as a DataFileError naming `file`; other errors come back as they are. */
export function readError(file: string, error: unknown): Error {
  if (!isSystemError(error)) return error as Error;
  const message = (() => {
    switch (error.code) {
      case 'ENOENT':
        return 'does not exist. Check the path (it is relative to the current folder).';
      case 'EISDIR':
        return 'is a folder, not a file: give the file itself.';
      case 'EACCES':
      case 'EPERM':
        return `cannot be read: permission denied. Check its permissions (\`ls -l ${file}\`), or copy it somewhere you can read it.`;
      case 'ENOTDIR': {
        const blocker = fileInTheWay(file);
        return `does not exist: ${blocker ? shown(blocker) : 'a part of its path'} is a file, not a folder. Check the path.`;
      }
      case 'ELOOP':
        return 'cannot be read: its symbolic links point in a circle. Check them with `ls -l`.';
      default:
        return `cannot be read: ${error.message}.`;
    }
  })();
  return new DataFileError(file, message);
}

/** `error`, from writing `file` (or its temporary twin, or a folder on its way), as a DataFileError naming `file`. */
export function writeError(file: string, error: unknown): Error {
  if (!isSystemError(error)) return error as Error;
  // mkdir fails on the folder it was making; the other calls on the file or its temporary twin.
  const where = error.syscall === 'mkdir' && error.path ? `${shown(error.path)}/` : folderOf(file);
  const message = (() => {
    switch (error.code) {
      case 'EACCES':
      case 'EPERM':
        return `cannot be written: permission denied in ${where}. Choose a folder you can write to with -o, or change its permissions.`;
      case 'EROFS':
        return `cannot be written: ${where} is on a read-only file system. Choose another folder with -o.`;
      case 'ENOSPC':
        return `cannot be written: no space left on the device that holds ${where}. Free some space, or choose another folder with -o.`;
      case 'EDQUOT':
        return `cannot be written: your disk quota on ${where} is used up. Free some space, or choose another folder with -o.`;
      case 'EISDIR':
        return 'is a folder: give a file name with -o.';
      case 'ENOTDIR':
      case 'EEXIST': {
        // EEXIST from mkdir: a file sits where a folder should be made.
        const blocker = fileInTheWay(file);
        return `cannot be written: ${blocker ? shown(blocker) : 'a part of its path'} is a file, not a folder. Choose another path with -o.`;
      }
      case 'ENAMETOOLONG':
        return 'cannot be written: the name is too long for the file system. Choose a shorter one with -o.';
      default:
        return `cannot be written: ${error.message}.`;
    }
  })();
  return new DataFileError(shown(file), `${message} Nothing was written.`);
}
