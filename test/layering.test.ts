/**
 * The library's layers (README.md, "Development"): every folder of lib/ has a rank, and a module
 * may import (statically, dynamically or with require, types included) only from its own folder or
 * from a folder of a lower rank. The entry points (lib/index.ts and the folders' index.ts barrels)
 * may import anything: they install the Keras compatibility patches and re-export. kernel/ sits on
 * top of lib/, and lib/ never imports kernel/. There are no import cycles between modules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '..');

/** Lower first. Folders of one rank do not import each other. */
export const LAYERS: readonly (readonly string[])[] = [
  ['core'], // errors, seeding, cache root, atomic writes, tensor reads: imports nothing of ours
  ['notebook', 'graph'], // display, progress, the kernel's hook and interrupt; tfjs' layer graph
  ['net', 'backends', 'export'], // downloads; choosing and resetting TensorFlow.js backends; notebook export
  ['settings', 'layers', 'plot'], // lesson-mode state; our layers; figures
  ['data', 'weights'], // Dollar Street loading; .h5 files, ImageNet weights, saved models
  ['onnx', 'applications'], // the ONNX Runtime engine; the pre-trained networks
  ['train'], // fit / evaluate / predict, losses, metrics, callbacks, summary
  ['features', 'doctor'], // the frozen-feature planner and cache; the environment report
  ['compat'], // the patches that give tfjs Keras' semantics, and their installer
  ['keras', 'lesson'], // the Keras-shaped namespace; the lesson's helpers
];

const rankOf = new Map(LAYERS.flatMap((folders, rank) => folders.map((f) => [f, rank] as const)));

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const file = path.join(dir, e.name);
    return e.isDirectory() ? tsFiles(file) : file.endsWith('.ts') && !file.endsWith('.d.ts') ? [file] : [];
  });
}

/**
 * The relative modules `file` imports, resolved to files: import/export from, import(), require();
 * with `types: false`, not the type-only ones (gone at run time, so they make no cycle).
 */
function importsOf(file: string, { types = true } = {}): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const specifiers: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      const typeOnly = ts.isImportDeclaration(node) ? node.importClause?.isTypeOnly === true : node.isTypeOnly;
      if (types || !typeOnly) specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.arguments.length > 0 && ts.isStringLiteral(node.arguments[0])) {
      const callee = node.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === 'require'))
        specifiers.push(node.arguments[0].text);
    } else if (types && ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      specifiers.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return specifiers
    .filter((s) => s.startsWith('.'))
    .map((s) => {
      const base = path.resolve(path.dirname(file), s);
      return [`${base}.ts`, path.join(base, 'index.ts'), base].find((f) => fs.existsSync(f) && fs.statSync(f).isFile()) ?? base;
    });
}

const rel = (file: string) => path.relative(ROOT, file);
/** 'lib/<folder>/...' -> folder; lib/index.ts -> undefined. */
const folderOf = (file: string) => rel(file).split(path.sep)[1]?.replace(/\.ts$/, '');
const isEntryPoint = (file: string) =>
  path.basename(file) === 'index.ts' && (rel(file) === path.join('lib', 'index.ts') || rel(file).split(path.sep).length === 3);

const LIB = tsFiles(path.join(ROOT, 'lib'));
const KERNEL = tsFiles(path.join(ROOT, 'kernel'));

test('every folder of lib/ has a rank, and lib/ has no loose modules but its entry point', () => {
  const folders = fs
    .readdirSync(path.join(ROOT, 'lib'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  assert.deepEqual(
    folders.filter((f) => !rankOf.has(f)),
    [],
    'folders missing from LAYERS',
  );
  assert.deepEqual(
    [...rankOf.keys()].filter((f) => !folders.includes(f)),
    [],
    'LAYERS names folders that do not exist',
  );
  const loose = fs.readdirSync(path.join(ROOT, 'lib')).filter((f) => f.endsWith('.ts') && f !== 'index.ts');
  assert.deepEqual(loose, []);
});

/** What is wrong with `file` of lib/ importing `targets`, one line each. */
function layerViolations(file: string, targets: string[]): string[] {
  if (isEntryPoint(file)) return [];
  const from = folderOf(file);
  return targets.flatMap((target) => {
    if (!rel(target).startsWith(`lib${path.sep}`)) return [`${rel(file)} imports ${rel(target)}, outside lib/`];
    const to = folderOf(target);
    if (to === from) return [];
    return to === 'index' || rankOf.get(to!)! >= rankOf.get(from!)! ? [`${rel(file)} (${from}) imports ${rel(target)} (${to})`] : [];
  });
}

test('no module imports from a folder of its own rank or above (entry points excepted), and lib/ never imports kernel/', () => {
  assert.deepEqual(
    LIB.flatMap((file) => layerViolations(file, importsOf(file))),
    [],
  );
});

test('the check sees each kind of violation', () => {
  const lib = (...parts: string[]) => path.join(ROOT, 'lib', ...parts);
  assert.deepEqual(layerViolations(lib('core', 'probe.ts'), [lib('train', 'fit.ts'), lib('core', 'errors.ts')]), [
    'lib/core/probe.ts (core) imports lib/train/fit.ts (train)',
  ]);
  assert.deepEqual(
    layerViolations(lib('data', 'probe.ts'), [lib('weights', 'h5.ts')]),
    ['lib/data/probe.ts (data) imports lib/weights/h5.ts (weights)'],
    'same rank',
  );
  assert.deepEqual(layerViolations(lib('train', 'probe.ts'), [lib('index.ts')]), [
    'lib/train/probe.ts (train) imports lib/index.ts (index)',
  ]);
  assert.deepEqual(layerViolations(lib('train', 'probe.ts'), [path.join(ROOT, 'kernel', 'hook.ts')]), [
    'lib/train/probe.ts imports kernel/hook.ts, outside lib/',
  ]);
  assert.deepEqual(layerViolations(lib('train', 'index.ts'), [lib('lesson', 'mode.ts')]), [], 'an entry point');
  assert.deepEqual(layerViolations(lib('lesson', 'probe.ts'), [lib('train', 'fit.ts')]), [], 'downwards');
});

test('no import cycles among the modules of lib/ and kernel/ (type-only imports aside)', () => {
  const graph = new Map([...LIB, ...KERNEL].map((f) => [f, importsOf(f, { types: false })]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].map(rel).join(' -> '));
      else if (!state.has(next) && graph.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  assert.deepEqual(cycles, []);
});
