/**
 * ONNX Runtime sessions kept between calls: predict, fit and evaluate on one model open one
 * session and give the numbers a fresh session gives; a changed weight, a disposed model, the
 * bounds on what is kept (count, bytes, available memory, idle time), a backend reset and
 * releaseOnnxSessions() each release it, counted.
 */
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { clearFeatureMemory, evaluate, fit, predict, setBackend, splitFrozenPrefix } from '../lib';
import { createOnnxSession, OnnxSession, onnxAvailable, onnxRuntimeInfo } from '../lib/onnx';
import {
  leaseOnnxSession,
  onnxSessionStats,
  releaseOnnxSessions,
  releaseStaleOnnxSessions,
  resetOnnxSessionCacheLimits,
  setOnnxSessionCacheLimits,
} from '../lib/onnx/session-cache';
import { resetWasmBackend, pendingReset } from '../lib/backends/reset';
import { tfjsPredict } from '../lib/train/tfjs-methods';
import { KERNEL_HOOK } from '../lib/notebook/kernel-hook';
import { InterruptedError } from '../lib/core/errors';
import { lessonLikeModel } from './support/lesson-like-model';

const skip = onnxAvailable() ? false : `onnxruntime-node is not usable here: ${onnxRuntimeInfo().reason}`;

/** The change in the session counters since `before`. */
function counted(before: typeof onnxSessionStats): { opened: number; reused: number; released: number; open: number } {
  return {
    opened: onnxSessionStats.opened - before.opened,
    reused: onnxSessionStats.reused - before.reused,
    released: onnxSessionStats.released - before.released,
    open: onnxSessionStats.open,
  };
}

let seed = 100;
/** Images no call has seen: the feature cache cannot answer, the prefix must run. */
const newImages = (n = 12) => tf.randomUniform([n, 8, 8, 3], 0, 1, 'float32', seed++);
const labels = (n = 12) =>
  tf.tensor1d(
    Array.from({ length: n }, (_, i) => i % 3),
    'int32',
  );

/** The model's outputs computed by tfjs alone (its own predict, no feature cache, no ONNX). */
function tfjsOutputs(model: tf.LayersModel, x: tf.Tensor): Float32Array {
  const y = tfjsPredict(model, x, { batchSize: 32 }) as tf.Tensor;
  const values = y.dataSync() as Float32Array;
  y.dispose();
  return values;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: lengths`);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `${what}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

async function predicted(model: tf.LayersModel, x: tf.Tensor): Promise<Float32Array> {
  const y = await predict(model, x, { verbose: 0 });
  const values = (await y.data()) as Float32Array;
  y.dispose();
  return values;
}

describe('sessions kept across predict, fit and evaluate', { skip }, () => {
  before(async () => {
    await setBackend('cpu');
  });
  beforeEach(() => {
    releaseOnnxSessions();
    resetOnnxSessionCacheLimits();
    clearFeatureMemory();
  });
  after(() => {
    releaseOnnxSessions();
    resetOnnxSessionCacheLimits();
  });

  test('predict called four times opens one session, and gives what a fresh session gives, exactly', async () => {
    const model = lessonLikeModel({ seed: 1, blocks: 2 });
    const start = { ...onnxSessionStats };
    const inputs = [newImages(), newImages(), newImages(), newImages(40)];
    const results: Float32Array[] = [];
    for (const x of inputs) results.push(await predicted(model, x));
    assert.deepEqual(counted(start), { opened: 1, reused: 3, released: 0, open: 1 });

    // A session of its own for the same prefix, then the same head: the same numbers, bit for bit.
    const split = splitFrozenPrefix(model, { inference: true })!;
    const fresh = await createOnnxSession(split.prefix);
    try {
      for (const [i, x] of inputs.entries()) {
        const features = await fresh.run(x);
        const expected = tfjsOutputs(split.head, features);
        features.dispose();
        assert.deepEqual(results[i], expected, `call ${i + 1}`);
        // And what tfjs computes for the whole model, to float precision.
        assertClose(results[i], tfjsOutputs(model, x), 1e-4, `call ${i + 1} against tfjs`);
      }
    } finally {
      await fresh.dispose();
    }
    tf.dispose(inputs);
    model.dispose();
  });

  test('fit, then predict, then evaluate (and tfjs model.fit) share one session', async () => {
    const model = lessonLikeModel({ seed: 2 });
    const start = { ...onnxSessionStats };
    const [x1, y1, x2, x3, y3, x4, y4] = [newImages(), labels(), newImages(), newImages(), labels(), newImages(), labels()];
    await fit(model, x1, y1, { epochs: 2, batchSize: 4, verbose: 0 });
    assert.deepEqual(counted(start), { opened: 1, reused: 0, released: 0, open: 1 });
    const logits = await predicted(model, x2);
    assertClose(logits, tfjsOutputs(model, x2), 1e-4, 'predict after fit');
    const result = await evaluate(model, x3, y3, { verbose: 0 });
    assert.ok(result.loss > 0);
    await model.fit(x4, y4, { epochs: 1, batchSize: 4, verbose: 0 });
    assert.deepEqual(counted(start), { opened: 1, reused: 3, released: 0, open: 1 });
    tf.dispose([x1, y1, x2, x3, y3, x4, y4]);
    model.dispose();
  });

  test('a changed weight (setWeights) opens a new session with the new numbers, and releases the old one', async () => {
    const model = lessonLikeModel({ seed: 3 });
    const x = newImages();
    const start = { ...onnxSessionStats };
    const before = await predicted(model, x);
    const conv = model.layers.find((l) => l.getClassName() === 'Conv2D')!;
    const [kernel] = conv.getWeights();
    const doubled = kernel.mul(2);
    conv.setWeights([doubled]);
    doubled.dispose();
    const x2 = newImages();
    const after = await predicted(model, x2);
    assert.deepEqual(counted(start), { opened: 2, reused: 0, released: 1, open: 1 });
    assertClose(after, tfjsOutputs(model, x2), 1e-4, 'after setWeights');
    // The same images again after the change: new numbers, not the old session's.
    const again = await predicted(model, x);
    assertClose(again, tfjsOutputs(model, x), 1e-4, 'the first images after setWeights');
    assert.ok(
      again.some((v, i) => Math.abs(v - before[i]) > 1e-3),
      'doubling the kernel changes the outputs',
    );
    assert.equal(counted(start).opened, 2, 'unchanged weights since: the second session serves');
    tf.dispose([x, x2]);
    model.dispose();
  });

  test('model.dispose() releases its session at once; releaseOnnxSessions() releases every session', async () => {
    const a = lessonLikeModel({ seed: 4 });
    const b = lessonLikeModel({ seed: 5 });
    const x = newImages();
    const start = { ...onnxSessionStats };
    await predicted(a, x);
    await predicted(b, x);
    assert.deepEqual(counted(start), { opened: 2, reused: 0, released: 0, open: 2 });
    a.dispose();
    assert.deepEqual(counted(start), { opened: 2, reused: 0, released: 1, open: 1 });
    assert.equal(releaseOnnxSessions(), 1);
    assert.deepEqual(counted(start), { opened: 2, reused: 0, released: 2, open: 0 });
    // b is alive: its next call opens a session again.
    await predicted(b, newImages());
    assert.deepEqual(counted(start), { opened: 3, reused: 0, released: 2, open: 1 });
    b.dispose();
    assert.equal(onnxSessionStats.open, 0);
    x.dispose();
  });

  test('disposing a layer of the frozen base (its weights) releases the session at once', async () => {
    const model = lessonLikeModel({ seed: 10 });
    const x = newImages();
    const start = { ...onnxSessionStats };
    await predicted(model, x);
    const conv = model.layers.find((l) => l.getClassName() === 'Conv2D')!;
    // The layer was applied once (by the model's construction): this disposes its weights.
    assert.equal(conv.dispose().refCountAfterDispose, 0);
    assert.deepEqual(counted(start), { opened: 1, reused: 0, released: 1, open: 0 });
    x.dispose();
  });

  test('an interrupted predict keeps the session for the next call', async () => {
    const model = lessonLikeModel({ seed: 9 });
    const start = { ...onnxSessionStats };
    const x = newImages(40);
    const hook = globalThis as Record<symbol, unknown>;
    hook[KERNEL_HOOK] = { interruptRequested: true, display: () => {} };
    try {
      await assert.rejects(predict(model, x, { verbose: 0 }), InterruptedError);
    } finally {
      delete hook[KERNEL_HOOK];
    }
    assert.deepEqual(counted(start), { opened: 1, reused: 0, released: 0, open: 1 });
    assertClose(await predicted(model, x), tfjsOutputs(model, x), 1e-4, 'after the interrupt');
    assert.deepEqual(counted(start), { opened: 1, reused: 1, released: 0, open: 1 });
    x.dispose();
    model.dispose();
  });

  test('with less memory available than the limit, a session is released after each use', async () => {
    const model = lessonLikeModel({ seed: 6 });
    setOnnxSessionCacheLimits({ minAvailableBytes: Number.MAX_SAFE_INTEGER });
    const start = { ...onnxSessionStats };
    const x = newImages();
    const first = await predicted(model, x);
    assert.deepEqual(counted(start), { opened: 1, reused: 0, released: 1, open: 0 });
    clearFeatureMemory();
    assert.deepEqual(await predicted(model, x), first, 'a session opened again gives the same numbers');
    assert.deepEqual(counted(start), { opened: 2, reused: 0, released: 2, open: 0 });
    x.dispose();
    model.dispose();
  });

  test('beyond maxSessions the least recently used session goes; an idle one goes after idleSeconds', async () => {
    const models = [lessonLikeModel({ seed: 7 }), lessonLikeModel({ seed: 8 })];
    setOnnxSessionCacheLimits({ maxSessions: 1 });
    const start = { ...onnxSessionStats };
    await predicted(models[0], newImages());
    await predicted(models[1], newImages());
    assert.deepEqual(counted(start), { opened: 2, reused: 0, released: 1, open: 1 });
    await predicted(models[1], newImages());
    assert.deepEqual(counted(start), { opened: 2, reused: 1, released: 1, open: 1 });
    setOnnxSessionCacheLimits({ idleSeconds: 0.05 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(counted(start), { opened: 2, reused: 1, released: 2, open: 0 });
    models.forEach((m) => m.dispose());
  });
});

/** A stand-in session: counts its disposals. */
function fakeSession(modelBytes = 1000): OnnxSession & { disposals: number } {
  const session = {
    modelBytes,
    disposals: 0,
    async dispose() {
      session.disposals++;
    },
  };
  return session as unknown as OnnxSession & { disposals: number };
}

describe('the session cache itself', () => {
  beforeEach(() => {
    releaseOnnxSessions();
    resetOnnxSessionCacheLimits();
  });
  afterEach(() => {
    releaseOnnxSessions();
    resetOnnxSessionCacheLimits();
  });

  test('callers asking at once for one key share one opening', async () => {
    let opens = 0;
    const session = fakeSession();
    const open = async () => {
      opens++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return session;
    };
    const leases = await Promise.all([leaseOnnxSession('k', open), leaseOnnxSession('k', open), leaseOnnxSession('k', open)]);
    assert.equal(opens, 1);
    assert.ok(leases.every((l) => l.session === session));
    assert.deepEqual(
      leases.map((l) => l.reused),
      [false, true, true],
    );
    await Promise.all(leases.map((l) => l.release()));
    assert.equal(session.disposals, 0, 'kept for the next caller');
  });

  test('a session in use is released only when its lease comes back', async () => {
    const session = fakeSession();
    const start = { ...onnxSessionStats };
    const lease = await leaseOnnxSession('busy', async () => session);
    assert.equal(releaseOnnxSessions(), 1);
    assert.equal(session.disposals, 0, 'still running for its caller');
    await lease.release();
    await lease.release(); // idempotent
    assert.equal(session.disposals, 1);
    assert.deepEqual(counted(start), { opened: 1, reused: 0, released: 1, open: 0 });
  });

  test('a lease given back as broken releases its session', async () => {
    const session = fakeSession();
    await (await leaseOnnxSession('broken', async () => session)).release({ broken: true });
    assert.equal(session.disposals, 1);
    assert.equal(onnxSessionStats.open, 0);
  });

  test('a stale session is replaced at the next lookup; a failed opening is not kept', async () => {
    let stale = false;
    const first = fakeSession();
    const lease = await leaseOnnxSession(
      's',
      async () => first,
      () => stale,
    );
    await lease.release();
    stale = true;
    assert.equal(releaseStaleOnnxSessions(), 1);
    assert.equal(first.disposals, 1);
    await assert.rejects(
      leaseOnnxSession('s', async () => {
        throw new Error('cannot open');
      }),
      /cannot open/,
    );
    const second = fakeSession();
    const again = await leaseOnnxSession('s', async () => second);
    assert.equal(again.session, second);
    assert.equal(again.reused, false);
    await again.release();
  });

  test('maxModelBytes evicts the least recently used sessions first', async () => {
    setOnnxSessionCacheLimits({ maxSessions: 10, maxModelBytes: 2500 });
    const sessions = [fakeSession(1000), fakeSession(1000), fakeSession(1000)];
    for (const [i, s] of sessions.entries()) await (await leaseOnnxSession(`b${i}`, async () => s)).release();
    assert.deepEqual(
      sessions.map((s) => s.disposals),
      [1, 0, 0],
    );
    // b1 used again: b2 is now the least recently used.
    await (await leaseOnnxSession('b1', async () => fakeSession())).release();
    await (await leaseOnnxSession('b3', async () => fakeSession(1000))).release();
    assert.deepEqual(
      sessions.map((s) => s.disposals),
      [1, 0, 1],
    );
  });

  test('limits are checked', () => {
    assert.throws(() => setOnnxSessionCacheLimits({ maxSessions: -1 }), /maxSessions must be a number >= 0.*Received maxSessions=-1/);
    assert.throws(() => setOnnxSessionCacheLimits({ maxSessions: 1.5 }), /maxSessions/);
    assert.throws(() => setOnnxSessionCacheLimits({ sessions: 2 } as never), /unknown limit "sessions"/);
    assert.equal(setOnnxSessionCacheLimits({ idleSeconds: Infinity }).idleSeconds, Infinity);
  });

  test('a reset of the wasm backend releases every session', async () => {
    await setBackend('wasm');
    const session = fakeSession();
    await (await leaseOnnxSession('r', async () => session)).release();
    const outcome = resetWasmBackend();
    assert.notEqual(outcome.state, 'failed', outcome.reason);
    await pendingReset();
    assert.equal(session.disposals, 1);
    assert.equal(onnxSessionStats.open, 0);
    await setBackend('cpu');
  });
});
