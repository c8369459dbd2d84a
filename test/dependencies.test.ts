/**
 * package.json declares what the code imports, and imports what it declares.
 *
 * The code that ships and runs (lib/, kernel/, bin/, scripts/) may import only `dependencies`; the
 * tests and benchmarks (test/, bench/) may import `devDependencies` too. Imports are read with the
 * TypeScript parser: import/export ... from, import type, import(), require(), require.resolve()
 * and `import('x')` types; Node's built-in modules (node:*, `builtinModules`) are not packages.
 * Every `allowScripts` entry names a package that is installed (an entry for a package that left
 * the tree is dead weight, and hides what the tree really runs at install time).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..');
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  allowScripts?: Record<string, boolean>;
};
const DEPENDENCIES = Object.keys(PACKAGE.dependencies ?? {});
const DEV_DEPENDENCIES = Object.keys(PACKAGE.devDependencies ?? {});

/** Folders whose code ships or runs for users: dependencies only. */
const RUNTIME_FOLDERS = ['lib', 'kernel', 'bin', 'scripts'];
/** Folders of development code: devDependencies allowed. */
const DEV_FOLDERS = ['test', 'bench'];

/** Files outside test/ and bench/ that are development tools, so they may import devDependencies. */
const DEV_FILES: Record<string, string> = {
  'scripts/soak.mjs': "`npm run soak` drives the tests' Jupyter sandbox (test/support), loaded through tsx",
};

/**
 * Declared but imported by no scanned file. `where` names a file that must mention the package in
 * quotes, or `mentions` (so the reason stays true); `optIn` ones are not declared by default.
 */
const NOT_IMPORTED: Record<string, { reason: string; where: string; mentions?: string; optIn?: true }> = {
  'tslab-dl': {
    reason: "the package's link to itself (\"file:.\"), so notebooks and scripts here `import ... from 'tslab-dl'`",
    where: 'README.md',
  },
  '@tensorflow/tfjs-backend-webgpu': {
    reason: 'loaded by name (WEBGPU_PACKAGE) only when the webgpu backend is tried',
    where: 'lib/backends/webgpu.ts',
  },
  '@tensorflow/tfjs-node-gpu': {
    reason: 'opt-in, added by `npm run setup:gpu`; loaded by name when the backend is tried',
    where: 'lib/backends/selection.ts',
    optIn: true,
  },
  '@tensorflow/tfjs-node': {
    reason: 'opt-in, added by `npm run setup:native`; loaded by name when the backend is tried',
    where: 'lib/backends/selection.ts',
    optIn: true,
  },
  '@types/node': {
    reason: 'ambient types, named by tsconfig.json ("types": ["node"])',
    where: 'tsconfig.json',
    mentions: '"types": ["node"]',
  },
  typedoc: {
    reason: 'a command-line tool: `npm run docs` runs it on typedoc.json (the API reference in docs/api)',
    where: 'package.json',
    mentions: '"docs": "typedoc"',
  },
  prettier: {
    reason: 'run by npm run lint: a command-line tool (`prettier --check .`; `npm run format` writes), set up by .prettierrc',
    where: 'package.json',
    mentions: '"lint": "eslint . && prettier --check ."',
  },
  eslint: {
    reason: 'run by npm run lint: a command-line tool (`eslint .`), set up by eslint.config.mjs',
    where: 'package.json',
    mentions: '"lint": "eslint . && prettier --check ."',
  },
  'typescript-eslint': {
    reason: 'run by npm run lint: imported by eslint.config.mjs (not a scanned folder), the TypeScript parser and rules',
    where: 'eslint.config.mjs',
  },
  '@eslint/js': {
    reason: "run by npm run lint: imported by eslint.config.mjs (not a scanned folder), ESLint's recommended rules",
    where: 'eslint.config.mjs',
  },
  globals: {
    reason: "run by npm run lint: imported by eslint.config.mjs (not a scanned folder), Node's global names for .js/.mjs",
    where: 'eslint.config.mjs',
  },
};

/**
 * Imported but not declared: another package's own dependency, reached through that package's
 * folder on purpose. Each is allowed only in the files listed (an allowance: it may go unused).
 */
const UNDECLARED: Record<string, { reason: string; files: readonly string[] }> = {
  '@tslab/typescript-for-tslab': {
    reason: "tslab's pinned compiler, loaded from tslab's folder so it is exactly the one tslab uses",
    files: ['kernel/typescript.ts', 'kernel/tslab-typescript.ts', 'kernel/tslab-alias.ts'],
  },
};

const SOURCE = /\.(ts|mts|cts|js|mjs|cjs)$/;

function sourceFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const file = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'dist' ? [] : sourceFiles(file);
    return e.isFile() && SOURCE.test(e.name) ? [file] : [];
  });
}

/** Every module specifier `file` names: static and dynamic imports, require(), require.resolve(), types. */
function specifiersOf(file: string, text = fs.readFileSync(file, 'utf8')): string[] {
  const kind = /\.(ts|mts|cts)$/.test(file) ? ts.ScriptKind.TS : ts.ScriptKind.JS;
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, kind);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier.text);
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      found.push(node.moduleReference.expression.text);
    } else if (ts.isCallExpression(node) && node.arguments.length > 0 && ts.isStringLiteralLike(node.arguments[0])) {
      const callee = node.expression;
      const isImport = callee.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(callee) && callee.text === 'require';
      const isResolve =
        ts.isPropertyAccessExpression(callee) &&
        ts.isIdentifier(callee.expression) &&
        callee.expression.text === 'require' &&
        callee.name.text === 'resolve';
      if (isImport || isRequire || isResolve) found.push(node.arguments[0].text);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const BUILTINS = new Set(builtinModules);

/** The package a bare specifier names ('@scope/name/sub' -> '@scope/name'), or undefined for files and built-ins. */
function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith('.') || path.isAbsolute(specifier) || specifier.startsWith('node:')) return undefined;
  if (BUILTINS.has(specifier)) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

interface Use {
  pkg: string;
  file: string;
  dev: boolean;
}

function uses(): Use[] {
  const scan = (folders: string[], dev: boolean) =>
    folders.flatMap((folder) =>
      sourceFiles(path.join(ROOT, folder)).flatMap((file) => {
        const rel = path.relative(ROOT, file).split(path.sep).join('/');
        return specifiersOf(file).flatMap((s) => {
          const pkg = packageOf(s);
          return pkg ? [{ pkg, file: rel, dev: dev || rel in DEV_FILES }] : [];
        });
      }),
    );
  return [...scan(RUNTIME_FOLDERS, false), ...scan(DEV_FOLDERS, true)];
}

test('the scanner: specifiers of every kind, package names, built-ins', () => {
  const code = [
    "import a from 'alpha';",
    "import type { B } from '@scope/beta/sub/path';",
    "export * from 'gamma/x';",
    "import * as fs from 'node:fs';",
    "import * as os from 'os';",
    "import { x } from './local';",
    "const d = require('delta');",
    "const e = require.resolve('epsilon/package.json');",
    "const f = import('zeta');",
    "type G = typeof import('eta');",
    "import h = require('theta');",
    "import { test } from 'node:test';",
    "import 'fs/promises';",
  ].join('\n');
  const pkgs = specifiersOf('example.ts', code)
    .map(packageOf)
    .filter((p) => p !== undefined);
  assert.deepEqual(pkgs, ['alpha', '@scope/beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta']);
  assert.deepEqual(specifiersOf('example.mjs', "import x from 'iota';\nconst y = await import('kappa');"), ['iota', 'kappa']);
});

test('lib/, kernel/, bin/ and scripts/ import only dependencies; test/ and bench/ only dependencies or devDependencies', () => {
  const problems: string[] = [];
  for (const { pkg, file, dev } of uses()) {
    if (DEPENDENCIES.includes(pkg)) continue;
    if (dev && DEV_DEPENDENCIES.includes(pkg)) continue;
    if (UNDECLARED[pkg]?.files.includes(file)) continue;
    if (DEV_DEPENDENCIES.includes(pkg))
      problems.push(`${file} imports ${pkg}, a devDependency: move it to dependencies, or the import to test/ or bench/`);
    else problems.push(`${file} imports ${pkg}, which package.json does not declare`);
  }
  assert.deepEqual([...new Set(problems)], []);
});

test('every dependency is imported by code that runs (lib/, kernel/, bin/, scripts/), every devDependency somewhere', () => {
  const all = uses();
  const runtime = new Set(all.filter((u) => !u.dev).map((u) => u.pkg));
  const anywhere = new Set(all.map((u) => u.pkg));
  const unused = [
    ...DEPENDENCIES.filter((pkg) => !runtime.has(pkg) && !NOT_IMPORTED[pkg]).map(
      (pkg) => `dependency ${pkg}${anywhere.has(pkg) ? ' (imported only by tests or dev scripts: a devDependency?)' : ''}`,
    ),
    ...DEV_DEPENDENCIES.filter((pkg) => !anywhere.has(pkg) && !NOT_IMPORTED[pkg]).map((pkg) => `devDependency ${pkg}`),
  ];
  assert.deepEqual(unused, [], 'declared but never imported: remove them, or list them in NOT_IMPORTED with the reason');
});

test('the exceptions still hold: each names a file that mentions the package, and is still needed', () => {
  const all = uses();
  for (const [pkg, { where, mentions, optIn }] of Object.entries(NOT_IMPORTED)) {
    const declared = DEPENDENCIES.includes(pkg) || DEV_DEPENDENCIES.includes(pkg);
    if (!optIn) assert.ok(declared, `NOT_IMPORTED lists ${pkg}, which package.json no longer declares`);
    const text = fs.readFileSync(path.join(ROOT, where), 'utf8');
    const named = mentions ? text.includes(mentions) : ['"', "'", '`'].some((q) => text.includes(`${q}${pkg}${q}`));
    assert.ok(named, `${where} should name ${pkg}${mentions ? ` (${mentions})` : ''}`);
    if (declared) assert.ok(!all.some((u) => u.pkg === pkg && !u.dev), `${pkg} is imported now: drop it from NOT_IMPORTED`);
  }
  for (const file of Object.keys(DEV_FILES))
    assert.ok(fs.existsSync(path.join(ROOT, file)), `DEV_FILES lists ${file}, which does not exist`);
  for (const [pkg, { files }] of Object.entries(UNDECLARED)) {
    assert.ok(!DEPENDENCIES.includes(pkg) && !DEV_DEPENDENCIES.includes(pkg), `${pkg} is declared now: drop it from UNDECLARED`);
    for (const file of files.filter((f) => all.some((u) => u.pkg === pkg && u.file === f))) {
      assert.match(
        fs.readFileSync(path.join(ROOT, file), 'utf8'),
        /require\.resolve\('tslab\/package\.json'\)|createRequire/,
        `${file} should reach ${pkg} through tslab's folder`,
      );
    }
  }
});

test('every allowScripts entry names an installed package', () => {
  const missing = Object.keys(PACKAGE.allowScripts ?? {})
    .map((key) => key.replace(/(.)@[^@/]*$/, '$1')) // "name@version" -> "name"
    .filter((pkg) => !fs.existsSync(path.join(ROOT, 'node_modules', pkg, 'package.json')));
  assert.deepEqual(missing, [], 'allowScripts lists packages that are not installed: remove those entries');
});

/** The folders of every installed package, nested node_modules included. */
function installedPackages(dir = path.join(ROOT, 'node_modules')): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name.startsWith('.') || !(e.isDirectory() || e.isSymbolicLink())) return [];
    const folder = path.join(dir, e.name);
    if (e.name.startsWith('@')) return installedPackages(folder);
    if (e.isSymbolicLink()) return []; // the link to this package itself
    return [folder, ...installedPackages(path.join(folder, 'node_modules'))];
  });
}

test('allowScripts names every installed package that has an install script', () => {
  const listed = new Set(Object.keys(PACKAGE.allowScripts ?? {}).map((key) => key.replace(/(.)@[^@/]*$/, '$1')));
  const withScripts = installedPackages().flatMap((folder) => {
    const file = path.join(folder, 'package.json');
    if (!fs.existsSync(file)) return [];
    const { name, scripts = {} } = JSON.parse(fs.readFileSync(file, 'utf8')) as { name: string; scripts?: Record<string, string> };
    const gyp = !scripts.install && fs.existsSync(path.join(folder, 'binding.gyp')); // npm runs node-gyp rebuild then
    return scripts.preinstall || scripts.install || scripts.postinstall || gyp ? [name] : [];
  });
  assert.deepEqual(
    [...new Set(withScripts)].filter((name) => !listed.has(name)).sort(),
    [],
    'install scripts allowScripts does not decide on: add them (false unless needed)',
  );
});
