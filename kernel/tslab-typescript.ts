/**
 * The project's TypeScript (the `typescript` package, the one `tslab-dl export` parses cells with),
 * shaped as the TypeScript that tslab's converter was written for.
 *
 * tslab 1.0.22 compiles cells with @tslab/typescript-for-tslab, a TypeScript 5.0 fork that adds a
 * few exports and one compiler option. Its converter (node_modules/tslab/dist/converter.js) uses
 * the public API and these additions:
 *
 * - `getPreEmitDiagnosticsOfFiles(program, files)`: getPreEmitDiagnostics for several files.
 * - `getQuickInfoAtPosition(sourceFile, checker, token, position)`: the language service's quick
 *   info, computed on the converter's own program (no language service).
 * - `Completions.getCompletionsAtPositionForTslab(...)`: completions on that program.
 * - `getNullTransformationContext()`, `getDefaultTypeRoots(dir, host)`: internals made public.
 * - the option `disableTopLevelAwait`: a top-level `await` is reported as "'await' expressions are
 *   only allowed within async functions" (1308); the converter drops that diagnostic and tells the
 *   kernel to run the cell as an async function.
 * - `noImplicitUseStrict` (removed from TypeScript in 5.5): no "use strict" in the CommonJS output.
 *
 * This module provides each from TypeScript 5.9's own functions (its internals, reachable at run
 * time), so the converter runs unchanged on the newer compiler. kernel/typescript.ts makes
 * `require('@tslab/typescript-for-tslab')` load this module in the kernel process. Everything
 * else is the `typescript` module itself: the same `sys`, the same factory, the same version.
 */
import type * as TS from 'typescript';
import { withOwnLibraryTypes } from './own-library';
import { nodeTypingsOptions } from './node-typings';

const ts: typeof TS = require('typescript');

/** TypeScript internals this module uses (present in 5.9's typescript.js, absent from its typings). */
interface Internals {
  nullTransformationContext: TS.TransformationContext;
  getEmitDeclarations(options: TS.CompilerOptions): boolean;
  isInTopLevelContext(node: TS.Node): boolean;
  forEachAncestorDirectory<T>(directory: string, callback: (directory: string) => T | undefined): T | undefined;
  normalizePath(path: string): string;
  combinePaths(path: string, ...paths: string[]): string;
  getTouchingPropertyName(sourceFile: TS.SourceFile, position: number): TS.Node;
  getContainerNode(node: TS.Node): TS.Declaration | undefined;
  createTextSpanFromNode(node: TS.Node, sourceFile: TS.SourceFile): TS.TextSpan;
  typeToDisplayParts(checker: TS.TypeChecker, type: TS.Type, enclosingDeclaration?: TS.Node): TS.SymbolDisplayPart[];
  getContainingObjectLiteralElement(node: TS.Node): (TS.ObjectLiteralElement & { parent: TS.ObjectLiteralExpression }) | undefined;
  getPropertySymbolsFromContextualType(
    node: TS.Node,
    checker: TS.TypeChecker,
    contextualType: TS.Type,
    unionSymbolOk: boolean,
  ): readonly TS.Symbol[];
  isLabelName(node: TS.Node): boolean;
  isTagName(node: TS.Node): boolean;
  isConstTypeReference(node: TS.Node): boolean;
  isInComment(sourceFile: TS.SourceFile, position: number): unknown;
  isInJSFile(node: TS.Node): boolean;
  isImportMeta(node: TS.Node): node is TS.MetaProperty;
  defaultHoverMaximumTruncationLength: number;
  Diagnostics: { [key: string]: TS.DiagnosticMessage };
  SymbolDisplay: {
    getSymbolDisplayPartsDocumentationAndSymbolKind(
      checker: TS.TypeChecker,
      symbol: TS.Symbol,
      sourceFile: TS.SourceFile,
      enclosingDeclaration: TS.Node | undefined,
      location: TS.Node,
      semanticMeaning?: unknown,
      alias?: TS.Symbol,
      maximumLength?: number,
    ): {
      symbolKind: TS.ScriptElementKind;
      displayParts: TS.SymbolDisplayPart[];
      documentation: TS.SymbolDisplayPart[];
      tags: TS.JSDocTagInfo[] | undefined;
    };
    getSymbolModifiers(checker: TS.TypeChecker, symbol: TS.Symbol): string;
  };
  Completions: {
    getCompletionsAtPosition(
      host: object,
      program: TS.Program,
      log: (message: string) => void,
      sourceFile: TS.SourceFile,
      position: number,
      preferences: TS.UserPreferences,
      triggerCharacter: TS.CompletionsTriggerCharacter | undefined,
      completionKind: TS.CompletionTriggerKind | undefined,
      cancellationToken: TS.CancellationToken,
      formatContext?: unknown,
      includeSymbol?: boolean,
    ): TS.CompletionInfo | undefined;
  };
}

const internal = ts as unknown as Internals;

/** Names of the internals above: a TypeScript upgrade that drops one fails here, at load, by name. */
const REQUIRED: (keyof Internals)[] = [
  'nullTransformationContext',
  'getEmitDeclarations',
  'isInTopLevelContext',
  'forEachAncestorDirectory',
  'normalizePath',
  'combinePaths',
  'getTouchingPropertyName',
  'getContainerNode',
  'createTextSpanFromNode',
  'typeToDisplayParts',
  'getContainingObjectLiteralElement',
  'getPropertySymbolsFromContextualType',
  'isLabelName',
  'isTagName',
  'isConstTypeReference',
  'isInComment',
  'isInJSFile',
  'isImportMeta',
  'defaultHoverMaximumTruncationLength',
  'Diagnostics',
  'SymbolDisplay',
  'Completions',
];
const missing = REQUIRED.filter((name) => internal[name] === undefined);
if (missing.length > 0 || typeof internal.Completions.getCompletionsAtPosition !== 'function') {
  throw new Error(
    `tslab-dl: TypeScript ${ts.version} lacks what tslab's converter needs (${missing.join(', ') || 'Completions.getCompletionsAtPosition'}); ` +
      'kernel/tslab-typescript.ts was written for TypeScript 5.9.',
  );
}

const AWAIT_ONLY_IN_ASYNC = internal.Diagnostics.await_expressions_are_only_allowed_within_async_functions_and_at_the_top_levels_of_modules;

/** The span of the token that starts at `node`'s first non-trivia character. */
function tokenSpanAt(sourceFile: TS.SourceFile, node: TS.Node): { start: number; length: number } {
  const scanner = ts.createScanner(sourceFile.languageVersion, true, sourceFile.languageVariant, sourceFile.text, undefined, node.pos);
  scanner.scan();
  return { start: scanner.getTokenStart(), length: scanner.getTokenEnd() - scanner.getTokenStart() };
}

/**
 * What the fork's `disableTopLevelAwait` reports: error 1308 at each `await` outside any function
 * (an await expression, `for await`, `await using`). tslab's converter takes these as "the cell
 * has a top-level await" and removes them; in a file the cell imports they stay errors, as before.
 */
function topLevelAwaitDiagnostics(sourceFile: TS.SourceFile): TS.Diagnostic[] {
  const parseDiagnostics = (sourceFile as unknown as { parseDiagnostics?: readonly TS.Diagnostic[] }).parseDiagnostics;
  if (!sourceFile.text.includes('await') || (parseDiagnostics?.length ?? 0) > 0) return [];
  const out: TS.Diagnostic[] = [];
  const report = (at: TS.Node) => {
    const { start, length } = tokenSpanAt(sourceFile, at);
    out.push({
      file: sourceFile,
      start,
      length,
      category: AWAIT_ONLY_IN_ASYNC.category,
      code: AWAIT_ONLY_IN_ASYNC.code,
      messageText: AWAIT_ONLY_IN_ASYNC.message,
    });
  };
  const awaitContext = (node: TS.Node) => (node.flags & ts.NodeFlags.AwaitContext) !== 0;
  const visit = (node: TS.Node): void => {
    if (ts.isFunctionLike(node) || ts.isClassStaticBlockDeclaration(node)) return;
    if (ts.isAwaitExpression(node) && !awaitContext(node) && internal.isInTopLevelContext(node)) {
      report(node);
    } else if (ts.isForOfStatement(node) && node.awaitModifier && !awaitContext(node) && internal.isInTopLevelContext(node)) {
      report(node.awaitModifier);
    } else if (
      ts.isVariableDeclarationList(node) &&
      (node.flags & ts.NodeFlags.BlockScoped) === ts.NodeFlags.AwaitUsing &&
      !awaitContext(node) &&
      internal.isInTopLevelContext(node)
    ) {
      report(node);
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
  return out;
}

function withTopLevelAwait(
  program: TS.Program,
  files: readonly TS.SourceFile[],
  diagnostics: readonly TS.Diagnostic[],
): readonly TS.Diagnostic[] {
  if (!(program.getCompilerOptions() as { disableTopLevelAwait?: boolean }).disableTopLevelAwait) return diagnostics;
  const added = files.flatMap(topLevelAwaitDiagnostics);
  return added.length === 0 ? diagnostics : ts.sortAndDeduplicateDiagnostics([...diagnostics, ...added]);
}

function getPreEmitDiagnosticsOfFiles(
  program: TS.Program,
  sourceFiles: readonly TS.SourceFile[],
  cancellationToken?: TS.CancellationToken,
): readonly TS.Diagnostic[] {
  const diagnostics: TS.Diagnostic[] = [
    ...program.getConfigFileParsingDiagnostics(),
    ...program.getOptionsDiagnostics(cancellationToken),
    ...program.getGlobalDiagnostics(cancellationToken),
  ];
  for (const sourceFile of sourceFiles) {
    diagnostics.push(...program.getSyntacticDiagnostics(sourceFile, cancellationToken));
    diagnostics.push(...program.getSemanticDiagnostics(sourceFile, cancellationToken));
    if (internal.getEmitDeclarations(program.getCompilerOptions())) {
      diagnostics.push(...program.getDeclarationDiagnostics(sourceFile, cancellationToken));
    }
  }
  return withTopLevelAwait(program, sourceFiles, ts.sortAndDeduplicateDiagnostics(diagnostics));
}

function getPreEmitDiagnostics(
  program: TS.Program,
  sourceFile?: TS.SourceFile,
  cancellationToken?: TS.CancellationToken,
): readonly TS.Diagnostic[] {
  const diagnostics = ts.getPreEmitDiagnostics(program, sourceFile, cancellationToken);
  return withTopLevelAwait(program, sourceFile ? [sourceFile] : program.getSourceFiles(), diagnostics);
}

/** The fork's options that TypeScript 5.9 does not know (or no longer honours), taken out. */
function withoutForkOptions(options: TS.CompilerOptions): TS.CompilerOptions {
  const { noImplicitUseStrict: _removed, ...rest } = options as TS.CompilerOptions & { noImplicitUseStrict?: boolean };
  return rest;
}

function createWatchCompilerHost(...args: unknown[]): unknown {
  // The converter calls the form (rootFiles, options, system, createProgram, reportDiagnostic, reportWatchStatus).
  if (Array.isArray(args[0]) && args[1] && typeof args[1] === 'object') {
    args[1] = nodeTypingsOptions(withOwnLibraryTypes(ts, withoutForkOptions(args[1] as TS.CompilerOptions)));
  }
  return (ts.createWatchCompilerHost as (...a: unknown[]) => unknown)(...args);
}

function transpileModule(input: string, transpileOptions: TS.TranspileOptions): TS.TranspileOutput {
  const options = (transpileOptions.compilerOptions ?? {}) as TS.CompilerOptions & { noImplicitUseStrict?: boolean };
  const output = ts.transpileModule(input, { ...transpileOptions, compilerOptions: withoutForkOptions(options) });
  if (options.noImplicitUseStrict) output.outputText = output.outputText.replace(/^"use strict";\r?\n/, '');
  return output;
}

/** The default type roots (the fork's getDefaultTypeRoots): node_modules/@types in `directory` and each folder above it that has one. */
function getDefaultTypeRoots(directory: string, host: { directoryExists?: (path: string) => boolean }): string[] | undefined {
  const nodeModulesAtTypes = internal.combinePaths('node_modules', '@types');
  if (!host.directoryExists) return [internal.combinePaths(directory, nodeModulesAtTypes)];
  let roots: string[] | undefined;
  internal.forEachAncestorDirectory(internal.normalizePath(directory), (dir) => {
    const atTypes = internal.combinePaths(dir, nodeModulesAtTypes);
    if (host.directoryExists!(atTypes)) (roots ??= []).push(atTypes);
    return undefined;
  });
  return roots;
}

/** The language service's getQuickInfoAtPosition (TypeScript 5.9, services.ts) on a given program's checker. */
function shouldGetType(sourceFile: TS.SourceFile, node: TS.Node, position: number): boolean {
  switch (node.kind) {
    case ts.SyntaxKind.Identifier:
      if (
        node.flags & ts.NodeFlags.JSDoc &&
        !internal.isInJSFile(node) &&
        ((node.parent.kind === ts.SyntaxKind.PropertySignature && (node.parent as TS.PropertySignature).name === node) ||
          ts.findAncestor(node, (n) => n.kind === ts.SyntaxKind.Parameter))
      ) {
        return false;
      }
      return !internal.isLabelName(node) && !internal.isTagName(node) && !internal.isConstTypeReference(node.parent);
    case ts.SyntaxKind.PropertyAccessExpression:
    case ts.SyntaxKind.QualifiedName:
      return !internal.isInComment(sourceFile, position);
    case ts.SyntaxKind.ThisKeyword:
    case ts.SyntaxKind.ThisType:
    case ts.SyntaxKind.SuperKeyword:
    case ts.SyntaxKind.NamedTupleMember:
      return true;
    case ts.SyntaxKind.MetaProperty:
      return internal.isImportMeta(node);
    default:
      return false;
  }
}

function getNodeForQuickInfo(node: TS.Node): TS.Node {
  if (ts.isNewExpression(node.parent) && node.pos === node.parent.pos) return node.parent.expression;
  if (ts.isNamedTupleMember(node.parent) && node.pos === node.parent.pos) return node.parent;
  if (internal.isImportMeta(node.parent) && node.parent.name === node) return node.parent;
  if (ts.isJsxNamespacedName(node.parent)) return node.parent;
  return node;
}

function getSymbolAtLocationForQuickInfo(node: TS.Node, checker: TS.TypeChecker): TS.Symbol | undefined {
  const object = internal.getContainingObjectLiteralElement(node);
  if (object) {
    const contextualType = checker.getContextualType(object.parent);
    const properties = contextualType && internal.getPropertySymbolsFromContextualType(object, checker, contextualType, false);
    if (properties && properties.length === 1) return properties[0];
  }
  return checker.getSymbolAtLocation(node);
}

function getQuickInfoAtPosition(
  sourceFile: TS.SourceFile,
  checker: TS.TypeChecker,
  _token: TS.CancellationToken,
  position: number,
): TS.QuickInfo | undefined {
  const node = internal.getTouchingPropertyName(sourceFile, position);
  if (node === sourceFile) return undefined;
  const nodeForQuickInfo = getNodeForQuickInfo(node);
  const symbol = getSymbolAtLocationForQuickInfo(nodeForQuickInfo, checker);
  if (!symbol || (checker as unknown as { isUnknownSymbol(s: TS.Symbol): boolean }).isUnknownSymbol(symbol)) {
    const type = shouldGetType(sourceFile, nodeForQuickInfo, position) ? checker.getTypeAtLocation(nodeForQuickInfo) : undefined;
    return (
      type && {
        kind: ts.ScriptElementKind.unknown,
        kindModifiers: ts.ScriptElementKindModifier.none,
        textSpan: internal.createTextSpanFromNode(nodeForQuickInfo, sourceFile),
        displayParts: internal.typeToDisplayParts(checker, type, internal.getContainerNode(nodeForQuickInfo)),
        documentation: type.symbol ? type.symbol.getDocumentationComment(checker) : undefined,
        tags: type.symbol ? type.symbol.getJsDocTags(checker) : undefined,
      }
    );
  }
  const { symbolKind, displayParts, documentation, tags } = internal.SymbolDisplay.getSymbolDisplayPartsDocumentationAndSymbolKind(
    checker,
    symbol,
    sourceFile,
    internal.getContainerNode(nodeForQuickInfo),
    nodeForQuickInfo,
    undefined,
    undefined,
    internal.defaultHoverMaximumTruncationLength,
  );
  return {
    kind: symbolKind,
    kindModifiers: internal.SymbolDisplay.getSymbolModifiers(checker, symbol),
    textSpan: internal.createTextSpanFromNode(nodeForQuickInfo, sourceFile),
    displayParts,
    documentation,
    tags,
  };
}

function getCompletionsAtPositionForTslab(
  host: object,
  program: TS.Program,
  log: (message: string) => void,
  sourceFile: TS.SourceFile,
  position: number,
  preferences: TS.UserPreferences,
  triggerCharacter: TS.CompletionsTriggerCharacter | undefined,
  completionKind: TS.CompletionTriggerKind | undefined,
  cancellationToken: TS.CancellationToken,
): TS.CompletionInfo | undefined {
  return internal.Completions.getCompletionsAtPosition(
    host,
    program,
    log,
    sourceFile,
    position,
    preferences,
    triggerCharacter,
    completionKind,
    cancellationToken,
    undefined,
  );
}

/**
 * `typescript` with the fork's additions, as a plain object of own properties: the converter
 * imports it with __importStar, which copies own properties only. Getters are read once here;
 * `sys` and the namespaces stay the very objects of `typescript`.
 */
const tslabTypeScript = {
  ...(ts as object),
  getPreEmitDiagnosticsOfFiles,
  getPreEmitDiagnostics,
  getQuickInfoAtPosition,
  getNullTransformationContext: () => internal.nullTransformationContext,
  getDefaultTypeRoots,
  createWatchCompilerHost,
  transpileModule,
  Completions: { ...(internal.Completions as object), getCompletionsAtPositionForTslab },
} as unknown as typeof TS;

export = tslabTypeScript;
