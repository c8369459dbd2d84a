/**
 * What a file-system error on a data file means, in words a learner can act on.
 *
 * `fs.stat` fails the same way for a file that is missing and for one behind a symbolic link
 * loop, a folder without permission or a file where a folder should be; only the code tells them
 * apart (https://nodejs.org/api/errors.html#common-system-errors, and ELOOP in `man 2 stat`).
 * Reporting all of them as "missing" sends the learner to download files that are there.
 */
import { promises as fs } from 'fs';
import * as path from 'path';

/** What is at a path: a file, nothing, or something that stops us looking. */
export type PathState = { kind: 'file' } | { kind: 'missing' } | { kind: 'blocked'; error: NodeJS.ErrnoException };

/** Looks at `file` without reading it; ENOENT (and ENOTDIR: a file in the middle of the path) count as missing. */
export async function pathState(file: string): Promise<PathState> {
  try {
    const stat = await fs.stat(file);
    return stat.isFile() ? { kind: 'file' } : { kind: 'blocked', error: Object.assign(new Error(`EISDIR: is a folder, '${file}'`), { code: 'EISDIR' }) };
  } catch (e) {
    const error = e as NodeJS.ErrnoException;
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return { kind: 'missing' };
    return { kind: 'blocked', error };
  }
}

/**
 * The first path on the way to `file` that is a symbolic link loop (a link that leads, directly or
 * through other links, back to itself), with where it points; undefined when there is none.
 */
export async function findSymlinkLoop(file: string): Promise<{ link: string; target: string } | undefined> {
  const parts = path.resolve(file).split(path.sep);
  for (let i = 2; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join(path.sep) || path.sep;
    try {
      await fs.stat(prefix);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOOP') return undefined;
      const target = await fs.readlink(prefix).catch(() => '?');
      return { link: prefix, target };
    }
  }
  return undefined;
}

/**
 * One sentence on why `file` cannot be opened (without the file name), naming the code, or
 * undefined for codes that need no advice beyond the caller's.
 */
export async function describeBlockedPath(file: string, error: NodeJS.ErrnoException): Promise<string | undefined> {
  switch (error.code) {
    case 'ELOOP': {
      const loop = await findSymlinkLoop(file);
      const where = loop ? `${loop.link} points to ${loop.target}, which leads back to it` : 'the path goes through links that lead back to themselves';
      return (
        `cannot be opened: ELOOP: a symbolic link loop: ${where}. Point the link at the folder that really holds the files ` +
        `(\`ls -l ${loop?.link ?? path.dirname(file)}\` shows where it points), or replace it with that folder.`
      );
    }
    case 'EACCES':
    case 'EPERM':
      return `cannot be read: ${error.code}: permission denied for this user. Give it read permission (e.g. \`chmod a+r ${file}\`, and a+x on its folders).`;
    case 'EISDIR':
      return 'is a folder, not a file: the .npy file should be at this path itself.';
    default:
      return undefined;
  }
}
