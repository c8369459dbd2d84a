/**
 * Errors as Jupyter shows them: `ename`, `evalue` and `traceback` lines, for
 * compile errors (TypeScript diagnostics with the offending line underlined)
 * and for exceptions thrown while a cell runs.
 */
import * as path from 'path';
import { inspect } from 'util';

/** The content of an `error` message and of an execute_reply with status 'error'. */
export interface ErrorContent {
  ename: string;
  evalue: string;
  traceback: string[];
}

/** A TypeScript diagnostic, positioned in the text the user typed (0-based line and column). */
export interface CellDiagnostic {
  line: number;
  character: number;
  /** Length of the underlined span on that line (at least 1 is shown). */
  length: number;
  message: string;
  code: number;
  /** The file it is in when not in the cell (relative to the project root). */
  fileName?: string;
}

const KERNEL_DIR = __dirname;

/** TypeScript's syntax errors are numbered 1000-1999. */
function isSyntaxDiagnostic(diagnostic: CellDiagnostic): boolean {
  return diagnostic.code >= 1000 && diagnostic.code < 2000;
}

export function compileError(all: CellDiagnostic[], code: string): ErrorContent {
  // As tsc does: when the code does not parse, the type errors that follow from it are noise.
  const syntax = all.filter(isSyntaxDiagnostic);
  const diagnostics = syntax.length > 0 ? syntax : all;
  const lines = code.split('\n');
  const traceback: string[] = [];
  for (const d of diagnostics) {
    const where = d.fileName ? `${d.fileName} line ${d.line + 1}` : `line ${d.line + 1}`;
    traceback.push(`${where}, column ${d.character + 1}: ${d.message} (TS${d.code})`);
    if (!d.fileName && d.line < lines.length) {
      const source = lines[d.line].replace(/\r$/, '');
      const width = Math.max(1, Math.min(d.length, source.length - d.character));
      traceback.push(`    ${source}`, `    ${' '.repeat(d.character)}${'^'.repeat(width)}`);
    }
  }
  const first = diagnostics[0];
  return {
    ename: syntax.length > 0 ? 'SyntaxError' : 'TypeScriptError',
    evalue: first ? `${first.message} (TS${first.code})` : 'the cell did not compile',
    traceback,
  };
}

/** Stack lines that belong to the kernel's own machinery, not to the user's code or libraries. */
function isKernelFrame(line: string): boolean {
  return line.includes(`${KERNEL_DIR}${path.sep}`) || line.includes('node:internal/') || line.includes('(node:vm:');
}

export function runtimeError(error: unknown): ErrorContent {
  if (!(error instanceof Error) && !(error && typeof error === 'object' && 'stack' in error && 'message' in error)) {
    const shown = inspect(error);
    return { ename: 'Error', evalue: `Uncaught ${shown}`, traceback: [`Uncaught ${shown}`] };
  }
  const e = error as Error;
  const ename = e.name || e.constructor?.name || 'Error';
  const evalue = String(e.message ?? '');
  const stack = typeof e.stack === 'string' ? e.stack.split('\n') : [];
  const frames = stack.filter((line) => /^\s+at /.test(line) && !isKernelFrame(line));
  const firstFrame = stack.findIndex((line) => /^\s+at /.test(line));
  const header = firstFrame < 0 ? stack : stack.slice(0, firstFrame);
  // A stack starts with "name: message"; some errors rewrite `message` later, so check before trusting it.
  const headerLines = header.join('\n').includes(evalue.split('\n')[0]) ? header : [`${ename}: ${evalue}`];
  return { ename, evalue, traceback: [...headerLines, ...frames] };
}

export function interruptedError(): ErrorContent {
  const evalue = 'The cell was interrupted. The kernel is still running and keeps the variables set so far.';
  return { ename: 'InterruptedError', evalue, traceback: [`InterruptedError: ${evalue}`] };
}

/** Something the kernel itself could not do for this cell (e.g. an import outside the project). */
export function kernelError(ename: string, message: string): ErrorContent {
  return { ename, evalue: message, traceback: [`${ename}: ${message}`] };
}

/** A cell the heap watchdog stopped (kernel/heap-watchdog.ts) before the heap ran out. */
export function memoryError(usedMiB: number, limitMiB: number): ErrorContent {
  return kernelError(
    'MemoryError',
    `The cell was stopped: the kernel's JavaScript heap was nearly full (${usedMiB} of ${limitMiB} MiB), and running out ` +
      'would have ended the kernel and lost every variable. The kernel is still running. Its variables may still hold ' +
      'that memory: set large ones to undefined (declare them with let), dispose() tensors you no longer need, or restart ' +
      'the kernel from the front end to start afresh. For a larger heap, start Jupyter with ' +
      'NODE_OPTIONS=--max-old-space-size=<MiB>.',
  );
}
