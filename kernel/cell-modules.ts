/**
 * The module specifiers a cell names, and rebasing its relative ones.
 *
 * tslab compiles every cell as a file in the converter's root folder, and that
 * folder is also the compiler's `rootDir`: a .ts file above it cannot be
 * imported ("is not under 'rootDir'"). The kernel roots the converter at the
 * project (the nearest folder above the notebook with a package.json) and
 * rewrites the cell's relative specifiers, written from the notebook's folder,
 * into the same files seen from the project root. Positions in compiler
 * answers (diagnostics, completions) are mapped back to the text the user typed.
 */
import * as path from 'path';
import { ts, TS } from './typescript';

/** A module specifier written in a cell: its text and the span of that text (inside the quotes). */
export interface SpecifierLiteral {
  text: string;
  start: number;
  end: number;
  /** Whether only types are imported (`import type ...`): nothing is loaded at run time. */
  typeOnly: boolean;
}

/** Every literal module specifier in `code`: imports, re-exports, `import()`, `require()`, `import x = require()`. */
export function moduleSpecifiers(code: string): SpecifierLiteral[] {
  const source = ts.createSourceFile('cell.ts', code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: SpecifierLiteral[] = [];
  const add = (node: TS.Node | undefined, typeOnly = false) => {
    if (node && ts.isStringLiteralLike(node)) {
      found.push({ text: node.text, start: node.getStart(source) + 1, end: node.getEnd() - 1, typeOnly });
    }
  };
  const visit = (node: TS.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(node.moduleSpecifier, node.importClause?.isTypeOnly ?? false);
    } else if (ts.isExportDeclaration(node)) {
      add(node.moduleSpecifier, node.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true);
    } else if (ts.isCallExpression(node) && node.arguments.length >= 1) {
      const callee = node.expression;
      const isImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(callee) && callee.text === 'require';
      if (isImport || isRequire) add(node.arguments[0]);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

export function isRelativeSpecifier(specifier: string): boolean {
  return specifier === '.' || specifier === '..' || specifier.startsWith('./') || specifier.startsWith('../');
}

/** One replacement of `original.slice(start, end)` (an insertion when start === end). */
export interface Edit {
  start: number;
  end: number;
  replacement: string;
}

/** Text with non-overlapping replacements, and the position maps between the two versions. */
export class EditedText {
  readonly text: string;
  private readonly edits: Edit[];

  constructor(
    readonly original: string,
    edits: Edit[],
  ) {
    this.edits = [...edits].sort((a, b) => a.start - b.start);
    let text = '';
    let at = 0;
    for (const edit of this.edits) {
      text += original.slice(at, edit.start) + edit.replacement;
      at = edit.end;
    }
    this.text = text + original.slice(at);
  }

  /** The position in the edited text of `position` in the original. */
  toEdited(position: number): number {
    let shift = 0;
    for (const edit of this.edits) {
      if (position <= edit.start) break;
      if (position < edit.end) return edit.start + shift + Math.min(position - edit.start, edit.replacement.length);
      shift += edit.replacement.length - (edit.end - edit.start);
    }
    return position + shift;
  }

  /** The position in the original text of `position` in the edited one. */
  toOriginal(position: number): number {
    let shift = 0;
    for (const edit of this.edits) {
      const editedStart = edit.start + shift;
      if (position <= editedStart) break;
      const editedEnd = editedStart + edit.replacement.length;
      if (position < editedEnd) return edit.start + Math.min(position - editedStart, edit.end - edit.start);
      shift += edit.replacement.length - (edit.end - edit.start);
    }
    return position - shift;
  }
}

/** A cell whose relative specifiers now resolve from another folder. */
export interface RebasedCell {
  edited: EditedText;
  /** Rewritten specifier -> what the user wrote, to restore names in compiler messages. */
  renamed: Map<string, string>;
}

/** The relative specifier that names, from `toDir`, the file `specifier` names from `fromDir`. */
export function rebaseSpecifier(specifier: string, fromDir: string, toDir: string): string {
  const target = path.resolve(fromDir, specifier);
  let rebased = path.relative(toDir, target).split(path.sep).join('/');
  if (rebased === '') rebased = '.';
  else if (!rebased.startsWith('../') && rebased !== '..') rebased = `./${rebased}`;
  if (specifier.endsWith('/') && !rebased.endsWith('/')) rebased += '/';
  return rebased;
}

/**
 * Rewrites the relative specifiers of `code`, written from `fromDir`, to resolve from `toDir`,
 * applying `otherEdits` (which must not overlap specifiers) in the same pass.
 */
export function rebaseRelativeSpecifiers(code: string, fromDir: string, toDir: string, otherEdits: Edit[] = []): RebasedCell {
  const renamed = new Map<string, string>();
  const edits: Edit[] = [...otherEdits];
  if (path.resolve(fromDir) !== path.resolve(toDir)) {
    for (const literal of moduleSpecifiers(code)) {
      if (!isRelativeSpecifier(literal.text)) continue;
      const replacement = rebaseSpecifier(literal.text, fromDir, toDir);
      // Escapes inside the literal would make its source text differ from its value: leave those alone.
      if (code.slice(literal.start, literal.end) !== literal.text) continue;
      edits.push({ start: literal.start, end: literal.end, replacement });
      renamed.set(replacement, literal.text);
    }
  }
  return { edited: new EditedText(code, edits), renamed };
}

/** `message` with rewritten specifiers named as the user wrote them. */
export function restoreSpecifiers(message: string, renamed: Map<string, string>): string {
  let out = message;
  for (const [rebased, original] of renamed) {
    for (const quote of ["'", '"']) out = out.split(`${quote}${rebased}${quote}`).join(`${quote}${original}${quote}`);
  }
  return out;
}
