/**
 * is_complete: may the console run this code now, wait for more lines, or
 * tell the user it can never be valid?
 *
 * The TypeScript parser's diagnostics decide. Code that parses is complete.
 * Code whose only errors sit at its very end and say something is missing
 * ("'}' expected", an unterminated template literal or comment) is
 * incomplete: more lines can finish it. Any other syntax error (`)`,
 * `let 1x = 2`, a string literal cut by the end of a line) is invalid: no
 * continuation can fix it. tslab answered "complete" for all of these.
 */
import { ts } from './typescript';

export type CompletenessStatus = 'complete' | 'incomplete' | 'invalid';

export interface Completeness {
  status: CompletenessStatus;
  /** For incomplete code: the indentation of the next line. */
  indent?: string;
}

/** Diagnostics at the end of the text that more text can resolve. */
const CONTINUABLE = new Set([
  1003, // Identifier expected.
  1005, // '{0}' expected.
  1010, // '*/' expected.
  1109, // Expression expected.
  1126, // Unexpected end of text.
  1160, // Unterminated template literal.
]);
const UNTERMINATED_STRING = 1002;

export function isComplete(code: string): Completeness {
  // Two blank lines at the end force execution (tslab's convention for consoles).
  if (/(^|\n)\s*\n\s*$/.test(code) && code.trim() !== '') return { status: 'complete' };
  const source = ts.createSourceFile('cell.ts', code, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const diagnostics: readonly { start?: number; length?: number; code: number }[] =
    (source as unknown as { parseDiagnostics: { start?: number; length?: number; code: number }[] }).parseDiagnostics ?? [];
  if (diagnostics.length === 0) return { status: 'complete' };
  const atEnd = (d: { start?: number; length?: number }) => d.start === code.length && (d.length ?? 0) === 0;
  // A line ending in a backslash continues a string literal.
  const continues = (d: { code: number }) => CONTINUABLE.has(d.code) || (d.code === UNTERMINATED_STRING && code.endsWith('\\'));
  if (diagnostics.every((d) => atEnd(d) && continues(d))) {
    const { isCompleteCode } = require('tslab/dist/converter') as typeof import('tslab/dist/converter');
    return { status: 'incomplete', indent: isCompleteCode(code).indent ?? '' };
  }
  return { status: 'invalid' };
}
