/**
 * A .npy file of any size that takes no disk space: numpy's header, then a hole (fs.ftruncate
 * extends a file without writing it, https://nodejs.org/api/fs.html#fsftruncatesyncfd-len), for
 * the cases that need files over 2 GiB.
 */
import * as fs from 'node:fs';

/** Writes `file` with a version-1.0 header for `descr` and `shape`, and `extraBytes` more (or fewer) data bytes than it announces. */
export function sparseNpy(file: string, descr: string, shape: number[], extraBytes = 0): string {
  const itemSize = Number(descr.slice(2));
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const padding = (64 - ((10 + dict.length + 1) % 64)) % 64;
  const text = dict + ' '.repeat(padding) + '\n';
  const header = Buffer.alloc(10 + text.length);
  header.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  header.writeUInt16LE(text.length, 8);
  header.write(text, 10, 'latin1');
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, header);
    fs.ftruncateSync(fd, header.length + shape.reduce((a, b) => a * b, 1) * itemSize + extraBytes);
  } finally {
    fs.closeSync(fd);
  }
  return file;
}
