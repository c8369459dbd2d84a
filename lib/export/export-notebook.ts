/**
 * A notebook as a runnable TypeScript script (see percent.ts for the layout).
 *
 * Rules: code cells in order; markdown and raw cells as `//` comment blocks;
 * cells tagged `skip-export` (or `raises-exception`: meant to fail) and empty
 * cells left out; imports hoisted and merged; a cell's last expression shown as
 * the notebook shows it; a cell that declares a name again gets a new block, so
 * the script means what the notebook means; the backend chosen before the first
 * cell, as the kernel does. A notebook that cannot become such a script (another
 * language, a syntax error, conflicting imports) is refused with a message
 * naming the cell.
 */
import * as path from 'path';
import * as ts from 'typescript';
import { DataFileError } from '../core/errors';
import {
  CellCode,
  CellCodeProblem,
  lastExpressionOf,
  lineOf,
  namesDeclaredAnywhere,
  parseTypeScript,
  readCellCode,
  syntaxErrors,
  terminateBefore,
  trimBlankLines,
} from './cell-code';
import { valuesWorthShowing } from './cell-values';
import { ESM_IMPORTS_COMMENT, esmOnlyModules } from './esm-imports';
import { ImportConflict, ImportSet } from './imports';
import { moduleRebaser, rebaseModules } from './relative-modules';
import { declaredCellLanguage, firstLine, notebookLanguageProblem, pythonLine, undeclaredPythonCall } from './language';
import {
  cellName,
  cellTags,
  cellText,
  checkNotebook,
  Notebook,
  NotebookCell,
  parseNotebook,
  RAISES_EXCEPTION_TAG,
  SKIP_EXPORT_TAG,
} from './notebook';
import {
  BLOCK_END,
  CELL_VALUE_HELPER,
  CODE_MARKER,
  cellValueHelper,
  commentLines,
  HEADER,
  MAIN_END,
  MAIN_START,
  MARKDOWN_MARKER,
  markerType,
  MODULE_MARKER,
  newBlockLine,
  RAW_MARKER,
  READY_COMMENT,
  readyCall,
  RUN_MAIN,
} from './percent';
import { typeScriptName } from './script-name';

/** Options of {@link exportNotebook}: how messages name the notebook, and where the script and notebook are. */
export interface ExportOptions {
  /** How messages name the notebook, usually its path. Defaults to 'the notebook'. */
  source?: string;
  /**
   * Where the script will be written: its imports resolve from there when the
   * checker looks at the cells' last values. Defaults to `notebook.ts` in the current folder.
   */
  scriptPath?: string;
  /**
   * Where the notebook is. Relative module paths in its cells (`'../lib/x'`) are
   * rewritten to hold from the script's folder. Defaults to the script's folder.
   */
  notebookPath?: string;
  /**
   * Ask the TypeScript checker which last expressions have a value (so that
   * `model.summary();` is not wrapped in showCellValue). Defaults to true; false
   * wraps every last expression that is not an assignment, which is faster and
   * prints the same (the helper skips undefined).
   */
  checkTypes?: boolean;
}

/** The library whose display() shows cell values, and whose ready() the kernel awaits before the first cell. */
const LIBRARY = 'tslab-dl';

interface ExportedCell {
  index: number;
  cell: NotebookCell;
  type: NotebookCell['cell_type'];
  text: string;
  sourceFile?: ts.SourceFile;
  code?: CellCode;
  /** Names declared again: the cell opens a new block. */
  redeclared: string[];
}

/** Converts a notebook (object or JSON text) to the text of a TypeScript script. */
export function exportNotebook(notebook: Notebook | string, options: ExportOptions = {}): string {
  const source = options.source ?? 'the notebook';
  const nb = typeof notebook === 'string' ? parseNotebook(notebook, source) : checkNotebook(notebook, source);
  const languageProblem = notebookLanguageProblem(nb.metadata);
  if (languageProblem) throw new DataFileError(source, `${languageProblem}.`);

  // The checker sees the script under a TypeScript name, whatever the file's name (script-name.ts).
  const scriptPath = path.resolve(typeScriptName(options.scriptPath ?? 'notebook.ts'));
  const rebase = moduleRebaser(path.dirname(path.resolve(options.notebookPath ?? scriptPath)), path.dirname(scriptPath));
  const cells = selectCells(nb, source);
  checkForPython(cells, source);
  for (const cell of cells) {
    if (cell.type !== 'code') continue;
    try {
      cell.code = readCellCode(rebaseModules(cell.text, rebase));
    } catch (e) {
      if (e instanceof CellCodeProblem) throw cellError(source, cell, e.line, e.message);
      throw e;
    }
  }
  const imports = gatherImports(cells, source);
  const hoisted = cells.flatMap((cell) => cell.code?.hoisted ?? []);
  // A cell of imports only has nothing left in main(): no marker for it either (import puts the
  // imports in the first code cell, so an empty marker would not come back).
  const scriptCells = cells.filter((cell) => cell.type !== 'code' || cell.code!.body !== '');
  separateCells(scriptCells);
  // The tslab-dl kernel chooses the TensorFlow.js backend before the first cell runs, and
  // notebooks count on it (backendInfo() in the first cell): a script that imports the library
  // does the same. (Also when only export's own display() import brings the library in: the
  // script imported back then imports it, and must export the same way again.)
  const usesLibrary = cells.some((cell) => cell.code?.imports.some((i) => i.module === LIBRARY && !i.typeOnly));
  let readyName = usesLibrary ? importFromLibrary(imports, cells, 'ready', 'tslabDlReady', source) : undefined;
  const esmOnly = esmOnlyModules(imports.modules(), scriptPath);
  const importLines = () => imports.render((module) => esmOnly.has(module));

  // Which cells show a value: render once without wrapping, ask the checker, render again.
  const candidates = scriptCells.filter((cell) => cell.code?.lastExpression && !cell.code.lastExpression.effectOnly);
  let shown = new Set(candidates.map((cell) => cell.index));
  if (options.checkTypes !== false && candidates.length > 0) {
    const plain = render(scriptCells, importLines(), readyName, hoisted, new Set());
    const worth = valuesWorthShowing(
      plain.text,
      scriptPath,
      candidates.map((c) => plain.offsets.get(c.index)!),
    );
    shown = new Set(candidates.filter((_, i) => worth[i]).map((cell) => cell.index));
  }
  let helper: string[] = [];
  if (shown.size > 0) {
    helper = cellValueHelper(importFromLibrary(imports, cells, 'display', 'tslabDlDisplay', source));
    readyName ??= importFromLibrary(imports, cells, 'ready', 'tslabDlReady', source);
  }
  return render(scriptCells, importLines(), readyName, hoisted, shown, helper).text;
}

function cellError(source: string, cell: ExportedCell, line: number | undefined, message: string): DataFileError {
  const where = line === undefined ? cellName(cell.cell, cell.index) : `${cellName(cell.cell, cell.index)}, line ${line}`;
  return new DataFileError(source, `${where} ${message}.`);
}

/** The cells that go into the script, with the checks that need only one cell. */
function selectCells(nb: Notebook, source: string): ExportedCell[] {
  const cells: ExportedCell[] = [];
  nb.cells.forEach((cell, index) => {
    const tags = cellTags(cell);
    if (tags.includes(SKIP_EXPORT_TAG) || tags.includes(RAISES_EXCEPTION_TAG)) return;
    const text = trimBlankLines(cellText(cell));
    if (text.trim() === '') return;
    const exported: ExportedCell = { index, cell, type: cell.cell_type, text, redeclared: [] };
    const markerLine = text.split('\n').findIndex((line) => markerType(cell.cell_type === 'code' ? line : `// ${line}`) !== undefined);
    if (markerLine >= 0) {
      throw cellError(
        source,
        exported,
        markerLine + 1,
        `reads as a cell marker in the script (\`${text.split('\n')[markerLine].trim()}\`), so importing the script back ` +
          'would split the cell there: reword that line',
      );
    }
    if (cell.cell_type === 'code') {
      const language = declaredCellLanguage(cell.metadata, text);
      if (language) {
        throw cellError(
          source,
          exported,
          undefined,
          `is ${language.replace(/^%%/, '')} code, not TypeScript (${language.startsWith('%%') ? `cell magic ${language}` : `its metadata says ${language}`}; ` +
            `first line: \`${firstLine(text)}\`). tslab-dl exports TypeScript only: rewrite the cell in TypeScript, ` +
            `or tag it \`${SKIP_EXPORT_TAG}\` to leave it out`,
        );
      }
      exported.sourceFile = parseTypeScript(text);
      const errors = syntaxErrors(exported.sourceFile);
      if (errors.length > 0) {
        const python = pythonLine(text);
        if (python !== undefined) throw pythonError(source, exported, python);
        const error = errors[0];
        const line = lineOf(exported.sourceFile, error.start ?? 0);
        throw cellError(
          source,
          exported,
          line,
          `is not valid TypeScript: ${ts.flattenDiagnosticMessageText(error.messageText, ' ')} ` +
            `(\`${text.split('\n')[line - 1].trim()}\`). Fix the cell, or tag it \`${SKIP_EXPORT_TAG}\` to leave it out`,
        );
      }
    }
    cells.push(exported);
  });
  return cells;
}

function pythonError(source: string, cell: ExportedCell, evidence: string): DataFileError {
  const first = firstLine(cell.text);
  const shown = evidence === first ? `first line: \`${first}\`` : `first line: \`${first}\`; \`${evidence}\` is Python`;
  return cellError(
    source,
    cell,
    undefined,
    `looks like Python, not TypeScript (${shown}). tslab-dl exports TypeScript notebooks: ` +
      `rewrite the cell in TypeScript, or tag it \`${SKIP_EXPORT_TAG}\` to leave it out`,
  );
}

/** Cells that parse as TypeScript yet call Python builtins nobody declares, e.g. `print("hi")`. */
function checkForPython(cells: ExportedCell[], source: string): void {
  const declared = new Set<string>();
  for (const cell of cells) if (cell.sourceFile) for (const name of namesDeclaredAnywhere(cell.sourceFile)) declared.add(name);
  for (const cell of cells) {
    if (!cell.sourceFile) continue;
    const call = undeclaredPythonCall(cell.sourceFile, declared);
    if (call) throw pythonError(source, cell, `${call}(...)`);
  }
}

/** Merges the cells' imports and decides which cells need a new block. */
function gatherImports(cells: ExportedCell[], source: string): ImportSet {
  const imports = new ImportSet();
  const declaredIn = new Map<string, ExportedCell>();
  const byIndex = new Map(cells.map((cell) => [cell.index, cell]));
  for (const cell of cells) {
    if (!cell.code) continue;
    for (const statement of cell.code.imports) {
      const locals = [statement.defaultName, statement.namespaceName, ...statement.named.map((n) => n.local)];
      for (const local of locals) {
        const declaring = local === undefined ? undefined : declaredIn.get(local);
        if (declaring) {
          throw cellError(
            source,
            cell,
            statement.line,
            `imports \`${local}\`, which ${cellName(declaring.cell, declaring.index)} declares. The script gathers imports ` +
              'at its top, where the import would come before that declaration: rename one of them',
          );
        }
      }
      try {
        imports.add({ ...statement, site: { cell: cell.index, line: statement.line } });
      } catch (e) {
        if (!(e instanceof ImportConflict)) throw e;
        const other = byIndex.get(e.first.cell)!;
        throw cellError(
          source,
          cell,
          statement.line,
          `${e.message} (the other import: ${cellName(other.cell, other.index)}, line ${e.first.line})`,
        );
      }
    }
    cell.redeclared = cell.code.declared.filter((name) => declaredIn.has(name) || imports.siteOf(name) !== undefined);
    for (const name of cell.code.declared) declaredIn.set(name, cell);
    if (cell.code.declared.includes(CELL_VALUE_HELPER) || imports.siteOf(CELL_VALUE_HELPER)) {
      throw cellError(source, cell, undefined, `declares \`${CELL_VALUE_HELPER}\`, a name the exported script uses for itself: rename it`);
    }
  }
  return imports;
}

/**
 * Ends a cell's last statement with `;` where the code after it would otherwise continue it.
 * Cells of comments only are looked through: the next statement may be cells further on.
 */
function separateCells(cells: ExportedCell[]): void {
  const code = cells.filter((cell) => cell.code && cell.code.body !== '');
  const textOf = (cell: ExportedCell) => (cell.redeclared.length > 0 ? newBlockLine(cell.redeclared) + '\n' : '') + cell.code!.body;
  const hasStatements = (cell: ExportedCell) => parseTypeScript(cell.code!.body).statements.length > 0;
  for (let i = 0; i + 1 < code.length; i++) {
    let j = i + 1;
    while (j + 1 < code.length && !hasStatements(code[j])) j++;
    const next = code
      .slice(i + 1, j + 1)
      .map(textOf)
      .join('\n');
    const current = code[i].code!;
    const body = terminateBefore(current.body, next);
    if (body !== current.body) code[i].code = { ...current, body, lastExpression: lastExpressionOf(parseTypeScript(body)) };
  }
}

/**
 * Imports `name` from tslab-dl for the script's own use and returns the local name:
 * `name` itself unless a cell uses that name otherwise, then `fallback`.
 */
function importFromLibrary(imports: ImportSet, cells: ExportedCell[], name: string, fallback: string, source: string): string {
  const declared = (local: string) => cells.some((cell) => cell.code?.declared.includes(local));
  const local = [name, fallback].find(
    (candidate) => imports.binds(candidate, LIBRARY, name) || (!imports.siteOf(candidate) && !declared(candidate)),
  );
  if (!local) {
    throw new DataFileError(
      source,
      `uses both \`${name}\` and \`${fallback}\` for its own purposes; rename one so that the script can import ${name}() from ${LIBRARY}.`,
    );
  }
  imports.add({
    module: LIBRARY,
    moduleText: `'${LIBRARY}'`,
    attributes: '',
    typeOnly: false,
    named: [{ local, imported: name, text: local === name ? name : `${name} as ${local}` }],
    line: 0,
    site: { cell: -1, line: 0 },
  });
  return local;
}

interface Rendered {
  text: string;
  /** Offset of each shown-value candidate's expression, by cell index. */
  offsets: Map<number, number>;
}

function render(
  cells: ExportedCell[],
  imports: { top: string[]; inMain: string[] },
  readyName: string | undefined,
  hoisted: string[],
  shown: Set<number>,
  helper: string[] = [],
): Rendered {
  let text = HEADER.join('\n') + '\n\n';
  text += (imports.top.length > 0 ? imports.top.join('\n') : MODULE_MARKER) + '\n\n';
  if (hoisted.length > 0) text += hoisted.join('\n\n') + '\n\n';
  text += MAIN_START + '\n';
  if (imports.inMain.length > 0) text += [ESM_IMPORTS_COMMENT, ...imports.inMain].join('\n') + '\n\n';
  if (readyName) text += `${READY_COMMENT}\n${readyCall(readyName)}\n\n`;
  const offsets = new Map<number, number>();
  let blocks = 0;
  cells.forEach((cell, position) => {
    if (position > 0) text += '\n';
    if (cell.type !== 'code') {
      text += (cell.type === 'markdown' ? MARKDOWN_MARKER : RAW_MARKER) + '\n' + commentLines(cell.text).join('\n') + '\n';
      return;
    }
    text += CODE_MARKER + '\n';
    if (cell.redeclared.length > 0) {
      text += newBlockLine(cell.redeclared) + '\n';
      blocks++;
    }
    const { body, lastExpression: last } = cell.code!;
    if (last && !last.effectOnly) {
      const expression = body.slice(last.expressionStart, last.expressionEnd);
      const bodyStart = text.length;
      if (shown.has(cell.index)) {
        // A comma expression would become two arguments: keep it one.
        const argument = isCommaExpression(expression) ? `(${expression})` : expression;
        text += body.slice(0, last.statementStart) + `${CELL_VALUE_HELPER}(${argument});` + body.slice(last.statementEnd) + '\n';
      } else {
        offsets.set(cell.index, bodyStart + last.expressionStart);
        text += body + '\n';
      }
    } else {
      text += body + '\n';
    }
  });
  for (let i = 0; i < blocks; i++) text += BLOCK_END + '\n';
  text += MAIN_END + '\n\n';
  if (helper.length > 0) text += helper.join('\n') + '\n\n';
  text += RUN_MAIN.join('\n') + '\n';
  return { text, offsets };
}

function isCommaExpression(expression: string): boolean {
  const statement = parseTypeScript(expression).statements[0];
  return (
    statement !== undefined &&
    ts.isExpressionStatement(statement) &&
    ts.isBinaryExpression(statement.expression) &&
    statement.expression.operatorToken.kind === ts.SyntaxKind.CommaToken
  );
}
