/**
 * Writing the outputs of one command all or nothing: the checks made before anything is
 * written (a name given twice, an existing file without `force`, a folder in the way), then
 * lib/core/atomic-write.ts writeFilesAtomicSync (temporary files next to their destinations, moved
 * into place when all are complete; without `force`, a hard link refuses even a file created
 * meanwhile). File-system errors come out as one-line DataFileErrors naming the destination
 * (file-errors.ts), after the clean-up.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFilesAtomicSync } from '../core/atomic-write';
import { ValueError } from '../core/errors';
import { writeError } from './file-errors';

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

  writeFilesAtomicSync(
    files.map((file) => ({ path: file.path, data: file.text })),
    { overwrite: options.force, exists: outputExists, failure: writeError },
  );
}
