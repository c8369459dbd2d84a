/**
 * Which cells end in a value the notebook would show below them (tslab shows a
 * cell's last expression unless it is undefined or null). The script shows the
 * same values with `showCellValue(...)`; to keep `model.summary();` or
 * `console.log(...)` readable, the TypeScript checker leaves out expressions
 * whose type is void, undefined or null. Where the type is unknown (a module
 * that does not resolve), the expression is shown: the helper skips undefined
 * at run time, so the output stays the notebook's either way.
 */
import * as path from 'path';
import * as ts from 'typescript';
import { compilerOptionsFor } from './script-options';

function showsNothing(type: ts.Type): boolean {
  const nothing = ts.TypeFlags.Void | ts.TypeFlags.Undefined | ts.TypeFlags.Null | ts.TypeFlags.Never;
  if (type.flags & nothing) return true;
  return type.isUnion() && type.types.every(showsNothing);
}

/**
 * For each offset in `text` where an expression statement's expression starts,
 * whether its value is worth showing. `scriptPath` is where the script will be:
 * its imports resolve from there.
 */
export function valuesWorthShowing(text: string, scriptPath: string, offsets: readonly number[]): boolean[] {
  if (offsets.length === 0) return [];
  const fileName = path.resolve(scriptPath);
  const options = { ...compilerOptionsFor(fileName), noEmit: true };
  const host = ts.createCompilerHost(options, true);
  const readSourceFile = host.getSourceFile;
  host.getSourceFile = (name, languageVersion, ...rest) =>
    path.resolve(name) === fileName
      ? ts.createSourceFile(name, text, languageVersion, true, ts.ScriptKind.TS)
      : readSourceFile.call(host, name, languageVersion, ...rest);
  const fileExists = host.fileExists;
  host.fileExists = (name) => path.resolve(name) === fileName || fileExists.call(host, name);
  const program = ts.createProgram([fileName], options, host);
  const checker = program.getTypeChecker();
  const sourceFile = program.getSourceFile(fileName);
  // TypeScript leaves out a root file whose name it does not take for TypeScript (x.js): callers pass a .ts name.
  if (!sourceFile) throw new Error(`internal error: the checker did not take ${fileName} as a TypeScript file`);

  const expressions = new Map<number, ts.Expression>();
  const visit = (node: ts.Node): void => {
    if (ts.isExpressionStatement(node)) expressions.set(node.expression.getStart(sourceFile), node.expression);
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
  return offsets.map((offset) => {
    const expression = expressions.get(offset);
    if (!expression) throw new Error(`internal error: no expression statement at offset ${offset} of the exported script`);
    return !showsNothing(checker.getTypeAtLocation(expression));
  });
}
