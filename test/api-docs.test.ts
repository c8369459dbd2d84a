/**
 * Every name the public entry point (lib/index.ts) exports has a TSDoc comment, and the functions
 * the lesson uses document each parameter, what they return, and an example, so that the API
 * reference (`npm run docs`, TypeDoc) is complete. Read with the TypeScript compiler API on the
 * project's own `typescript` (test/support/api-docs.ts); the checker is first shown to catch an
 * undocumented export in a tiny in-memory program.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { exportDocs, inMemoryProgram, memberDoc, missingFunctionTags, projectProgram, undocumentedExports } from './support/api-docs';

const ROOT = path.resolve(__dirname, '..');
const ENTRY = path.join(ROOT, 'lib', 'index.ts');

/** The functions the lesson notebooks call: each needs @param for every parameter, @returns and @example. */
const LESSON_FUNCTIONS = [
  'loadDollarStreet',
  'fetchDollarStreet',
  'showImages',
  'lessonMode',
  'upscale',
  'DenseNet121',
  'buildHead',
  'fit',
  'evaluate',
  'predict',
  'plotHistory',
  'confusionMatrix',
  'setTrainable',
  'compareModels',
  'recordResult',
  'compareResults',
  'saveModel',
  'loadModel',
];

test('the checker reports an undocumented export, through re-exports and namespaces (in-memory program)', () => {
  const program = inMemoryProgram({
    '/m/index.ts': [
      '/** Documented. */',
      'export const documented = 1;',
      'export const bare = 2;',
      "export { helper, documentedHelper } from './helpers';",
      "export * from './star';",
      "export * as plainNamespace from './helpers';",
      '/** A documented namespace. */',
      "export * as documentedNamespace from './helpers';",
    ].join('\n'),
    '/m/helpers.ts': [
      'export function helper(x: number): number { return x; }',
      '/** Documented where it is declared. */',
      'export function documentedHelper(): void {}',
    ].join('\n'),
    '/m/star.ts': ['/** Documented. */', 'export interface Shown { a: number }', 'export type Hidden = { b: number };'].join('\n'),
  });
  assert.deepEqual(undocumentedExports(program, '/m/index.ts'), ['bare', 'helper', 'Hidden', 'plainNamespace']);
  assert.equal(exportDocs(program, '/m/index.ts').length, 8);
});

test('the checker reports a lesson function without @param, @returns or @example (in-memory program)', () => {
  const program = inMemoryProgram({
    '/m/index.ts': [
      '/**',
      ' * Adds.',
      ' * @param x - the first',
      ' */',
      'export function add(x: number, y: number): number { return x + y; }',
      '/**',
      ' * Switches.',
      ' * @param options - `on`, default true',
      ' * @example',
      ' * ```ts',
      ' * lesson();',
      ' * ```',
      ' */',
      'export function lesson({ on = true }: { on?: boolean } = {}): void { void on; }',
    ].join('\n'),
  });
  const docs = exportDocs(program, '/m/index.ts');
  const doc = (name: string) => docs.find((d) => d.name === name)!;
  assert.deepEqual(missingFunctionTags(program, doc('add')), ['add: no @param for y', 'add: no @returns', 'add: no @example']);
  // A destructured parameter is documented by position; a void function needs no @returns.
  assert.deepEqual(missingFunctionTags(program, doc('lesson')), []);
});

// One program for the real checks: building it reads the library and its types (a few seconds).
let program: ReturnType<typeof projectProgram> | undefined;
const libraryProgram = () => (program ??= projectProgram(ENTRY, path.join(ROOT, 'tsconfig.json')));

test('every export of lib/index.ts has a doc comment', () => {
  const docs = exportDocs(libraryProgram(), ENTRY);
  assert.ok(docs.length > 250, `expected the whole public API, found ${docs.length} exports`);
  assert.deepEqual(undocumentedExports(libraryProgram(), ENTRY), [], 'exports without a doc comment (/** ... */ on the declaration)');
});

test("the lesson's functions document each parameter, the result, and an example", () => {
  const docs = exportDocs(libraryProgram(), ENTRY);
  const problems = LESSON_FUNCTIONS.flatMap((name) => {
    const doc = docs.find((d) => d.name === name);
    return doc ? missingFunctionTags(libraryProgram(), doc) : [`${name}: not exported from lib/index.ts`];
  });
  assert.deepEqual(problems, []);
});

test('keras.applications.DenseNet121 is the documented DenseNet121', () => {
  const viaKeras = memberDoc(libraryProgram(), ENTRY, 'keras.applications.DenseNet121');
  const direct = exportDocs(libraryProgram(), ENTRY).find((d) => d.name === 'DenseNet121');
  assert.ok(viaKeras && direct, 'keras.applications.DenseNet121 and DenseNet121 are both reachable');
  assert.deepEqual(viaKeras.declarations, direct.declarations, 'the same declaration');
  assert.deepEqual(missingFunctionTags(libraryProgram(), viaKeras), []);
});
