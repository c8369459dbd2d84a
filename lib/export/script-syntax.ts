/**
 * Syntax errors in a script given to `tslab-dl import`, as TypeScript's parser
 * reports them, at file:line:column (1-based, as tsc and editors print them).
 * Import refuses such a script unless --force: its cells would carry the errors
 * into the notebook, where they show up only when the cell runs.
 */
import * as ts from 'typescript';
import { DataFileError } from '../core/errors';
import { parseTypeScript, syntaxErrors } from './cell-code';

export interface SyntaxProblem {
  line: number;
  column: number;
  message: string;
}

/** How many errors the messages list; the rest are counted. */
const SHOWN = 10;

/** The syntax errors of `text` parsed as TypeScript, in order. */
export function scriptSyntaxErrors(text: string): SyntaxProblem[] {
  const sourceFile = parseTypeScript(text, 'script.ts');
  return syntaxErrors(sourceFile).map((diagnostic) => {
    const { line, character } = sourceFile.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    return { line: line + 1, column: character + 1, message: ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ') };
  });
}

/** One line per error (`file:line:column: message`), the first SHOWN of them, then how many more. */
export function syntaxErrorLines(file: string, problems: readonly SyntaxProblem[]): string[] {
  const lines = problems.slice(0, SHOWN).map((p) => `${file}:${p.line}:${p.column}: ${p.message}`);
  if (problems.length > SHOWN) lines.push(`${file}: ... and ${problems.length - SHOWN} more syntax errors`);
  return lines;
}

function count(problems: readonly SyntaxProblem[]): string {
  return problems.length === 1 ? '1 syntax error' : `${problems.length} syntax errors`;
}

/** The refusal of a script with syntax errors; `problems` for the lines above the message. */
export class ScriptSyntaxError extends DataFileError {
  constructor(
    file: string,
    readonly problems: readonly SyntaxProblem[],
  ) {
    super(file, `has ${count(problems)}: fix them and import again, or run again with --force to import the script as it is.`);
    this.name = 'ScriptSyntaxError';
  }
}

/** The one-line warning when --force imports such a script anyway. */
export function forcedImportWarning(file: string, problems: readonly SyntaxProblem[]): string {
  return `${file} has ${count(problems)}; imported anyway (--force): the notebook's cells hold the same errors.`;
}
