// Relative imports in a cell are rebased from the notebook's folder onto the project root (so
// tslab's compiler, rooted there, finds files above the notebook), and positions in compiler
// answers map back to what the user typed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EditedText, moduleSpecifiers, rebaseRelativeSpecifiers, rebaseSpecifier, restoreSpecifiers } from '../kernel/cell-modules';
import { codePointOffset, utf16Offset } from '../kernel/text-offsets';

describe('module specifiers of a cell', () => {
  test('imports, re-exports, import(), require(), import = require() and import types are found', () => {
    const code = [
      "import { a } from './a';",
      "import type { B } from 'b-types';",
      "export { c } from '../c';",
      "const d = await import('d');",
      "const e = require('./e');",
      "import f = require('f');",
      "let g: import('./g').G;",
      "const notAModule = './h';",
    ].join('\n');
    const found = moduleSpecifiers(code).map((s) => [s.text, s.typeOnly]);
    assert.deepEqual(found, [
      ['./a', false],
      ['b-types', true],
      ['../c', false],
      ['d', false],
      ['./e', false],
      ['f', false],
      ['./g', true],
    ]);
    for (const s of moduleSpecifiers(code)) assert.equal(code.slice(s.start, s.end), s.text);
  });
});

describe('rebasing relative specifiers', () => {
  test('a specifier from /p/notebooks/sub names the same file from /p', () => {
    assert.equal(rebaseSpecifier('../../common/geo', '/p/notebooks/sub', '/p'), './common/geo');
    assert.equal(rebaseSpecifier('./local', '/p/notebooks/sub', '/p'), './notebooks/sub/local');
    assert.equal(rebaseSpecifier('../', '/p/notebooks/sub', '/p'), './notebooks/');
    assert.equal(rebaseSpecifier('../../..', '/p/notebooks/sub', '/p'), '..');
  });

  test('only relative specifiers change, and nothing changes when the folders are the same', () => {
    const code = "import { x } from './x';\nimport { tf } from 'tslab-dl';\nx + 1";
    const rebased = rebaseRelativeSpecifiers(code, '/p/nb', '/p');
    assert.equal(rebased.edited.text, "import { x } from './nb/x';\nimport { tf } from 'tslab-dl';\nx + 1");
    assert.equal(rebaseRelativeSpecifiers(code, '/p', '/p').edited.text, code);
  });

  test('positions map both ways around the rewritten specifier', () => {
    const code = "import { x } from './x';\nx.foo";
    const { edited } = rebaseRelativeSpecifiers(code, '/p/nb', '/p');
    // "./x" (3 characters at 19..22) became "./nb/x" (6 characters): later positions shift by 3.
    const xUse = code.indexOf('x.foo');
    assert.equal(edited.toEdited(xUse), xUse + 3);
    assert.equal(edited.toOriginal(xUse + 3), xUse);
    assert.equal(edited.toEdited(5), 5);
    assert.equal(edited.toOriginal(edited.text.length), code.length);
    // Inside the rewritten literal, positions clamp to it.
    assert.equal(edited.toOriginal(19 + 5), 19 + 3);
  });

  test('several edits shift positions cumulatively', () => {
    const text = new EditedText('aXbYc', [
      { start: 1, end: 2, replacement: '123' },
      { start: 3, end: 4, replacement: '' },
    ]);
    assert.equal(text.text, 'a123bc');
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((p) => text.toEdited(p)),
      [0, 1, 4, 5, 5, 6],
    );
    assert.deepEqual(
      [0, 4, 5, 6].map((p) => text.toOriginal(p)),
      [0, 2, 3, 5],
    );
  });

  test('compiler messages name specifiers as the user wrote them', () => {
    const renamed = new Map([['./nb/missing', './missing']]);
    assert.equal(
      restoreSpecifiers("Cannot find module './nb/missing' or its corresponding type declarations.", renamed),
      "Cannot find module './missing' or its corresponding type declarations.",
    );
  });
});

describe('cursor positions', () => {
  test('Jupyter counts code points, TypeScript counts UTF-16 units', () => {
    const text = 'a😀b';
    assert.equal(utf16Offset(text, 2), 3);
    assert.equal(codePointOffset(text, 3), 2);
    assert.equal(utf16Offset('plain', 3), 3);
  });
});
