/**
 * Whether two paths name the same file, so that export and import can refuse to
 * write their output over their input (even with --force: the input is what the
 * output is made from). Compared by device and inode number, as fs.stat reports
 * them (https://nodejs.org/api/fs.html#class-fsstats): that holds through `./`
 * prefixes, `..`, symbolic links (stat follows them), hard links and the case of
 * names on case-insensitive file systems, where comparing path strings would not.
 */
import * as fs from 'fs';

/** True when both paths exist and are one file; false when either does not exist. */
export function isSameFile(a: string, b: string): boolean {
  let statA: fs.Stats;
  let statB: fs.Stats;
  try {
    statA = fs.statSync(a);
    statB = fs.statSync(b);
  } catch {
    return false; // An output that does not exist yet is not the input.
  }
  // Some file systems report no inode numbers (0): then the real paths decide.
  if (statA.ino === 0 || statB.ino === 0) return fs.realpathSync(a) === fs.realpathSync(b);
  return statA.dev === statB.dev && statA.ino === statB.ino;
}
