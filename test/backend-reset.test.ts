/**
 * The wasm backend after running out of memory, on the real wasm backend: a tensor that does not
 * fit is refused cleanly (nothing overwritten, the backend and its tensors intact), and a backend
 * that broke anyway (a trap inside it) is reset in place: `tf.scalar(1).add(1)` works right after,
 * the message says what was lost, old tensors say they are lost, and the broken module's memory is
 * freed. The memory is filled with tfjs' own allocator (address space only, nothing committed),
 * so each case takes milliseconds and no real RAM.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import * as tf from '@tensorflow/tfjs';
import { BackendError, explainBackendError, ready, recoverBackend, setBackend, withBackendErrors } from '../lib/backends/selection';
import { uncheckedMalloc, WasmOutOfMemoryError } from '../lib/backends/wasm-memory';

interface WasmModule {
  _malloc(bytes: number): number;
  _free(address: number): void;
  asm: { memory: object };
}
const wasmModule = () => (tf.findBackend('wasm') as unknown as { wasm: WasmModule }).wasm;

/** Takes (nearly) all of the 4 GiB the wasm memory may grow to, with tfjs' unchecked allocator. */
function fillWasmMemory(): () => void {
  const wasm = wasmModule();
  const raw = uncheckedMalloc(tf.findBackend('wasm'))!;
  assert.ok(raw, 'the wasm backend has the allocator guard');
  const blocks: number[] = [];
  for (let size = 2 ** 31; size >= 2 ** 16;) {
    const address = raw(size);
    if (address) blocks.push(address);
    else size /= 2;
  }
  return () => blocks.forEach((address) => wasm._free(address));
}

/**
 * Makes the wasm backend trap the way tfjs does without the allocator guard: memory full, a tensor
 * "allocated" at address 0 overwrites the module's data and first tensors, and the operations after
 * it trap (which one first depends on what was overwritten: usually freeing a tensor whose
 * allocator header is gone).
 */
function breakWasmBackend(): unknown {
  fillWasmMemory(); // never released: the module is about to be thrown away
  const wasm = wasmModule();
  wasm._malloc = uncheckedMalloc(tf.findBackend('wasm'))!;
  const earlier = [tf.tensor([1, 2, 3]), tf.ones([8, 8])];
  try {
    tf.ones([16384, 1024]); // 64 MiB written at address 0
    for (const t of earlier) t.dispose();
    for (let i = 0; i < 50; i++) tf.tidy(() => tf.matMul(tf.ones([8, 8]), tf.scalar(i).add(tf.ones([8, 8]))).dataSync());
  } catch (e) {
    return e;
  }
  assert.fail('the wasm backend did not trap');
}

/** Waits until the spare backend made in the background is ready (a few milliseconds). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

const works = () => tf.tidy(() => tf.scalar(1).add(1).dataSync()[0]);

before(async () => {
  await ready({ env: { TSLAB_DL_BACKEND: 'wasm' } });
  await settle();
});
after(async () => {
  await recoverBackend().catch(() => undefined);
});

describe('a tensor that does not fit in the wasm memory', () => {
  test('larger than the whole wasm memory (4 GiB): refused, and the backend still works', () => {
    const kept = tf.tensor([1, 2, 3]);
    const tensors = tf.memory().numTensors;
    let caught: unknown;
    try {
      tf.zeros([1100, 1000, 1000]); // 4.1 GiB
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof WasmOutOfMemoryError, `got ${caught}`);
    const explained = explainBackendError(caught) as BackendError;
    assert.ok(explained instanceof BackendError);
    const lines = explained.message.split('\n');
    assert.equal(
      lines[0],
      "The wasm backend ran out of memory: a tensor of 4.1 GiB is larger than the wasm backend's whole memory (4.0 GiB at most)",
    );
    assert.equal(lines[1], 'The kernel is still running, and so is the backend: the tensors and models you made are intact. To go on:');
    assert.match(explained.message, /use a smaller batch size \(batchSize\) and run the cell again/);
    assert.equal(works(), 2);
    assert.deepEqual(Array.from(kept.dataSync()), [1, 2, 3]);
    assert.equal(tf.memory().numTensors, tensors);
    kept.dispose();
  });

  test('memory that cannot grow any more: refused before anything is overwritten (tfjs would write it at address 0)', () => {
    const kept = tf.tensor([1, 2, 3]);
    const release = fillWasmMemory();
    const started = Date.now();
    let caught: unknown;
    try {
      try {
        tf.zeros([64, 1024, 1024]); // 256 MiB
      } catch (e) {
        caught = e;
      }
      assert.ok(caught instanceof WasmOutOfMemoryError, `expected an out-of-memory error, got ${caught}`);
      assert.match(
        String(caught),
        /a tensor of 256\.0 MiB did not fit in the wasm backend's memory \(4\.0 GiB at most; the tensors already on it take/,
      );
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
      const explained = explainBackendError(caught) as BackendError;
      assert.match(explained.message, /^The wasm backend ran out of memory: a tensor of 256\.0 MiB did not fit/);
      assert.match(explained.message, /the tensors and models you made are intact/);
    } finally {
      release();
    }
    assert.equal(works(), 2);
    assert.deepEqual(Array.from(kept.dataSync()), [1, 2, 3], 'a tensor made before is intact');
    kept.dispose();
  });
});

describe('a wasm backend that broke', () => {
  test('is reset at once: tf.scalar(1).add(1) works, the message says what was lost, old tensors say they are lost', async () => {
    const data = tf.tensor([1, 2, 3]);
    const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] });
    const caught = breakWasmBackend();
    assert.match(String(caught), /RuntimeError: (Aborted\(\)|memory access out of bounds)/);
    const started = Date.now();
    const explained = explainBackendError(caught) as BackendError;
    const resetMs = Date.now() - started;
    assert.ok(explained instanceof BackendError);
    assert.equal(explained.cause, caught);
    assert.equal(works(), 2, 'the backend computes again right after the message');
    assert.equal(tf.getBackend(), 'wasm');
    const lines = explained.message.split('\n');
    assert.match(lines[0], /^The wasm backend aborted: /);
    assert.equal(
      lines[1],
      'This broke the wasm backend (afterwards even tf.scalar(1).add(1) fails), so tslab-dl reset it: a fresh wasm backend runs now.',
    );
    assert.match(
      lines[2],
      /^Lost: every tensor that was on the old backend \(\d+ in all\), including the data you loaded and the weights of every model: the model must be built again\. Using an old tensor raises an error that says so\.$/,
    );
    assert.match(
      explained.message,
      /re-run the cells from the one that loads the data, and build the model again; use a smaller batch size/,
    );
    assert.match(explained.message, /`await setBackend\('cpu'\)`, then re-run the cells from the one that loads the data/);
    assert.equal(explainBackendError(caught), explained, 'explaining the same error again neither resets again nor changes the message');

    // Old tensors and the old model's weights are lost, and say so; disposing them still works.
    assert.throws(
      () => data.dataSync(),
      /This tensor \(shape \[3\]\) is lost: it was on the wasm backend, which broke and was reset at \d\d:\d\d:\d\d/,
    );
    await assert.rejects(data.data(), BackendError);
    assert.throws(
      () => tf.add(data, 1),
      /is lost: .*Make it again: re-run the cells from the one that loads the data, and build the model again\./,
    );
    assert.throws(() => model.predict(tf.ones([1, 3])), /is lost/);
    data.dispose();
    model.dispose();

    // A model built again trains on the fresh backend.
    const rebuilt = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [3] })] });
    rebuilt.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const history = await rebuilt.fit(tf.ones([4, 3]), tf.zeros([4, 1]), { epochs: 1, verbose: 0 });
    assert.equal(history.history.loss.length, 1);
    assert.ok(resetMs < 1000, `the reset took ${resetMs} ms`);
  });

  test('the broken module and its memory are freed', async () => {
    await settle();
    const listeners = process.listenerCount('unhandledRejection');
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    let freed = false;
    const registry = new FinalizationRegistry(() => (freed = true));
    registry.register(wasmModule().asm.memory, 'broken module');
    const caught = breakWasmBackend();
    explainBackendError(caught);
    assert.equal(works(), 2);
    for (let i = 0; i < 40 && !freed; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.ok(freed, 'the broken wasm memory (4 GiB of address space) is still reachable');
    // The module in use and a spare, as before: emscripten's listeners do not pile up with each reset.
    await settle();
    assert.equal(process.listenerCount('unhandledRejection'), listeners);
  });

  test("freed too where the host sets emscripten's process listeners aside (as the tslab-dl kernel does)", async () => {
    // A stand-in for kernel/process-guard.ts: listeners for the two events are kept aside, never attached.
    const proc = process as unknown as { on: Function; removeListener: Function };
    const setAside = new Set<Function>();
    const events = ['uncaughtException', 'unhandledRejection'];
    proc.on = function (this: unknown, event: string, listener: Function) {
      if (events.includes(event)) {
        setAside.add(listener);
        return process;
      }
      return (process.constructor.prototype as { on: Function }).on.call(this, event, listener);
    };
    proc.removeListener = function (this: unknown, event: string, listener: Function) {
      if (events.includes(event) && setAside.delete(listener)) return process;
      return (process.constructor.prototype as { removeListener: Function }).removeListener.call(this, event, listener);
    };
    try {
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('gc') as () => void;
      await settle();
      explainBackendError(breakWasmBackend()); // the spare made now is made under the host's rules
      await settle();
      explainBackendError(breakWasmBackend()); // ... and is the backend in use from here
      await settle();
      assert.ok(setAside.size > 0, 'the modules made meanwhile had their listeners set aside');
      let freed = false;
      const registry = new FinalizationRegistry(() => (freed = true));
      registry.register(wasmModule().asm.memory, 'broken module');
      const aside = setAside.size;
      explainBackendError(breakWasmBackend());
      assert.equal(works(), 2);
      for (let i = 0; i < 40 && !freed; i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.ok(freed, 'the host still holds the broken module through its listeners');
      await settle();
      assert.equal(setAside.size, aside, "one module's listeners removed for each one made");
    } finally {
      delete (proc as Partial<typeof proc>).on;
      delete (proc as Partial<typeof proc>).removeListener;
      await settle();
    }
  });

  test('broken again before the spare is ready: reset in the background, ready() waits for it', async () => {
    await settle();
    explainBackendError(breakWasmBackend()); // uses the spare; the next one is being made now
    const explained = explainBackendError(breakWasmBackend()) as BackendError;
    assert.match(
      explained.message,
      /so tslab-dl (is resetting it: a fresh wasm backend runs in a moment \(`await ready\(\)` waits for it\)|reset it: a fresh wasm backend runs now)/,
    );
    await ready();
    assert.equal(works(), 2);
    assert.equal(tf.getBackend(), 'wasm');
  });

  test('withBackendErrors throws once the fresh backend runs; recoverBackend() resets a broken backend found later', async () => {
    await settle();
    await assert.rejects(
      withBackendErrors(() => {
        throw breakWasmBackend();
      }),
      /so tslab-dl (is resetting it|reset it)/,
    );
    assert.equal(works(), 2);
    assert.equal(await recoverBackend(), false, 'nothing to recover from');
  });
});

describe('traps elsewhere', () => {
  test('a trap in another WebAssembly module (not the backend) is returned unchanged, and nothing is reset', async () => {
    await settle();
    // (module (func (export "f") unreachable)): what a bug in h5wasm, say, would throw.
    const bytes = new Uint8Array([
      0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 7, 5, 1, 1, 0x66, 0, 0, 0x0a, 5, 1, 3, 0, 0, 0x0b,
    ]);
    const WebAssemblyApi = (globalThis as any).WebAssembly;
    const other = new WebAssemblyApi.Instance(new WebAssemblyApi.Module(bytes));
    const kept = tf.tensor([4, 5]);
    const backend = tf.findBackend('wasm');
    let caught: unknown;
    try {
      other.exports.f();
    } catch (e) {
      caught = e;
    }
    assert.equal(String(caught), 'RuntimeError: unreachable');
    assert.equal(explainBackendError(caught), caught);
    assert.equal(tf.findBackend('wasm'), backend, 'the backend was not replaced');
    assert.deepEqual(Array.from(kept.dataSync()), [4, 5]);
    kept.dispose();
  });
});

describe('a backend that broke and cannot be reset', () => {
  test('says so, and says how to go on', async () => {
    await setBackend('cpu');
    const cpu = tf.findBackend('cpu') as unknown as { readSync: (id: object) => unknown };
    const readSync = cpu.readSync;
    cpu.readSync = () => {
      throw new Error('CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered');
    };
    try {
      const explained = explainBackendError(
        new Error('CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered'),
      ) as BackendError;
      assert.match(explained.message, /^The cpu backend failed: CUDA_ERROR_ILLEGAL_ADDRESS/);
      assert.match(
        explained.message,
        /This broke the cpu backend \(afterwards even tf\.scalar\(1\)\.add\(1\) fails\): every tensor on it is lost, the weights of every model included\./,
      );
      assert.match(explained.message, /`await setBackend\('wasm'\)`, then re-run the cells from the one that loads the data/);
      assert.match(explained.message, /restart the kernel \(Kernel > Restart Kernel\) and run the notebook again from the top/);
    } finally {
      cpu.readSync = readSync;
      await setBackend('wasm');
    }
  });
});
