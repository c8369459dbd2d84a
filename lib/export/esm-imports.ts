/**
 * ES-module-only packages in a CommonJS script. The exported script is a `.ts`
 * file in a package without `"type": "module"`, so tsx and tsc treat it as
 * CommonJS, where a static import of an ESM-only package fails (tsc TS1479,
 * Node ERR_PACKAGE_PATH_NOT_EXPORTED / ERR_REQUIRE_ESM). Export loads such a
 * package with `await import(...)` at the start of main() instead (imports.ts
 * writes those lines); import turns them back into static imports.
 */
import * as path from 'path';
import * as ts from 'typescript';
import { compilerOptionsFor } from './script-options';

/** The first line of the block of `await import(...)` statements at the start of main(). */
export const ESM_IMPORTS_COMMENT = '// ES-module-only packages: a CommonJS script like this one loads them with import().';

/** The modules, among `modules`, that a CommonJS script at `scriptPath` cannot import statically. */
export function esmOnlyModules(modules: readonly string[], scriptPath: string): Set<string> {
  const containingFile = path.resolve(scriptPath);
  const options = compilerOptionsFor(containingFile);
  const esmOnly = new Set<string>();
  const resolve = (module: string, mode: ts.ResolutionMode) =>
    ts.resolveModuleName(module, containingFile, options, ts.sys, undefined, undefined, mode).resolvedModule;
  for (const module of modules) {
    const asRequire = resolve(module, ts.ModuleKind.CommonJS);
    if (asRequire === undefined) {
      // Only an "import" export condition leads to it (h5wasm/node), or it does not resolve at all.
      if (resolve(module, ts.ModuleKind.ESNext) !== undefined) esmOnly.add(module);
    } else if (ts.getImpliedNodeFormatForFile(asRequire.resolvedFileName, undefined, ts.sys, options) === ts.ModuleKind.ESNext) {
      // A package with "type": "module": what require() finds is an ES module.
      esmOnly.add(module);
    }
  }
  return esmOnly;
}

function isImportCall(node: ts.Expression | undefined): node is ts.AwaitExpression {
  return (
    node !== undefined &&
    ts.isAwaitExpression(node) &&
    ts.isCallExpression(node.expression) &&
    node.expression.expression.kind === ts.SyntaxKind.ImportKeyword &&
    node.expression.arguments.length === 1 &&
    ts.isStringLiteral(node.expression.arguments[0])
  );
}

/**
 * The static import that export turned into `statement`
 * (`const { default: x, a, b: c } = await import('m');`, `const ns = await import('m');`,
 * `await import('m');`), or undefined when `statement` is something else.
 */
export function staticImportFor(statement: ts.Statement, sourceFile: ts.SourceFile): string | undefined {
  if (ts.isExpressionStatement(statement) && isImportCall(statement.expression)) {
    return `import ${(statement.expression.expression as ts.CallExpression).arguments[0].getText(sourceFile)};`;
  }
  if (!ts.isVariableStatement(statement)) return undefined;
  const declarations = statement.declarationList.declarations;
  if (declarations.length !== 1 || !(statement.declarationList.flags & ts.NodeFlags.Const)) return undefined;
  const [declaration] = declarations;
  if (!isImportCall(declaration.initializer)) return undefined;
  const from = `from ${(declaration.initializer.expression as ts.CallExpression).arguments[0].getText(sourceFile)};`;
  if (ts.isIdentifier(declaration.name)) return `import * as ${declaration.name.text} ${from}`;
  if (!ts.isObjectBindingPattern(declaration.name)) return undefined;
  let defaultName: string | undefined;
  const named: string[] = [];
  for (const element of declaration.name.elements) {
    if (element.dotDotDotToken || element.initializer || !ts.isIdentifier(element.name)) return undefined;
    const property = element.propertyName;
    if (property && !ts.isIdentifier(property)) return undefined;
    const imported = property ? property.text : element.name.text;
    if (imported === 'default' && defaultName === undefined) defaultName = element.name.text;
    else if (imported === 'default') return undefined;
    else named.push(imported === element.name.text ? imported : `${imported} as ${element.name.text}`);
  }
  if (defaultName && named.length > 0) return `import ${defaultName}, { ${named.join(', ')} } ${from}`;
  if (defaultName) return `import ${defaultName} ${from}`;
  return `import { ${named.join(', ')} } ${from}`;
}
