/**
 * Relative module paths when a script is written to another folder than its
 * notebook (`export --all` writes to out/scripts/): `import ... from
 * '../lib/errors'` in notebooks/x.ipynb must read '../../lib/errors' in
 * out/scripts/x.ts. The same holds for `import()` and `require()` calls with a
 * literal path, and, the other way round, for `tslab-dl import -o`.
 */
import * as path from 'path';
import * as ts from 'typescript';
import { parseTypeScript } from './cell-code';

/** Rewrites module names relative to `fromFolder` to be relative to `toFolder`; undefined when the folders are the same. */
export function moduleRebaser(fromFolder: string, toFolder: string): ((module: string) => string) | undefined {
  const from = path.resolve(fromFolder);
  const to = path.resolve(toFolder);
  if (from === to) return undefined;
  return (module) => {
    if (!module.startsWith('./') && !module.startsWith('../') && module !== '.' && module !== '..') return module;
    const relative = path.relative(to, path.resolve(from, module)).split(path.sep).join('/');
    if (relative === '') return '.';
    return relative.startsWith('../') || relative === '..' ? relative : `./${relative}`;
  };
}

/** The string literals in `code` that name a module: import/export declarations, import = require, import(), require(). */
function moduleLiterals(sourceFile: ts.SourceFile): ts.StringLiteral[] {
  const found: ts.StringLiteral[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier);
    } else if (ts.isExternalModuleReference(node) && ts.isStringLiteral(node.expression)) {
      found.push(node.expression);
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require')) &&
      node.arguments.length >= 1 &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      found.push(node.arguments[0]);
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
  return found;
}

/** `code` with every relative module name passed through `rebase`, quotes kept. */
export function rebaseModules(code: string, rebase: ((module: string) => string) | undefined): string {
  if (!rebase || !/['"]\.\.?[/'"]/.test(code)) return code;
  const sourceFile = parseTypeScript(code);
  let result = code;
  for (const literal of moduleLiterals(sourceFile).reverse()) {
    const rebased = rebase(literal.text);
    if (rebased === literal.text) continue;
    const start = literal.getStart(sourceFile);
    const quote = code[start];
    result = result.slice(0, start) + quote + rebased + quote + result.slice(literal.end);
  }
  return result;
}
