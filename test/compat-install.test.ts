/**
 * The Keras compatibility patches have one installer (lib/compat/install.ts): applying it twice
 * changes nothing, it refuses another TensorFlow.js version with a message naming it, and `fit`
 * plans the same way (frozen features computed once, the same losses) whichever public path it
 * is imported from. This file imports nothing that installs the patches, so it starts unpatched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { checkTfjsVersion, installKerasCompat, kerasCompatInstalled, SUPPORTED_TFJS_VERSION } from '../lib/compat/install';

const ROOT = path.resolve(__dirname, '..');

/** The functions the patches replace, to compare before and after. */
function patchedMembers(): unknown[] {
  const model = tf.LayersModel.prototype as unknown as Record<string, unknown>;
  const bn = Object.getPrototypeOf(tf.layers.batchNormalization({})) as Record<string, unknown>;
  let owner: object | null = tf.LayersModel.prototype;
  while (owner && !Object.getOwnPropertyDescriptor(owner, 'trainable')) owner = Object.getPrototypeOf(owner);
  const trainable = Object.getOwnPropertyDescriptor(owner!, 'trainable')!.set;
  return [model.compile, model.standardizeUserDataXY, model.summary, model.fit, model.evaluate, model.predict, bn.call, trainable];
}

test('another TensorFlow.js version is refused with a message naming it, and nothing is patched', () => {
  assert.equal(SUPPORTED_TFJS_VERSION, tf.version.tfjs, 'the installed tfjs is the supported one');
  const original = patchedMembers();
  const versions = { ...tf.version, 'tfjs-core': '4.23.0', 'tfjs-layers': '4.23.0' };
  assert.throws(
    () => installKerasCompat({ versions }),
    (e: Error) => {
      assert.match(
        e.message,
        /^tslab-dl's Keras compatibility patches \(lib\/compat\) were written for TensorFlow\.js 4\.22\.0, and this process loaded @tensorflow\/tfjs-core 4\.23\.0, @tensorflow\/tfjs-layers 4\.23\.0\./,
      );
      assert.match(e.message, /`npm install @tensorflow\/tfjs@4\.22\.0`/);
      return true;
    },
  );
  assert.throws(() => checkTfjsVersion({ 'tfjs-core': '4.22.0', 'tfjs-layers': '4.22.0' }), /@tensorflow\/tfjs-backend-cpu \(missing\)/);
  assert.equal(kerasCompatInstalled(), false);
  assert.deepEqual(patchedMembers(), original, 'no patch applied');
});

test('the installer patches once: a second call changes nothing', () => {
  const original = patchedMembers();
  installKerasCompat();
  assert.equal(kerasCompatInstalled(), true);
  const patched = patchedMembers();
  patched.forEach((member, i) => assert.notEqual(member, original[i], `member ${i} is patched`));
  installKerasCompat();
  installKerasCompat({ versions: tf.version });
  assert.deepEqual(patchedMembers(), patched);
});

test('fit plans the same way through every public path: tslab-dl, lib/train, and model.fit after lib/keras', () => {
  const results = ['index', 'train', 'keras'].map((which) => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', path.join('test', 'support', 'fit-path-child.ts'), which], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 180_000,
    });
    const line = (run.stdout ?? '').trim().split('\n').pop() ?? '';
    const result = JSON.parse(line || '{}');
    assert.equal(result.error, undefined, `${which}: ${result.error ?? run.stderr}`);
    return { which, ...result };
  });
  for (const r of results) {
    assert.equal(r.installed, true, r.which);
    assert.equal(r.featuresComputed, 1, `${r.which}: the frozen base computed once, as features`);
    assert.equal(r.loss.length, 3);
  }
  const [index, ...others] = results;
  for (const r of others) {
    r.loss.forEach((loss: number, i: number) =>
      assert.ok(Math.abs(loss - index.loss[i]) < 1e-6, `${r.which} epoch ${i}: ${loss} vs ${index.loss[i]}`),
    );
    assert.deepEqual(r.accuracy, index.accuracy, r.which);
  }
});
