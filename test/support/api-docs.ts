/**
 * The public API's doc comments, read with the TypeScript compiler API: every name a module
 * exports (following `export *`, re-exports and imports to the declaration) and the TSDoc found
 * for it. Used by test/api-docs.test.ts; works on any ts.Program, so the test also runs it on a
 * tiny in-memory program.
 */
import ts from 'typescript';

/** One exported name and what its doc comment says. */
export interface ExportDoc {
  name: string;
  /** The doc comment's text (summary), '' when there is none. */
  text: string;
  /** Block tags of the comment(s), e.g. `{ name: 'param', target: 'x' }`. */
  tags: { name: string; target?: string }[];
  /** The declarations the name resolves to (after following aliases). */
  declarations: ts.Declaration[];
}

/** The doc comments on one node: the JSDoc blocks (`/** ... *\/`) TypeScript attaches to it. */
function jsDocsOf(node: ts.Node): ts.JSDoc[] {
  return ts.getJSDocCommentsAndTags(node).filter((item): item is ts.JSDoc => item.kind === ts.SyntaxKind.JSDoc);
}

function commentText(comment: ts.JSDoc['comment']): string {
  if (comment === undefined) return '';
  if (typeof comment === 'string') return comment;
  return comment.map((part) => part.text).join('');
}

/**
 * The JSDoc blocks that document an alias on its way to the declaration: a doc comment on
 * `export * as ns from './mod'`, or on an `export { x }` that exports that one name (where TypeDoc
 * looks for a re-exported namespace's comment), or `export { /** doc *\/ x }`.
 */
function aliasDocs(declaration: ts.Declaration): ts.JSDoc[] {
  if (ts.isNamespaceExport(declaration)) return jsDocsOf(declaration.parent);
  if (ts.isExportSpecifier(declaration)) {
    const statement = declaration.parent.parent;
    return [...jsDocsOf(declaration), ...(declaration.parent.elements.length === 1 ? jsDocsOf(statement) : [])];
  }
  return [];
}

/** A module's own doc comment: a leading file comment tagged `@module` or `@packageDocumentation`. */
function moduleDocs(file: ts.SourceFile): ts.JSDoc[] {
  const first = file.statements[0];
  if (first === undefined) return [];
  return jsDocsOf(first).filter((doc) => doc.tags?.some((tag) => ['module', 'packageDocumentation'].includes(tag.tagName.text)));
}

/** The doc comment a symbol resolves to, following aliases (re-exports, imports) to the declaration. */
export function docOf(checker: ts.TypeChecker, exported: ts.Symbol, name = exported.name): ExportDoc {
  const docs: ts.JSDoc[] = [];
  // Follow the alias chain one hop at a time, collecting docs written on the way.
  let symbol = exported;
  const seen = new Set<ts.Symbol>();
  while (symbol.flags & ts.SymbolFlags.Alias && !seen.has(symbol)) {
    seen.add(symbol);
    for (const declaration of symbol.declarations ?? []) docs.push(...aliasDocs(declaration));
    const next = checker.getImmediateAliasedSymbol(symbol);
    if (next === undefined) break;
    symbol = next;
  }
  const declarations = symbol.declarations ?? [];
  for (const declaration of declarations) {
    if (ts.isSourceFile(declaration)) docs.push(...moduleDocs(declaration));
    else docs.push(...jsDocsOf(declaration));
  }
  const text = [...docs.map((doc) => commentText(doc.comment)), ts.displayPartsToString(symbol.getDocumentationComment(checker))]
    .join('\n')
    .trim();
  const tags = docs.flatMap((doc) =>
    (doc.tags ?? []).map((tag) => ({
      name: tag.tagName.text,
      target: ts.isJSDocParameterTag(tag) ? tag.name.getText() : undefined,
    })),
  );
  return { name, text, tags, declarations };
}

/** Every name `file` exports, with the doc comment each resolves to, sorted by name. */
export function exportDocs(program: ts.Program, file: string): ExportDoc[] {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  if (source === undefined) throw new Error(`${file} is not part of the program`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (moduleSymbol === undefined) return [];
  return checker
    .getExportsOfModule(moduleSymbol)
    .map((exported) => docOf(checker, exported))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The exported names that have no doc comment text. */
export function undocumentedExports(program: ts.Program, file: string): string[] {
  return exportDocs(program, file)
    .filter((entry) => entry.text === '')
    .map((entry) => entry.name);
}

/**
 * The doc of a member reached from an export by property names, e.g. `keras.applications.DenseNet121`
 * (the property's declaration, after aliases); undefined when there is no such member.
 */
export function memberDoc(program: ts.Program, file: string, dotted: string): ExportDoc | undefined {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file);
  const moduleSymbol = source && checker.getSymbolAtLocation(source);
  if (moduleSymbol === undefined) return undefined;
  const [first, ...rest] = dotted.split('.');
  let symbol = checker.getExportsOfModule(moduleSymbol).find((s) => s.name === first);
  for (const part of rest) {
    if (symbol === undefined) return undefined;
    const resolved = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    symbol = checker.getTypeOfSymbol(resolved).getProperty(part);
  }
  return symbol && docOf(checker, symbol, dotted);
}

/** A function's signature declaration: the first function declaration (an overload's), or an arrow function's. */
function signatureOf(declarations: readonly ts.Declaration[]): ts.SignatureDeclaration | undefined {
  for (const declaration of declarations) {
    if (ts.isFunctionDeclaration(declaration) || ts.isMethodDeclaration(declaration)) return declaration;
    if (ts.isVariableDeclaration(declaration) || ts.isPropertyAssignment(declaration)) {
      const initializer = declaration.initializer;
      if (initializer && (ts.isArrowFunction(initializer) || ts.isFunctionExpression(initializer))) return initializer;
    }
  }
  return undefined;
}

/**
 * What a function's doc lacks: a `@param` for each declared parameter (a destructured one, e.g.
 * `{ on = true }`, needs a `@param` at its position, under any name, as TypeDoc reads it), `@returns`
 * unless it returns void or Promise<void>, and an `@example`. Empty when complete.
 */
export function missingFunctionTags(program: ts.Program, doc: ExportDoc): string[] {
  const checker = program.getTypeChecker();
  const signature = signatureOf(doc.declarations);
  if (signature === undefined) return [`${doc.name}: not a function`];
  const problems: string[] = [];
  const params = doc.tags.filter((tag) => tag.name === 'param' && tag.target !== undefined && !tag.target.includes('.'));
  signature.parameters.forEach((parameter, i) => {
    const name = parameter.name;
    const documented = ts.isIdentifier(name) ? params.some((tag) => tag.target === name.text) : params.length > i;
    if (!documented) problems.push(`${doc.name}: no @param for ${name.getText()}`);
  });
  const returnType = checker.getSignatureFromDeclaration(signature)?.getReturnType();
  const awaited = returnType && (checker.getAwaitedType(returnType) ?? returnType);
  const isVoid = awaited !== undefined && (awaited.flags & ts.TypeFlags.Void) !== 0;
  if (!isVoid && !doc.tags.some((tag) => tag.name === 'returns' || tag.name === 'return')) problems.push(`${doc.name}: no @returns`);
  if (!doc.tags.some((tag) => tag.name === 'example')) problems.push(`${doc.name}: no @example`);
  return problems;
}

/** The program for a tsconfig.json, with `entry` as its only root (its imports come along). */
export function projectProgram(entry: string, tsconfig: string): ts.Program {
  const config = ts.readConfigFile(tsconfig, ts.sys.readFile);
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ts.sys.resolvePath(tsconfig + '/..'));
  return ts.createProgram({ rootNames: [entry], options: { ...parsed.options, noEmit: true } });
}

/**
 * A program over in-memory files (path -> text), e.g. `{ '/m/index.ts': 'export const x = 1;' }`,
 * read through a CompilerHost that never touches the disk. The default library is left out
 * (noLib), so keep the sources to declarations that need none.
 */
export function inMemoryProgram(files: Record<string, string>): ts.Program {
  const options: ts.CompilerOptions = {
    noLib: true,
    noEmit: true,
    types: [],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
  };
  const host: ts.CompilerHost = {
    getSourceFile: (name, languageVersion) => (name in files ? ts.createSourceFile(name, files[name], languageVersion, true) : undefined),
    getDefaultLibFileName: () => '/lib.d.ts',
    writeFile: () => undefined,
    getCurrentDirectory: () => '/',
    getCanonicalFileName: (name) => name,
    useCaseSensitiveFileNames: () => true,
    getNewLine: () => '\n',
    fileExists: (name) => name in files,
    readFile: (name) => files[name],
    directoryExists: (name) => Object.keys(files).some((file) => file.startsWith(name.endsWith('/') ? name : `${name}/`)),
  };
  return ts.createProgram({ rootNames: Object.keys(files), options, host });
}
