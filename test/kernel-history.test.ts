// history_request: tail, range and search (glob, unique, n) over this kernel's cells, shaped as
// IPython answers them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HISTORY_SESSION, History } from '../kernel/history';

function history(): History {
  const h = new History();
  ['let a = 1', '6*7', 'a + 1', '6*7', 'console.log(a)'].forEach((code, i) => h.add(i + 1, code));
  h.setOutput(2, '42');
  return h;
}

describe('kernel history', () => {
  test('tail returns the last n inputs', () => {
    assert.deepEqual(history().query({ hist_access_type: 'tail', n: 2 }), [
      [HISTORY_SESSION, 4, '6*7'],
      [HISTORY_SESSION, 5, 'console.log(a)'],
    ]);
  });

  test('with output, entries hold [input, output]', () => {
    assert.deepEqual(history().query({ hist_access_type: 'range', session: HISTORY_SESSION, start: 2, stop: 3, output: true }), [
      [HISTORY_SESSION, 2, ['6*7', '42']],
    ]);
  });

  test('range over the current session (0 means current); other sessions are empty', () => {
    assert.deepEqual(
      history()
        .query({ hist_access_type: 'range', session: 0, start: 3, stop: 5 })
        .map((e) => e[1]),
      [3, 4],
    );
    assert.deepEqual(history().query({ hist_access_type: 'range', session: 7 }), []);
  });

  test('search matches globs against the whole input; unique and n', () => {
    const h = history();
    assert.deepEqual(
      h.query({ hist_access_type: 'search', pattern: '6?7' }).map((e) => e[1]),
      [2, 4],
    );
    assert.deepEqual(
      h.query({ hist_access_type: 'search', pattern: '6?7', unique: true }).map((e) => e[1]),
      [4],
    );
    assert.deepEqual(
      h.query({ hist_access_type: 'search', pattern: '*a*', n: 2 }).map((e) => e[1]),
      [3, 5],
    );
    assert.deepEqual(h.query({ hist_access_type: 'search', pattern: 'a' }), []);
  });
});
