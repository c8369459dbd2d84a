/**
 * Stops a cell before it exhausts V8's JavaScript heap, which would end the
 * kernel with "FATAL ERROR: ... JavaScript heap out of memory" and lose every
 * variable (Node cannot catch that: https://nodejs.org/api/cli.html#--max-old-space-sizesize-in-mib).
 *
 * A cell that grows an array in a synchronous loop never returns to the event
 * loop, so nothing on the main thread can look at the heap while it runs. A
 * worker thread can: it connects to the main thread's inspector
 * (https://nodejs.org/api/inspector.html#sessionconnecttomainthread), whose
 * commands V8 runs on the main thread between two JavaScript steps, even in a
 * loop. While a cell runs it asks for the heap's size every 100 ms (10 ms when
 * it gets close) with the DevTools protocol's Runtime.getHeapUsage
 * (https://chromedevtools.github.io/devtools-protocol/v8/Runtime/#method-getHeapUsage).
 * The margin kept free is H = 20% of the limit, at least 64 MiB: a tight loop
 * allocates hundreds of MB a second, and near the limit V8 spends seconds in
 * back-to-back collections during which nothing else runs (not even a forced
 * collection to tell garbage from live data: there is no time for one). So
 * the kernel collects garbage on the main thread before a cell starts, if the
 * heap is past limit - 2H then (the array a stopped cell abandoned would
 * otherwise count against the next one), and the heap in use then is the
 * cell's baseline. When the heap passes limit - H and the running cell grew
 * it by 5% of the limit over its baseline (memory earlier cells hold does not
 * stop a new one), the watchdog:
 *
 * 1. sends the process SIGINT, the kernel's interrupt: it breaks the cell's
 *    synchronous part (vm's breakOnSigint), ends the wait for its asynchronous
 *    part and stops the library's training loops; the kernel reports a
 *    MemoryError instead of an InterruptedError (see `trippedBy`);
 * 2. if the heap still grows to limit - H/4 (a synchronous loop after an
 *    `await`, which nothing can break: Runtime.terminateExecution there trips
 *    an assertion in Node's callback scopes and aborts the process), or
 *    reaches limit - H/8 in any case, writes a last line to stderr (Jupyter's
 *    log) saying why the kernel is about to die and what to do.
 *
 * The limit is V8's old generation: `heap_size_limit` less the young
 * generation's reserve (three semi-spaces: 16 MiB each on 64-bit Node 20, 2 MiB
 * with the kernelspec's flags), which is what `--max-old-space-size` sets.
 */
import * as v8 from 'v8';
import { Worker } from 'worker_threads';
import { collectGarbage } from '../lib/core/full-gc';

/** Slots of the state shared with the worker (an Int32Array over a SharedArrayBuffer). */
const GENERATION = 0; // main: +1 at each cell start
const RUNNING = 1; // main: 1 while a cell runs
const TRIPPED = 2; // worker: the generation it stopped
const USED_MB = 3; // worker: heap in use (MiB) when it stopped it
const BASELINE_MB = 4; // main: heap in use (MiB) when the cell started
const SLOTS = 5;

const YOUNG_GENERATION_RESERVE = 3 * semiSpaceMiB() * 2 ** 20;

/**
 * The largest semi-space, in MiB: `--max-semi-space-size` as given to this process (the
 * kernelspec sets 2, kernel/kernelspec.ts) or in NODE_OPTIONS, else V8's 16 on 64-bit Node 20.
 */
function semiSpaceMiB(): number {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  let mib = 16;
  for (const flag of flags) {
    const given = /^--max[-_]semi[-_]space[-_]size=(\d+)$/.exec(flag);
    if (given) mib = Number(given[1]);
  }
  return mib;
}

/** The worker, as plain JavaScript (it runs from the compiled kernel and from the TypeScript sources alike). */
const WORKER_SOURCE = String.raw`
const { workerData, parentPort } = require('worker_threads');
const inspector = require('inspector');
const fs = require('fs');
const { shared, limit, margin: H, label } = workerData;
const state = new Int32Array(shared);
const NEAR = limit - 2 * H, SOFT = limit - H, HARD = limit - H / 4, FATAL = limit - H / 8;
const GROWTH = 0.05 * limit;
const MB = (bytes) => Math.round(bytes / 2 ** 20);
const session = new inspector.Session();
session.connectToMainThread();
const post = (method) => new Promise((resolve, reject) => session.post(method, (e, r) => (e ? reject(e) : resolve(r))));
const usage = async () => (await post('Runtime.getHeapUsage')).usedSize;
const log = (text) => fs.writeSync(2, '[tslab-dl kernel] ' + text + '\n');
let generation = -1, baseline = Infinity, stage = 0, stageUsed = 0, stopped = false;
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  stopped = true;
  session.disconnect();
  parentPort.close();
});
const current = () => Atomics.load(state, ${RUNNING}) === 1 && Atomics.load(state, ${GENERATION}) === generation;
async function check() {
  if (!Atomics.load(state, ${RUNNING})) {
    // Idle: sleep until the next cell starts (cellStarted notifies), looking up now and then for 'stop'.
    await Atomics.waitAsync(state, ${RUNNING}, 0, 250).value;
    return 0;
  }
  const gen = Atomics.load(state, ${GENERATION});
  if (gen !== generation) {
    // What the cell found, measured by the kernel (after collecting garbage) as it started.
    generation = gen; stage = 0;
    baseline = Atomics.load(state, ${BASELINE_MB}) * 2 ** 20;
  }
  const used = await usage();
  baseline = Math.min(baseline, used);
  if (used < SOFT) return used > NEAR ? 10 : 100;
  if (stage === 0 && used > baseline + GROWTH && current()) {
    stage = 1; stageUsed = used;
    Atomics.store(state, ${USED_MB}, MB(used));
    Atomics.store(state, ${TRIPPED}, generation);
    log('the JavaScript heap holds ' + MB(used) + ' of its ' + MB(limit) + ' MiB limit and the running cell grew it by ' + MB(used - baseline) +
      ' MiB: stopping the cell (MemoryError) before the kernel runs out of memory');
    process.kill(process.pid, 'SIGINT');
  } else if (stage < 2 && ((stage === 1 && used >= HARD && used > stageUsed + GROWTH / 5) || used >= FATAL) && current()) {
    stage = 2;
    log('out of memory: the JavaScript heap holds ' + MB(used) + ' of its ' + MB(limit) + ' MiB limit and the kernel could not stop the running cell ' +
      '(a loop after an await cannot be interrupted); the kernel will most likely end now with "JavaScript heap out of memory" and lose its variables. ' +
      'Restart it from the front end; to give it more memory, start Jupyter with NODE_OPTIONS=--max-old-space-size=<MiB>.');
  }
  return 10;
}
(async () => {
  while (!stopped) {
    let wait = 100;
    try { wait = await check(); } catch (e) { if (!stopped) log(label + ': ' + (e && e.message)); wait = 1000; }
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
})();
`;

export interface MemoryTrip {
  /** Heap in use (MiB) when the cell was stopped. */
  usedMiB: number;
  /** The old generation's limit (MiB). */
  limitMiB: number;
}

export class HeapWatchdog {
  private readonly state = new Int32Array(new SharedArrayBuffer(SLOTS * 4));
  private worker?: Worker;
  /** V8's old-generation limit, in bytes. */
  readonly limit = Math.max(v8.getHeapStatistics().heap_size_limit - YOUNG_GENERATION_RESERVE, 64 * 2 ** 20);
  /** H, the margin kept free (see the file comment). */
  readonly margin = Math.max(0.2 * this.limit, 64 * 2 ** 20);

  constructor(private readonly log: (text: string) => void) {
    this.state[TRIPPED] = -1;
  }

  /** Starts the worker; the kernel runs without it if it cannot start. */
  start(): void {
    try {
      this.worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { shared: this.state.buffer, limit: this.limit, margin: this.margin, label: 'heap watchdog' },
        // The watchdog itself needs little; it must not be what runs out.
        resourceLimits: { maxOldGenerationSizeMb: 32 },
        stdout: false,
        stderr: false,
      });
      this.worker.unref();
      this.worker.on('error', (e) => this.log(`the heap watchdog stopped: ${e.message}; cells that exhaust the heap will end the kernel`));
    } catch (e) {
      this.log(`the heap watchdog could not start: ${(e as Error).message}`);
    }
  }

  /** A cell starts running; returns its generation (for trippedBy). */
  cellStarted(): number {
    let used = v8.getHeapStatistics().used_heap_size;
    if (this.worker && used > this.limit - 2 * this.margin) {
      collectGarbage();
      used = v8.getHeapStatistics().used_heap_size;
    }
    Atomics.store(this.state, BASELINE_MB, Math.round(used / 2 ** 20));
    const generation = Atomics.add(this.state, GENERATION, 1) + 1;
    Atomics.store(this.state, RUNNING, 1);
    Atomics.notify(this.state, RUNNING);
    return generation;
  }

  cellEnded(): void {
    Atomics.store(this.state, RUNNING, 0);
  }

  /** Whether the watchdog stopped the cell of `generation`, and at what size. */
  trippedBy(generation: number): MemoryTrip | undefined {
    if (Atomics.load(this.state, TRIPPED) !== generation) return undefined;
    return { usedMiB: Atomics.load(this.state, USED_MB), limitMiB: Math.round(this.limit / 2 ** 20) };
  }

  /** Disconnects from the inspector so the process can exit without "Waiting for the debugger to disconnect". */
  stop(): void {
    this.worker?.postMessage('stop');
  }
}
