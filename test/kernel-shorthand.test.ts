/**
 * Shorthand properties naming an earlier cell's declaration (`tf.model({ inputs, outputs })`):
 * spelled out before compiling, with positions mapping back to what the user typed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EditedText } from '../kernel/cell-modules';
import { shorthandPropertyEdits } from '../kernel/shorthand';

const expand = (code: string) => new EditedText(code, shorthandPropertyEdits(code));

test('every shorthand property is spelled out, and nothing else changes', () => {
  assert.equal(expand('tf.model({ inputs, outputs: out })').text, 'tf.model({ inputs: inputs, outputs: out })');
  assert.equal(expand('const o = { a, b };').text, 'const o = { a: a, b: b };');
  // Destructuring assignment with a default: still the same meaning.
  assert.equal(expand('({ a = 1 } = obj);').text, '({ a: a = 1 } = obj);');
  // Binding patterns, methods, strings and comments are not shorthand properties.
  for (const same of [
    'const { a, b } = obj;',
    'const o = { f() { return 1; } };',
    "const s = '{ a }'; // { a }",
    'function f({ a }: { a: number }) {}',
  ]) {
    assert.equal(expand(same).text, same);
  }
});

test('the name the user typed stays the reference, so diagnostics point at it', () => {
  const code = '({ a, zz })';
  const edited = expand(code);
  // The reference is the second zz of "zz: zz" (the inserted key comes first).
  const reference = edited.text.lastIndexOf('zz');
  assert.equal(edited.toOriginal(reference), code.indexOf('zz'));
  assert.equal(edited.toOriginal(reference + 2), code.indexOf('zz') + 2);
  assert.equal(edited.toEdited(code.indexOf('zz')), edited.text.indexOf('zz: zz'));
});
