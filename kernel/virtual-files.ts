/**
 * Files that exist only for the cell compiler (declarations the kernel
 * writes for ESM-only packages). tslab's converter reads every file through
 * `ts.sys` of its TypeScript, so the kernel layers an in-memory map over
 * `ts.sys.fileExists` / `readFile`; nothing is written to disk.
 */
import { ts } from './typescript';

const files = new Map<string, string>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  const fileExists = ts.sys.fileExists.bind(ts.sys);
  const readFile = ts.sys.readFile.bind(ts.sys);
  ts.sys.fileExists = (file) => files.has(file) || fileExists(file);
  ts.sys.readFile = (file, encoding) => files.get(file) ?? readFile(file, encoding);
}

/** Makes `file` (an absolute path with '/' separators) exist for the compiler with `content`. */
export function addVirtualFile(file: string, content: string): void {
  install();
  files.set(file.split('\\').join('/'), content);
}

export function isVirtualFile(file: string): boolean {
  return files.has(file);
}
