/**
 * Reading one TypeScript code cell the way export needs it: which imports and
 * ambient declarations must move to the top of the script, what code stays in
 * place, which names the cell declares for later cells, and whether the cell
 * ends in an expression whose value the notebook would show.
 */
import * as ts from 'typescript';

/** A name a cell imports: `import { imported as local } from ...`. */
export interface NamedImport {
  local: string;
  /** The exported name: 'default', '*', or the name in braces. */
  imported: string;
  /** The specifier as written (`a`, `a as b`, `type A`). */
  text: string;
}

/** One import statement of a cell. */
export interface ImportStatement {
  /** Module name, as resolved (no quotes). */
  module: string;
  /** Module name as written, with its quotes. */
  moduleText: string;
  /** Import attributes as written (`with { type: 'json' }`), or ''. */
  attributes: string;
  /** `import type ...`. */
  typeOnly: boolean;
  defaultName?: string;
  namespaceName?: string;
  named: NamedImport[];
  /** `import fs = require('fs')`: kept as written. */
  equalsText?: string;
  /** 1-based line in the cell, for messages. */
  line: number;
}

/** Where a cell's last expression statement sits in its `body`. */
export interface LastExpression {
  /** The statement, including its semicolon. */
  statementStart: number;
  statementEnd: number;
  /** The expression inside it. */
  expressionStart: number;
  expressionEnd: number;
  /** An assignment, `++`, `delete` or `void`: run for its effect, its value is noise in a script. */
  effectOnly: boolean;
}

export interface CellCode {
  imports: ImportStatement[];
  /** Ambient declarations (`declare ...`) and namespaces: only allowed at the top of a module. */
  hoisted: string[];
  /** The code that stays in place: the cell without its imports and hoisted declarations. */
  body: string;
  /** Top-level names the body declares (variables, functions, classes, types). */
  declared: string[];
  lastExpression?: LastExpression;
}

/** Thrown for a cell that cannot become part of a script; `line` is 1-based in the cell. */
export class CellCodeProblem extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
    this.name = 'CellCodeProblem';
  }
}

/** Parses code as TypeScript with parent links (so node.getText() works). */
export function parseTypeScript(code: string, fileName = 'cell.ts'): ts.SourceFile {
  return ts.createSourceFile(fileName, code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

/** The syntax errors of a parsed file, through the public program API. */
export function syntaxErrors(sourceFile: ts.SourceFile): readonly ts.Diagnostic[] {
  const name = sourceFile.fileName;
  const host: ts.CompilerHost = {
    getSourceFile: (file) => (file === name ? sourceFile : undefined),
    writeFile: () => undefined,
    getDefaultLibFileName: () => 'lib.d.ts',
    useCaseSensitiveFileNames: () => true,
    getCanonicalFileName: (file) => file,
    getCurrentDirectory: () => '',
    getNewLine: () => '\n',
    fileExists: (file) => file === name,
    readFile: () => undefined,
  };
  const program = ts.createProgram([name], { noLib: true, noResolve: true, types: [] }, host);
  return program.getSyntacticDiagnostics(sourceFile);
}

/** 1-based line of a position. */
export function lineOf(sourceFile: ts.SourceFile, position: number): number {
  return sourceFile.getLineAndCharacterOfPosition(position).line + 1;
}

/** Names bound by a declaration name, through destructuring patterns. */
function boundNames(name: ts.BindingName): string[] {
  if (ts.isIdentifier(name)) return [name.text];
  return name.elements.flatMap((element) => (ts.isOmittedExpression(element) ? [] : boundNames(element.name)));
}

function hasModifier(node: ts.Node, kind: ts.SyntaxKind): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === kind);
}

/** Top-level names that statements declare. */
export function declaredNames(statements: readonly ts.Statement[]): string[] {
  const names: string[] = [];
  for (const statement of statements) {
    if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) names.push(...boundNames(declaration.name));
    } else if (
      (ts.isFunctionDeclaration(statement) ||
        ts.isClassDeclaration(statement) ||
        ts.isEnumDeclaration(statement) ||
        ts.isInterfaceDeclaration(statement) ||
        ts.isTypeAliasDeclaration(statement) ||
        ts.isImportEqualsDeclaration(statement)) &&
      statement.name
    ) {
      names.push(statement.name.text);
    }
  }
  return names;
}

/** Every name declared anywhere in a file (variables, parameters, functions, imports...). */
export function namesDeclaredAnywhere(sourceFile: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  const visit = (node: ts.Node): void => {
    if ((ts.isVariableDeclaration(node) || ts.isParameter(node) || ts.isBindingElement(node)) && ts.isIdentifier(node.name)) {
      names.add(node.name.text);
    } else if (
      (ts.isFunctionDeclaration(node) ||
        ts.isFunctionExpression(node) ||
        ts.isClassDeclaration(node) ||
        ts.isClassExpression(node) ||
        ts.isEnumDeclaration(node) ||
        ts.isImportSpecifier(node) ||
        ts.isImportClause(node) ||
        ts.isNamespaceImport(node) ||
        ts.isImportEqualsDeclaration(node)) &&
      node.name &&
      ts.isIdentifier(node.name)
    ) {
      names.add(node.name.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
  return names;
}

function readImport(statement: ts.ImportDeclaration, sourceFile: ts.SourceFile): ImportStatement {
  const specifier = statement.moduleSpecifier as ts.StringLiteral;
  const clause = statement.importClause;
  const result: ImportStatement = {
    module: specifier.text,
    moduleText: specifier.getText(sourceFile),
    attributes: statement.attributes ? statement.attributes.getText(sourceFile) : '',
    typeOnly: clause?.isTypeOnly ?? false,
    named: [],
    line: lineOf(sourceFile, statement.getStart(sourceFile)),
  };
  if (clause?.name) result.defaultName = clause.name.text;
  const bindings = clause?.namedBindings;
  if (bindings && ts.isNamespaceImport(bindings)) result.namespaceName = bindings.name.text;
  if (bindings && ts.isNamedImports(bindings)) {
    result.named = bindings.elements.map((element) => ({
      local: element.name.text,
      imported: (element.propertyName ?? element.name).text,
      text: element.getText(sourceFile),
    }));
  }
  return result;
}

/** The span of a whole statement, widened to its line when nothing else is on it. */
function statementSpan(code: string, start: number, end: number): [number, number] {
  let lineStart = start;
  while (lineStart > 0 && (code[lineStart - 1] === ' ' || code[lineStart - 1] === '\t')) lineStart--;
  let lineEnd = end;
  while (lineEnd < code.length && (code[lineEnd] === ' ' || code[lineEnd] === '\t')) lineEnd++;
  const wholeLines = (lineStart === 0 || code[lineStart - 1] === '\n') && (lineEnd === code.length || code[lineEnd] === '\n');
  return wholeLines ? [lineStart, Math.min(lineEnd + 1, code.length)] : [start, end];
}

/** Removes leading and trailing blank lines. */
export function trimBlankLines(text: string): string {
  const lines = text.split('\n');
  while (lines.length > 0 && lines[0].trim() === '') lines.shift();
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  return lines.join('\n');
}

const EFFECT_OPERATORS = new Set([
  ts.SyntaxKind.EqualsToken,
  ts.SyntaxKind.PlusEqualsToken,
  ts.SyntaxKind.MinusEqualsToken,
  ts.SyntaxKind.AsteriskEqualsToken,
  ts.SyntaxKind.AsteriskAsteriskEqualsToken,
  ts.SyntaxKind.SlashEqualsToken,
  ts.SyntaxKind.PercentEqualsToken,
  ts.SyntaxKind.LessThanLessThanEqualsToken,
  ts.SyntaxKind.GreaterThanGreaterThanEqualsToken,
  ts.SyntaxKind.GreaterThanGreaterThanGreaterThanEqualsToken,
  ts.SyntaxKind.AmpersandEqualsToken,
  ts.SyntaxKind.BarEqualsToken,
  ts.SyntaxKind.CaretEqualsToken,
  ts.SyntaxKind.BarBarEqualsToken,
  ts.SyntaxKind.AmpersandAmpersandEqualsToken,
  ts.SyntaxKind.QuestionQuestionEqualsToken,
]);

function isEffectOnly(expression: ts.Expression): boolean {
  while (ts.isParenthesizedExpression(expression)) expression = expression.expression;
  if (ts.isBinaryExpression(expression)) return EFFECT_OPERATORS.has(expression.operatorToken.kind);
  if (ts.isPrefixUnaryExpression(expression) || ts.isPostfixUnaryExpression(expression)) {
    return expression.operator === ts.SyntaxKind.PlusPlusToken || expression.operator === ts.SyntaxKind.MinusMinusToken;
  }
  return ts.isDeleteExpression(expression) || ts.isVoidExpression(expression);
}

/** The cell's last statement when it is an expression statement (what tslab shows as Out[n]). */
export function lastExpressionOf(sourceFile: ts.SourceFile): LastExpression | undefined {
  const last = sourceFile.statements[sourceFile.statements.length - 1];
  if (!last || !ts.isExpressionStatement(last)) return undefined;
  return {
    statementStart: last.getStart(sourceFile),
    statementEnd: last.end,
    expressionStart: last.expression.getStart(sourceFile),
    expressionEnd: last.expression.end,
    effectOnly: isEffectOnly(last.expression),
  };
}

/** A tslab cell that defines a module (`/** @module name *\/`) or runs in the browser (`@browser`). */
function tslabDirective(code: string): string | undefined {
  const comment = /^\s*(\/\*\*[\s\S]*?\*\/)/.exec(code);
  const tag = comment && /@(module|browser)\b\s*([\w./-]*)/.exec(comment[1]);
  return tag ? `@${tag[1]}${tag[2] ? ' ' + tag[2] : ''}` : undefined;
}

/**
 * Splits a code cell (which must parse) into what moves to the top of the
 * script and what stays. Throws {@link CellCodeProblem} for code that has no
 * place in a script.
 */
export function readCellCode(code: string): CellCode {
  const directive = tslabDirective(code);
  if (directive) {
    throw new CellCodeProblem(
      1,
      `is a tslab ${directive.startsWith('@module') ? 'module' : 'browser'} cell (\`${directive}\`), which has no ` +
        'equivalent in a script: move its code into a .ts file next to the notebook and import it, or tag the cell `skip-export`',
    );
  }
  const sourceFile = parseTypeScript(code);
  const imports: ImportStatement[] = [];
  const hoisted: string[] = [];
  const removals: [number, number][] = [];
  for (const statement of sourceFile.statements) {
    const start = statement.getStart(sourceFile);
    const line = lineOf(sourceFile, start);
    if (ts.isImportDeclaration(statement)) {
      imports.push(readImport(statement, sourceFile));
      removals.push(statementSpan(code, start, statement.end));
    } else if (ts.isImportEqualsDeclaration(statement) && ts.isExternalModuleReference(statement.moduleReference)) {
      const text = statement.getText(sourceFile);
      const module = statement.moduleReference.expression;
      imports.push({
        module: ts.isStringLiteral(module) ? module.text : module.getText(sourceFile),
        moduleText: module.getText(sourceFile),
        attributes: '',
        typeOnly: statement.isTypeOnly,
        named: [{ local: statement.name.text, imported: '=', text }],
        equalsText: text,
        line,
      });
      removals.push(statementSpan(code, start, statement.end));
    } else if (ts.isExportDeclaration(statement) || ts.isExportAssignment(statement)) {
      throw new CellCodeProblem(
        line,
        `has an export statement (\`${statement.getText(sourceFile).split('\n')[0]}\`), which means nothing in a notebook ` +
          'or a script: remove it',
      );
    } else if (hasModifier(statement, ts.SyntaxKind.DeclareKeyword) || ts.isModuleDeclaration(statement)) {
      hoisted.push(statement.getText(sourceFile));
      removals.push(statementSpan(code, start, statement.end));
    } else if (hasModifier(statement, ts.SyntaxKind.ExportKeyword)) {
      if (hasModifier(statement, ts.SyntaxKind.DefaultKeyword)) {
        throw new CellCodeProblem(line, '`export default` means nothing in a notebook or a script: remove `export default`');
      }
      // tslab accepts `export const x = ...`; in a script the cell runs inside main(), where
      // `export` is not allowed, and it changes nothing in the notebook: drop the keyword.
      const modifier = ts.getModifiers(statement as ts.HasModifiers)!.find((m) => m.kind === ts.SyntaxKind.ExportKeyword)!;
      let end = modifier.end;
      while (code[end] === ' ' || code[end] === '\t') end++;
      removals.push([modifier.getStart(sourceFile), end]);
    }
  }
  let body = code;
  for (const [start, end] of removals.sort((a, b) => b[0] - a[0])) body = body.slice(0, start) + body.slice(end);
  body = trimBlankLines(body);
  const bodyFile = parseTypeScript(body);
  return { imports, hoisted, body, declared: declaredNames(bodyFile.statements), lastExpression: lastExpressionOf(bodyFile) };
}

/**
 * `code` with a semicolon after its last statement when the code that follows
 * it in the script would otherwise continue that statement. Cells run one by
 * one in a notebook, but follow each other in a script: a cell ending in
 * `n = 5` followed by one starting with `[1, 2].forEach(...)` would read as
 * `n = 5[1, 2].forEach(...)`.
 */
export function terminateBefore(code: string, next: string): string {
  const alone = parseTypeScript(code).statements;
  if (alone.length === 0) return code;
  const last = alone[alone.length - 1];
  const together = parseTypeScript(`${code}\n${next}`).statements;
  if (together[alone.length - 1]?.end === last.end) return code;
  return code.slice(0, last.end) + ';' + code.slice(last.end);
}
