// Large tensors nothing refers to any more are disposed after a garbage collection
// (lib/compat/unreachable-tensors.ts), as Python frees an array: the counts and values are
// checked against tf.memory() and the tensors' own data.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ready, tf } from '../lib/index';
import {
  RELEASE_MIN_BYTES,
  collectUnreachableTensors,
  freeUnreachableTensors,
  unreachableTensorStats,
} from '../lib/compat/unreachable-tensors';

/** 512 x 1024 float32: 2 MiB, above the threshold. */
const LARGE: [number, number] = [512, 1024];
const LARGE_BYTES = 512 * 1024 * 4;

/** Made in a function of its own, so no local variable of the test keeps it. */
function dropLarge(value: number): void {
  tf.fill(LARGE, value);
}

describe('unreachable large tensors', () => {
  before(async () => {
    await ready();
    assert.equal(freeUnreachableTensors(tf), true);
    assert.equal(freeUnreachableTensors(tf), true); // a second call changes nothing
    // An engine without tfjs-core 4.22's internals (another version) is left alone.
    const other = { trackTensor: 'not a function' };
    assert.equal(freeUnreachableTensors({ engine: () => other } as unknown as typeof tf), false);
    assert.deepEqual(other, { trackTensor: 'not a function' });
    assert.ok(LARGE_BYTES >= RELEASE_MIN_BYTES);
    await collectUnreachableTensors();
  });

  test('a dropped large tensor is disposed by a collection; a held one is not', async () => {
    const before = tf.memory();
    const watched = unreachableTensorStats.watched;
    const held = tf.fill(LARGE, 3);
    dropLarge(1);
    assert.equal(unreachableTensorStats.watched, watched + 2, 'both are watched (installed once)');
    assert.equal(tf.memory().numBytes, before.numBytes + 2 * LARGE_BYTES);
    const freed = await collectUnreachableTensors();
    assert.equal(freed, LARGE_BYTES);
    assert.equal(tf.memory().numTensors, before.numTensors + 1);
    assert.equal(tf.memory().numBytes, before.numBytes + LARGE_BYTES);
    const values = await held.data();
    assert.equal(values[0], 3);
    assert.equal(values[values.length - 1], 3);
    held.dispose();
    assert.equal(unreachableTensorStats.watched, watched);
  });

  test('data a held tensor shares (a reshape, a variable) stays when the dropped one goes', async () => {
    const before = tf.memory();
    const reshaped = (() => tf.fill(LARGE, 5).reshape([1024, 512]))();
    const variable = (() => tf.variable(tf.fill(LARGE, 7)))();
    const released = unreachableTensorStats.released;
    await collectUnreachableTensors();
    assert.equal(unreachableTensorStats.released, released + 2, 'the two dropped originals were disposed');
    assert.equal(tf.memory().numTensors, before.numTensors + 2);
    assert.deepEqual([...new Set(await reshaped.data())], [5]);
    assert.deepEqual([...new Set(await variable.data())], [7]);
    // Their data is still the backend's: disposing them frees it, once.
    reshaped.dispose();
    variable.dispose();
    assert.equal(tf.memory().numBytes, before.numBytes);
    assert.equal(tf.memory().numTensors, before.numTensors);
  });

  test('a disposed tensor is not disposed again, and small tensors or tidy scopes are left to tfjs', async () => {
    const before = tf.memory();
    const watched = unreachableTensorStats.watched;
    const disposed = tf.fill(LARGE, 2);
    disposed.dispose();
    const small = tf.fill([4, 4], 1);
    const fromTidy = tf.tidy(() => tf.fill(LARGE, 4).sum());
    assert.equal(unreachableTensorStats.watched, watched, 'the disposed and the tidy-scoped large tensors left the watch');
    const released = unreachableTensorStats.released;
    await collectUnreachableTensors();
    assert.equal(unreachableTensorStats.released, released);
    assert.equal(tf.memory().numTensors, before.numTensors + 2);
    assert.equal((await fromTidy.data())[0], 4 * 512 * 1024);
    tf.dispose([small, fromTidy]);
    assert.equal(tf.memory().numTensors, before.numTensors);
  });
});
