/**
 * ESM-only packages in cells: `import h5wasm from 'h5wasm/node'` or
 * `await import('h5wasm/node')`.
 *
 * tslab compiles cells to CommonJS, so every import becomes `require()`, and
 * `require()` cannot load a package whose "exports" only has an "import"
 * condition; tslab's compiler also resolves types the old (Node10) way, which
 * ignores "exports", so the import fails to type-check first. The kernel
 * fixes both: it declares such a package's types at the path the old
 * resolution looks at (a virtual .d.ts re-exporting the real one), and before
 * the cell runs it loads the package with a real `import()`, resolved from
 * the notebook's folder, so that the cell's `require()` finds it loaded.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vm from 'vm';
import { createRequire } from 'module';
import { ts } from './typescript';
import { addVirtualFile } from './virtual-files';

const RESOLVES_ONLY_AS_ESM = new Set(['ERR_PACKAGE_PATH_NOT_EXPORTED', 'ERR_REQUIRE_ESM', 'ERR_REQUIRE_ASYNC_MODULE']);

export function isBareSpecifier(specifier: string): boolean {
  return !/^(\.{1,2}(\/|$)|\/|[a-zA-Z]:[\\/]|node:|data:|file:)/.test(specifier);
}

/** The package name and the subpath of a bare specifier: '@a/b/c' -> ['@a/b', 'c']. */
export function splitPackageSpecifier(specifier: string): [string, string] {
  const parts = specifier.split('/');
  const nameLength = specifier.startsWith('@') ? 2 : 1;
  return [parts.slice(0, nameLength).join('/'), parts.slice(nameLength).join('/')];
}

function nearestPackageType(file: string): string | undefined {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        return JSON.parse(fs.readFileSync(manifest, 'utf8')).type;
      } catch {
        return undefined;
      }
    }
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** A module namespace shaped like TypeScript's CommonJS interop expects (`__esModule`, live bindings). */
function asCommonJs(namespace: { [key: string]: unknown }): object {
  const shaped: { [key: string]: unknown } = {};
  Object.defineProperty(shaped, '__esModule', { value: true });
  for (const key of Object.keys(namespace)) {
    Object.defineProperty(shaped, key, { enumerable: true, get: () => namespace[key] });
  }
  return shaped;
}

type Importer = (specifier: string) => Promise<{ [key: string]: unknown }>;

let warningFiltered = false;

/** The loader option below is marked experimental; its one-time warning would land in a cell's stderr. */
function filterLoaderWarning(): void {
  if (warningFiltered) return;
  warningFiltered = true;
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (String(warning).includes('USE_MAIN_CONTEXT_DEFAULT_LOADER')) return;
    return (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
}

/** A real `import()` that resolves specifiers from `dir`, as a module in that folder would. */
function importerFrom(dir: string): Importer {
  const loader = (vm as unknown as { constants?: { USE_MAIN_CONTEXT_DEFAULT_LOADER?: symbol } }).constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
  if (loader === undefined) {
    // Node < 20.12: resolve from the kernel's own folder, which finds this project's packages.
    return (specifier) => import(specifier);
  }
  filterLoaderWarning();
  return vm.runInThisContext('(specifier) => import(specifier)', {
    filename: path.join(dir, '__tslab_dl_import__.js'),
    importModuleDynamically: loader as any,
  });
}

export class EsmPackages {
  private readonly loaded = new Map<string, object>();
  private readonly requireFromNotebook: NodeJS.Require;
  private importer?: Importer;

  /**
   * @param notebookDir where bare specifiers are resolved at run time.
   * @param compileFile the file the compiler sees the cell as (its folder is where types are resolved from).
   */
  constructor(
    private readonly notebookDir: string,
    private readonly compileFile: string,
  ) {
    this.requireFromNotebook = createRequire(path.join(notebookDir, '__tslab_dl_cell__.js'));
  }

  /** The loaded package for `specifier`, shaped for `require()`; undefined when not an ESM-only package. */
  get(specifier: string): object | undefined {
    return this.loaded.get(specifier);
  }

  /** Whether `require(specifier)` cannot load the package but `import()` can. */
  needsImport(specifier: string): boolean {
    if (!isBareSpecifier(specifier)) return false;
    try {
      const file = this.requireFromNotebook.resolve(specifier);
      return file.endsWith('.mjs') || (file.endsWith('.js') && nearestPackageType(file) === 'module');
    } catch (e) {
      return RESOLVES_ONLY_AS_ESM.has((e as NodeJS.ErrnoException).code ?? '');
    }
  }

  /** Loads every ESM-only package among `specifiers` that is not loaded yet. */
  async loadAll(specifiers: Iterable<string>): Promise<void> {
    for (const specifier of specifiers) {
      if (this.loaded.has(specifier) || !this.needsImport(specifier)) continue;
      this.importer ??= importerFrom(this.notebookDir);
      this.loaded.set(specifier, asCommonJs(await this.importer(specifier)));
    }
  }

  /**
   * Makes the compiler see the types of ESM-only packages among `specifiers`
   * (call before compiling the code that names them).
   */
  declareTypes(specifiers: Iterable<string>): void {
    for (const specifier of specifiers) {
      if (isBareSpecifier(specifier)) this.declareTypesOf(specifier);
    }
  }

  private declareTypesOf(specifier: string): void {
    const base = { esModuleInterop: true, resolveJsonModule: true, target: ts.ScriptTarget.ES2022 };
    const classic = ts.resolveModuleName(
      specifier,
      this.compileFile,
      { ...base, moduleResolution: ts.ModuleResolutionKind.Node10 },
      ts.sys,
    );
    if (classic.resolvedModule) return;
    const modern = ts.resolveModuleName(
      specifier,
      this.compileFile,
      { ...base, moduleResolution: ts.ModuleResolutionKind.Bundler, module: ts.ModuleKind.ESNext },
      ts.sys,
    ).resolvedModule;
    if (!modern || !/\.d\.[cm]?ts$|\.ts$/.test(modern.resolvedFileName)) return;
    const [name, subpath] = splitPackageSpecifier(specifier);
    const marker = `/node_modules/${name}/`;
    const at = modern.resolvedFileName.lastIndexOf(marker);
    if (at < 0) return;
    const packageDir = modern.resolvedFileName.slice(0, at + marker.length - 1);
    const target = modern.resolvedFileName.replace(/\.d\.[cm]?ts$|\.ts$/, '');
    const text = ts.sys.readFile(modern.resolvedFileName) ?? '';
    const hasDefault = /export\s+default\b|export\s*\{[^}]*\bas\s+default\b/.test(text);
    const declaration =
      `export * from ${JSON.stringify(target)};\n` + (hasDefault ? `export { default } from ${JSON.stringify(target)};\n` : '');
    addVirtualFile(`${packageDir}/${subpath || 'index'}.d.ts`, declaration);
  }
}
