/**
 * Writing the outputs of one command all or nothing: every file is first
 * written to a temporary name next to its destination, and only when all are
 * complete are they moved into place. An existing destination is refused
 * unless `force` is set; without it, a hard link (which fails if the name
 * exists) makes "do not overwrite" hold even against a file created meanwhile.
 * File-system errors (no space, read-only folder...) come out as one-line
 * DataFileErrors naming the destination (file-errors.ts), after the clean-up.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ValueError } from '../errors';
import { writeError } from './file-errors';

export interface OutputFile {
  path: string;
  text: string;
}

export interface WriteOptions {
  /** Overwrite files that exist. Defaults to false. */
  force?: boolean;
}

/** Codes of link(2) on a file system that has no hard links (https://man7.org/linux/man-pages/man2/link.2.html). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/** The refusal to overwrite `file`. */
export function outputExists(file: string): ValueError {
  return new ValueError(`${file} already exists: run again with --force to overwrite it, or choose another name with -o.`);
}

/** Folders that do not exist yet on the way to `folder`, outermost first. */
function missingFolders(folder: string): string[] {
  const missing: string[] = [];
  for (let f = path.resolve(folder); !fs.existsSync(f); f = path.dirname(f)) {
    missing.unshift(f);
    if (path.dirname(f) === f) break;
  }
  return missing;
}

/**
 * Writes every file, or none: on any error the files written so far are
 * removed (a file that existed before and was overwritten under `force` keeps
 * its new content; its old content is gone either way).
 */
export function writeFilesAtomically(files: readonly OutputFile[], options: WriteOptions = {}): void {
  const seen = new Set<string>();
  for (const file of files) {
    const resolved = path.resolve(file.path);
    if (seen.has(resolved)) throw new ValueError(`${file.path} would be written twice: give each output its own name.`);
    seen.add(resolved);
    if (!options.force && fs.existsSync(resolved)) throw outputExists(file.path);
    if (fs.existsSync(resolved) && fs.statSync(resolved).isDirectory()) {
      throw new ValueError(`${file.path} is a folder: give a file name for the output.`);
    }
  }

  const createdFolders: string[] = [];
  const temporaries: string[] = [];
  const created: string[] = [];
  // The file being written when an error comes, for its message.
  let current: OutputFile | undefined;
  try {
    const staged = files.map((file) => {
      current = file;
      const folder = path.dirname(path.resolve(file.path));
      const missing = missingFolders(folder);
      fs.mkdirSync(folder, { recursive: true });
      createdFolders.push(...missing);
      const temporary = path.join(folder, `.${path.basename(file.path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
      temporaries.push(temporary);
      fs.writeFileSync(temporary, file.text, { flag: 'wx' });
      return { file, temporary };
    });
    for (const { file, temporary } of staged) {
      current = file;
      const destination = path.resolve(file.path);
      if (options.force) {
        const existed = fs.existsSync(destination);
        fs.renameSync(temporary, destination);
        if (!existed) created.push(destination);
      } else {
        try {
          fs.linkSync(temporary, destination);
          created.push(destination);
          fs.unlinkSync(temporary);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EEXIST') throw outputExists(file.path);
          // File systems without hard links (FAT, some network and FUSE mounts): check, then
          // rename, which leaves a moment for another program to create the file in between.
          if (!NO_HARD_LINKS.has(code ?? '')) throw e;
          if (fs.existsSync(destination)) throw outputExists(file.path);
          fs.renameSync(temporary, destination);
          created.push(destination);
        }
      }
    }
  } catch (e) {
    for (const file of [...temporaries, ...created]) {
      try {
        fs.rmSync(file, { force: true });
      } catch {
        // The error that brought us here is the one to report.
      }
    }
    for (const folder of createdFolders.reverse()) {
      try {
        fs.rmdirSync(folder);
      } catch {
        // Not empty: something else lives there now.
      }
    }
    throw current ? writeError(current.path, e) : e;
  }
}
