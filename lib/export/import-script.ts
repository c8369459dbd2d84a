/**
 * A percent-format script back to a notebook: cells split at `// %%` lines,
 * `// %% [markdown]` blocks uncommented into markdown cells, and what export
 * added taken away again (the header, the main() wrapper, the blocks for
 * names declared again, `showCellValue(...)` around a cell's last value).
 * The gathered imports go to the top of the first code cell.
 *
 * Scripts written by hand or by Jupytext (no main() wrapper) import too: their
 * cells are taken as they are.
 */
import * as path from 'path';
import * as ts from 'typescript';
import { DataFileError } from '../core/errors';
import { lineOf, parseTypeScript, trimBlankLines } from './cell-code';
import { ESM_IMPORTS_COMMENT, staticImportFor } from './esm-imports';
import { CellContent, Notebook, tslabDlNotebook } from './notebook';
import { moduleRebaser, rebaseModules } from './relative-modules';
import {
  BLOCK_END,
  CELL_VALUE_HELPER,
  HEADER,
  MAIN_NAME,
  markerType,
  MODULE_MARKER,
  NEW_BLOCK_PREFIX,
  READY_COMMENT,
  readyCall,
  uncommentLines,
} from './percent';

/** Options of {@link importScript}: how messages name the script, and where the script and notebook are. */
export interface ImportOptions {
  /** How messages name the script, usually its path. Defaults to 'the script'. */
  source?: string;
  /** Where the script is. Defaults to the notebook's folder. */
  scriptPath?: string;
  /**
   * Where the notebook will be. Relative module paths in the script (`'../lib/x'`)
   * are rewritten to hold from the notebook's folder. Defaults to the script's folder.
   */
  notebookPath?: string;
}

/** Converts the text of a percent-format TypeScript script to a tslab-dl notebook. */
export function importScript(text: string, options: ImportOptions = {}): Notebook {
  const source = options.source ?? 'the script';
  const script = text.replace(/\r\n?/g, '\n');
  const sourceFile = parseTypeScript(script, 'script.ts');
  const main = sourceFile.statements.find(isMainWrapper);

  let prelude = '';
  let body = script;
  if (main) {
    checkEpilogue(sourceFile, main, source);
    const block = main.body!;
    const preamble = takeMainPreamble(stripBlockEnds(script.slice(block.getStart(sourceFile) + 1, block.end - 1)));
    body = preamble.rest;
    prelude = preludeCode(sourceFile, main, preamble.imports);
  }

  const cells = splitCells(body);
  if (prelude !== '') {
    const firstCode = cells.find((cell) => cell.type === 'code');
    if (firstCode) firstCode.text = firstCode.text === '' ? prelude : `${prelude}\n\n${firstCode.text}`;
    else cells.unshift({ type: 'code', text: prelude });
  }
  const scriptFolder = path.dirname(path.resolve(options.scriptPath ?? options.notebookPath ?? 'script.ts'));
  const rebase = moduleRebaser(scriptFolder, path.dirname(path.resolve(options.notebookPath ?? scriptFolder + '/notebook.ipynb')));
  for (const cell of cells) if (cell.type === 'code') cell.text = rebaseModules(cell.text, rebase);
  return tslabDlNotebook(cells);
}

/** `async function main() { ... }` at the top level. */
function isMainWrapper(statement: ts.Statement): statement is ts.FunctionDeclaration {
  return (
    ts.isFunctionDeclaration(statement) &&
    statement.name?.text === MAIN_NAME &&
    statement.body !== undefined &&
    (ts.getModifiers(statement) ?? []).some((m) => m.kind === ts.SyntaxKind.AsyncKeyword)
  );
}

/**
 * The statements before main() (imports, ambient declarations), without the header
 * comment, with `esmImports` (from the start of main()) after the other imports.
 */
function preludeCode(sourceFile: ts.SourceFile, main: ts.FunctionDeclaration, esmImports: string[]): string {
  const statements = sourceFile.statements.filter((s) => s.end <= main.getStart(sourceFile));
  const kept = statements.map((s) => s.getText(sourceFile)).filter((text) => text !== MODULE_MARKER);
  // Comments of the user's own between the header and main() are kept with the code.
  const header = HEADER.join('\n');
  const start = statements.length > 0 ? statements[0].getStart(sourceFile) : main.getStart(sourceFile);
  const leading = sourceFile.text.slice(0, start).replace(header, '');
  const comments = trimBlankLines(leading);
  const imports = [...kept.filter((text) => /^import\b/.test(text)), ...esmImports];
  const others = kept.filter((text) => !/^import\b/.test(text));
  return [comments, imports.join('\n'), others.join('\n\n')].filter((part) => part !== '').join('\n\n');
}

/** After main(): only export's own helper and the `main().catch(...)` call may follow. */
function checkEpilogue(sourceFile: ts.SourceFile, main: ts.FunctionDeclaration, source: string): void {
  for (const statement of sourceFile.statements) {
    if (statement.pos < main.end) continue;
    if (ts.isFunctionDeclaration(statement) && statement.name?.text === CELL_VALUE_HELPER) continue;
    if (ts.isExpressionStatement(statement) && callsMain(statement.expression)) continue;
    const line = lineOf(sourceFile, statement.getStart(sourceFile));
    throw new DataFileError(
      source,
      `line ${line}: code after main() (\`${statement.getText(sourceFile).split('\n')[0]}\`) belongs to no cell. ` +
        'Move it into a cell inside main() (after a `// %%` line), then import the script again.',
    );
  }
}

/** `main()`, `main().catch(...)`, `void main()`... */
function callsMain(expression: ts.Expression): boolean {
  let found = false;
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === MAIN_NAME) found = true;
    else ts.forEachChild(node, visit);
  };
  visit(expression);
  return found;
}

/**
 * What export wrote at the start of main(), before the first cell: `await import(...)`
 * for ES-module-only packages (returned as the static imports they were) and the
 * `await ready()` of the kernel's start-up (dropped). Returns the body without them.
 */
function takeMainPreamble(body: string): { imports: string[]; rest: string } {
  const lines = body.split('\n');
  let firstMarker = lines.findIndex((line) => markerType(line) !== undefined);
  if (firstMarker < 0) firstMarker = lines.length;
  const preamble = lines.slice(0, firstMarker);
  const hasEsm = preamble.includes(ESM_IMPORTS_COMMENT);
  const hasReady = preamble.includes(READY_COMMENT);
  if (!hasEsm && !hasReady) return { imports: [], rest: body };
  const code = preamble.filter((line) => line !== ESM_IMPORTS_COMMENT && line !== READY_COMMENT).join('\n');
  const sourceFile = parseTypeScript(code);
  const imports: string[] = [];
  const kept: string[] = [];
  for (const statement of sourceFile.statements) {
    const text = statement.getText(sourceFile);
    const staticImport = hasEsm ? staticImportFor(statement, sourceFile) : undefined;
    if (staticImport) imports.push(staticImport);
    else if (!(hasReady && isReadyCall(text))) kept.push(text);
  }
  return { imports, rest: [...kept, ...lines.slice(firstMarker)].join('\n') };
}

/** `await ready();` as export writes it (under either name it may import ready as). */
function isReadyCall(text: string): boolean {
  return text === readyCall('ready') || text === readyCall('tslabDlReady');
}

/** Removes the closing braces export wrote for new blocks (the last lines of main's body). */
function stripBlockEnds(body: string): string {
  const lines = body.split('\n');
  let end = lines.length;
  while (end > 0 && (lines[end - 1].trim() === '' || lines[end - 1] === BLOCK_END)) end--;
  return lines.slice(0, end).join('\n');
}

/** Splits at `// %%` lines; text before the first marker is a code cell unless it is only comments. */
function splitCells(body: string): CellContent[] {
  const cells: CellContent[] = [];
  let type: CellContent['type'] | undefined;
  let lines: string[] = [];
  const finish = (): void => {
    if (type === undefined) {
      const text = trimBlankLines(lines.join('\n'));
      const onlyComments = text.split('\n').every((line) => line.trim() === '' || line.trim().startsWith('//'));
      if (!onlyComments) cells.push({ type: 'code', text });
    } else if (type === 'code') {
      cells.push({ type, text: codeCellText(lines) });
    } else {
      cells.push({ type, text: trimBlankLines(uncommentLines(trimBlankLines(lines.join('\n')).split('\n'))) });
    }
  };
  for (const line of body.split('\n')) {
    const next = markerType(line);
    if (next === undefined) {
      lines.push(line);
      continue;
    }
    finish();
    type = next;
    lines = [];
  }
  finish();
  return cells;
}

/** A code cell's text without export's additions. */
function codeCellText(lines: string[]): string {
  let text = trimBlankLines(lines.join('\n'));
  if (text.startsWith(NEW_BLOCK_PREFIX)) text = trimBlankLines(text.slice(text.indexOf('\n') + 1 || text.length));
  return unwrapCellValue(text);
}

/** `showCellValue(x);` as the cell's last statement becomes `x;` again. */
function unwrapCellValue(code: string): string {
  const sourceFile = parseTypeScript(code);
  const last = sourceFile.statements[sourceFile.statements.length - 1];
  if (!last || !ts.isExpressionStatement(last)) return code;
  const call = last.expression;
  if (
    !ts.isCallExpression(call) ||
    !ts.isIdentifier(call.expression) ||
    call.expression.text !== CELL_VALUE_HELPER ||
    call.arguments.length !== 1
  ) {
    return code;
  }
  return code.slice(0, last.getStart(sourceFile)) + call.arguments[0].getText(sourceFile) + ';' + code.slice(last.end);
}
