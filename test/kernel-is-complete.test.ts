// is_complete: complete code runs, code that more lines can finish waits, code no continuation
// can fix is invalid (tslab 1.0.22 called all of these "complete").
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isComplete } from '../kernel/is-complete';

const CASES: [string, 'complete' | 'incomplete' | 'invalid'][] = [
  ['1 + 1', 'complete'],
  ['let x = 1;', 'complete'],
  ['await fetchSomething()', 'complete'],
  ['import { tf } from "tslab-dl";', 'complete'],
  ['const s = `line 1\nline 2`;', 'complete'],
  ['function f(a: number) {\n  return a;\n}', 'complete'],
  ['', 'complete'],
  ['function f() {', 'incomplete'],
  ['[1, 2,', 'incomplete'],
  ['f(1,', 'incomplete'],
  ['let s = `unclosed template', 'incomplete'],
  ['let s = `value ${x', 'incomplete'],
  ['/* an open comment', 'incomplete'],
  ['const total = 1 +', 'incomplete'],
  ['class A {\n  m() {', 'incomplete'],
  ["const s = 'continued \\", 'incomplete'],
  [')', 'invalid'],
  ['}', 'invalid'],
  ['let 1x = 2', 'invalid'],
  ["let s = 'a string cut by the end of the line", 'invalid'],
  ['a b', 'invalid'],
  ['#', 'invalid'],
  // An error before the end makes the whole cell invalid, even if its end is also open.
  ['let 1x = (', 'invalid'],
];

describe('is_complete', () => {
  for (const [code, status] of CASES) {
    test(`${JSON.stringify(code)} is ${status}`, () => {
      assert.equal(isComplete(code).status, status);
    });
  }

  test('incomplete code gets the indentation of the next line', () => {
    assert.deepEqual(isComplete('function f() {'), { status: 'incomplete', indent: '  ' });
    assert.deepEqual(isComplete('if (x) {\n  for (;;) {'), { status: 'incomplete', indent: '    ' });
  });

  test('two blank lines at the end force execution, as in tslab', () => {
    assert.equal(isComplete('function f() {\n\n\n').status, 'complete');
  });
});
