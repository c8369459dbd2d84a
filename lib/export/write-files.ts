/**
 * Writing the outputs of one command all or nothing: every file is first
 * written to a temporary name next to its destination, and only when all are
 * complete are they moved into place. An existing destination is refused
 * unless `force` is set; without it, a hard link (which fails if the name
 * exists) makes "do not overwrite" hold even against a file created meanwhile.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ValueError } from '../errors';

export interface OutputFile {
  path: string;
  text: string;
}

export interface WriteOptions {
  /** Overwrite files that exist. Defaults to false. */
  force?: boolean;
}

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
  try {
    const staged = files.map((file) => {
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
      const destination = path.resolve(file.path);
      if (options.force) {
        const existed = fs.existsSync(destination);
        fs.renameSync(temporary, destination);
        if (!existed) created.push(destination);
      } else {
        try {
          fs.linkSync(temporary, destination);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw outputExists(file.path);
          throw e;
        }
        created.push(destination);
        fs.unlinkSync(temporary);
      }
    }
  } catch (e) {
    for (const file of [...temporaries, ...created]) fs.rmSync(file, { force: true });
    for (const folder of createdFolders.reverse()) {
      try {
        fs.rmdirSync(folder);
      } catch {
        // Not empty: something else lives there now.
      }
    }
    throw e;
  }
}
