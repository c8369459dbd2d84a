/**
 * Test support: a snapshot of a folder tree (every entry's path, type, mode, owner, size, mtime,
 * and a file's sha256), to show that something read a folder and wrote nothing into it: the two
 * snapshots are equal. Folders' mtimes are in it, so a file created and removed again shows too.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** One entry of a snapshot, keyed by its path relative to the root ('.' for the root). */
export interface SnapshotEntry {
  type: 'file' | 'folder' | 'other';
  mode: string;
  uid: number;
  size: number;
  mtimeMs: number;
  sha256?: string;
}

/** The snapshot of `root`: relative path -> entry, in sorted order. */
export function snapshotTree(root: string): Record<string, SnapshotEntry> {
  const entries: Record<string, SnapshotEntry> = {};
  const visit = (relative: string) => {
    const full = path.join(root, relative);
    const stat = fs.lstatSync(full);
    const type = stat.isFile() ? 'file' : stat.isDirectory() ? 'folder' : 'other';
    entries[relative] = {
      type,
      mode: (stat.mode & 0o7777).toString(8),
      uid: stat.uid,
      size: stat.size,
      mtimeMs: stat.mtimeMs,
      ...(type === 'file' ? { sha256: createHash('sha256').update(fs.readFileSync(full)).digest('hex') } : {}),
    };
    if (type === 'folder') for (const name of fs.readdirSync(full).sort()) visit(path.join(relative, name));
  };
  visit('.');
  return entries;
}

/**
 * The snapshot of what is below `root` as one line per entry (`path mode size mtime sha256|dir`),
 * leaving out the entries `skip` names by relative path: easy to compare and to match modes in.
 * A folder that does not exist has no lines.
 */
export function snapshotLines(root: string, skip: (relative: string) => boolean = () => false): string[] {
  if (!fs.existsSync(root)) return [];
  return Object.entries(snapshotTree(root))
    .filter(([relative]) => relative !== '.' && !skip(relative))
    .map(([relative, e]) => `${relative} ${e.mode} ${e.size} ${e.mtimeMs} ${e.sha256 ?? 'dir'}`);
}
