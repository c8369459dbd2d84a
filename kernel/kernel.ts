/**
 * The tslab-dl Jupyter kernel: what it answers to each request of the
 * messaging protocol (https://jupyter-client.readthedocs.io/en/stable/messaging.html).
 *
 * Shell requests are handled one at a time, in order, each between a `busy`
 * and an `idle` status; control requests (interrupt, shutdown, kernel_info)
 * are answered at once, even while a cell runs. Every `*_request` gets its
 * `*_reply` (an error reply when this kernel does not support it).
 *
 * Output of a cell (stdout, stderr, displays) goes to the cell that started
 * last, also when it is written after the cell finished, as in IPython;
 * stdout and stderr are batched (kernel/stream-batcher.ts).
 *
 * The kernel survives its cells: errors nobody caught fail the cell that
 * caused them or show in the next one (kernel/process-guard.ts,
 * kernel/stray-errors.ts), `process.exit()` is refused, and a cell about to
 * exhaust the heap is stopped (kernel/heap-watchdog.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { StringDecoder } from 'string_decoder';
import { ALREADY_SHOWN, DisplayOptions, MimeBundle } from '../lib/notebook/display';
import type { CellRunner } from './cell-runner';
import { HeapWatchdog } from './heap-watchdog';
import { History, HistoryRequest } from './history';
import { CellToken, KernelHookImpl } from './hook';
import { ProcessGuard } from './process-guard';
import { encodeBundle, mimeBundleOf } from './rich-display';
import { Channel, KernelSockets } from './sockets';
import { StartupReport, loadLibrary } from './startup';
import { StreamBatcher, StreamName } from './stream-batcher';
import { StrayErrorQueue, StrayKind, hiddenSummary, strayErrorContent, strayLogLine } from './stray-errors';
import { ErrorContent, interruptedError, kernelError, memoryError, runtimeError } from './traceback';
import { Message, PROTOCOL_VERSION, readConnectionFile } from './wire';
import { useProjectTypeScriptInTslab } from './tslab-alias';
import { resolveOwnLibraryAtRunTime } from './own-library';
import { collectAfterCell } from './after-cell-collection';

// Before anything loads tslab's converter (tslab/dist/jupyter loads it too): cells compile with
// the project's TypeScript, the one `tslab-dl export` parses them with.
useProjectTypeScriptInTslab();
// A notebook outside any project with tslab-dl (a learner's home on a JupyterHub) imports the kernel's own.
resolveOwnLibraryAtRunTime();

interface ExecuteRequest {
  code: string;
  silent?: boolean;
  store_history?: boolean;
  stop_on_error?: boolean;
}

/** Records the reply to the request being handled; it is sent after the request's idle status. */
type Reply = (msgType: string, content: object) => void;
type Write = typeof process.stdout.write;

/** The execute_request whose code runs now, until its reply is recorded. */
interface RunningCell {
  request: Message<ExecuteRequest>;
  /** Its token (set once its code starts): work it started carries it. */
  token?: CellToken;
  /** An error its own callbacks threw where nothing could catch it: the cell fails with it. */
  failure?: ErrorContent;
  /** An interrupt came before its code started (it would otherwise be lost). */
  interrupted?: boolean;
}

/** The kernel's log takes at most this many stray-error lines per window (a looping timer may throw 1000 times a second). */
const STRAY_LOG_LINES = 20;
const STRAY_LOG_WINDOW_MS = 10_000;

/** How long after start-up, or after the last kernel_info_request, the compiler and library start loading. */
const PREPARE_AFTER_START_MS = 2000;
const PREPARE_AFTER_KERNEL_INFO_MS = 300;

/** The version of the TypeScript compiler that compiles cells (kernel/typescript.ts; read without loading the compiler). */
function compilerVersion(): string {
  return require('typescript/package.json').version;
}

function packageVersion(): string {
  try {
    return JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')).version;
  } catch {
    return '0.0.0';
  }
}

export class Kernel {
  private sockets!: KernelSockets;
  private cellRunner?: CellRunner;
  private readonly hook: KernelHookImpl;
  private readonly history = new History();
  private readonly shellQueue: Message[] = [];
  /** Payloads for the running cell's execute_reply. */
  private payloads: object[] = [];
  private pumping = false;
  private executionCount = 0;
  /** The execute_request whose cell receives output now. */
  private outputParent?: Message;
  private ready?: Promise<StartupReport>;
  private prepareTimer?: NodeJS.Timeout;
  private startupLineShown = false;
  private shuttingDown = false;
  /** When a cell failed with stop_on_error: the executions that were queued behind it then, to abort. */
  private toAbort: Message[] = [];
  /** Ends the wait of a cell for the start-up (set while a cell waits for it). */
  private cancelStartupWait?: () => void;
  private readonly originalWrite: { [name in StreamName]: Write };
  private readonly guard: ProcessGuard;
  private readonly streams: StreamBatcher<Message>;
  private readonly watchdog: HeapWatchdog;
  private readonly strays = new StrayErrorQueue();
  private running?: RunningCell;
  private strayLog = { windowStart: 0, lines: 0, suppressed: 0 };
  readonly notebookDir: string;

  private constructor(notebookDir: string) {
    this.notebookDir = notebookDir;
    this.originalWrite = { stdout: process.stdout.write, stderr: process.stderr.write };
    this.guard = new ProcessGuard(
      (error, kind, promise) => this.onStrayError(error, kind, promise),
      (text) => this.log(text),
    );
    this.streams = new StreamBatcher<Message>((name, text, parent) => void this.sockets.publish('stream', { name, text }, parent));
    this.watchdog = new HeapWatchdog((text) => this.log(text));
    this.hook = new KernelHookImpl(
      {
        display: (data, options) => this.display(data, options),
        clearOutput: (wait) => this.publishForCell('clear_output', { wait }),
        // Pages travel in the execute_reply's payload (the protocol's way; front ends show a pager).
        page: (data, start) => this.payloads.push({ source: 'page', data: encodeBundle(data), start }),
      },
      (text) => this.log(text),
    );
  }

  /** Starts a kernel for the connection file Jupyter wrote; cells run in the current directory. */
  static async start(connectionFile: string): Promise<Kernel> {
    const kernel = new Kernel(process.cwd());
    // First things: Node's default SIGINT handler would end the process, and no module may
    // install uncaught-error handlers of its own (the wasm backend's rethrow).
    process.on('SIGINT', () => kernel.interrupt());
    kernel.guard.install();
    const info = readConnectionFile(connectionFile);
    kernel.captureStreams();
    kernel.hook.install();
    kernel.sockets = await KernelSockets.bind(
      info,
      (channel, message) => kernel.receive(channel, message),
      (text) => kernel.log(text),
    );
    kernel.watchdog.start();
    kernel.schedulePrepare(PREPARE_AFTER_START_MS);
    return kernel;
  }

  /**
   * Loading the compiler and the library blocks the process for seconds. It
   * starts once the client has had its kernel_info replies (or when a cell
   * needs it), so that connecting is not delayed by it.
   */
  private schedulePrepare(delayMs: number): void {
    if (this.ready) return;
    clearTimeout(this.prepareTimer);
    this.prepareTimer = setTimeout(() => void this.prepared().catch(() => undefined), delayMs);
  }

  private prepared(): Promise<StartupReport> {
    if (!this.ready) {
      clearTimeout(this.prepareTimer);
      this.ready = (async () => {
        const { CellRunner } = require('./cell-runner') as typeof import('./cell-runner');
        // The backend initialises asynchronously (wasm compiles off the main thread) while the compiler loads.
        const library = loadLibrary(this.notebookDir, this.hook);
        const runner = new CellRunner(this.notebookDir);
        const report = await library;
        // The backend's modules are loaded now: whatever handlers they slipped in go.
        this.guard.sweep();
        if (report.library) runner.explainError = report.library.explainBackendError;
        runner.warmUp();
        this.hook.nodeTypingsSource = () => runner.nodeTypings;
        this.cellRunner = runner;
        return report;
      })();
      this.ready.catch((e) => this.log(`start-up failed: ${(e as Error)?.stack ?? e}`));
    }
    return this.ready;
  }

  /** Kernel diagnostics go to the kernel's own stderr (Jupyter's log), never to a cell. */
  private log(text: string): void {
    this.originalWrite.stderr.call(process.stderr, `[tslab-dl kernel] ${text}\n`);
  }

  private captureStreams(): void {
    for (const name of ['stdout', 'stderr'] as const) {
      const stream = process[name];
      const original = this.originalWrite[name];
      const decoder = new StringDecoder('utf8');
      stream.write = ((chunk: string | Uint8Array, encoding?: unknown, callback?: unknown) => {
        if (!this.outputParent) return original.call(stream, chunk as any, encoding as any, callback as any);
        const text = typeof chunk === 'string' ? chunk : decoder.write(Buffer.from(chunk));
        if (text) this.streams.write(name, text, this.outputParent);
        const done = typeof encoding === 'function' ? encoding : callback;
        if (typeof done === 'function') process.nextTick(done as () => void);
        return true;
      }) as Write;
    }
  }

  /** Every iopub message but stream output goes through here: batched output before it keeps the order. */
  private publish(msgType: string, content: object, parent?: Message): Promise<void> {
    this.streams.flush();
    return this.sockets.publish(msgType, content, parent);
  }

  private publishForCell(msgType: string, content: object): void {
    if (this.outputParent) void this.publish(msgType, content, this.outputParent);
  }

  /**
   * An error nobody caught (kernel/process-guard.ts). It fails the cell that caused it while that
   * cell runs; one from elsewhere shows in the running cell, or waits for the next execution.
   * Every one goes to the kernel's log at once.
   */
  private onStrayError(error: unknown, kind: StrayKind, promise?: Promise<unknown>): void {
    const token = this.hook.cellOf(promise);
    const running = this.running;
    const ownCell = running !== undefined && running.token !== undefined && token === running.token;
    const origin = { label: token?.label, running: ownCell };
    this.logStray(strayLogLine(error, kind, origin));
    const content = strayErrorContent(error, kind, origin, this.cellRunner?.explainError);
    if (running && ownCell && !running.failure) {
      running.failure = content;
      this.cellRunner?.fail(error);
      return;
    }
    if (running) {
      if (this.strays.mayShow(running.request)) void this.publish('error', content, running.request);
      return;
    }
    this.strays.hold(content);
  }

  private logStray(line: string): void {
    const now = Date.now();
    const window = this.strayLog;
    if (now - window.windowStart > STRAY_LOG_WINDOW_MS) {
      if (window.suppressed > 0) this.log(`${window.suppressed} more uncaught errors were not logged`);
      Object.assign(window, { windowStart: now, lines: 0, suppressed: 0 });
    }
    if (window.lines++ < STRAY_LOG_LINES) this.log(line);
    else window.suppressed++;
  }

  private display(data: MimeBundle, options: DisplayOptions): void {
    if (!this.outputParent) {
      this.originalWrite.stdout.call(process.stdout, `${String(data['text/plain'] ?? '')}\n`);
      return;
    }
    const transient = options.displayId ? { display_id: options.displayId } : {};
    const content = { data: encodeBundle(data), metadata: options.metadata ?? {}, transient };
    this.publishForCell(options.update && options.displayId ? 'update_display_data' : 'display_data', content);
  }

  private receive(channel: Channel, message: Message): void {
    if (channel === 'control' || message.header.msg_type === 'shutdown_request') {
      void this.handle(channel, message);
      return;
    }
    this.shellQueue.push(message);
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.shellQueue.length > 0) await this.handle('shell', this.shellQueue.shift()!);
    } finally {
      this.pumping = false;
    }
  }

  /**
   * One request between its busy and idle statuses. The reply goes out after
   * `idle`: once a client holds the reply, every iopub message of the request
   * is already on its way (clients read the two sockets independently).
   */
  private async handle(channel: Channel, request: Message): Promise<void> {
    const type = request.header.msg_type;
    if (this.shuttingDown) return;
    let answer: [string, object] | undefined;
    const reply: Reply = (msgType, content) => {
      answer = [msgType, content];
    };
    void this.publish('status', { execution_state: 'busy' }, request);
    try {
      await this.dispatch(channel, request, reply);
    } catch (e) {
      this.log(`${type} failed: ${(e as Error)?.stack ?? e}`);
      if (type.endsWith('_request')) answer = [type.replace(/_request$/, '_reply'), { status: 'error', ...runtimeError(e) }];
    }
    if (this.shuttingDown) return;
    await this.publish('status', { execution_state: 'idle' }, request);
    if (answer) await this.sockets.reply(channel, request, answer[0], answer[1]);
    if (this.toAbort.length > 0) await this.abortExecutions(this.toAbort.splice(0));
    // After the reply, so the cell is done for the learner (kernel/after-cell-collection.ts).
    if (type === 'execute_request') await collectAfterCell();
  }

  private async dispatch(channel: Channel, request: Message, reply: Reply): Promise<void> {
    const type = request.header.msg_type;
    switch (type) {
      case 'execute_request':
        return this.execute(request as Message<ExecuteRequest>, reply);
      case 'kernel_info_request':
        reply('kernel_info_reply', this.kernelInfo());
        this.schedulePrepare(PREPARE_AFTER_KERNEL_INFO_MS);
        return;
      case 'complete_request': {
        await this.prepared();
        const { code, cursor_pos } = request.content as { code: string; cursor_pos?: number };
        const completion = this.cellRunner!.complete(code, cursor_pos ?? [...code].length);
        return reply('complete_reply', {
          status: 'ok',
          matches: completion.matches,
          cursor_start: completion.start,
          cursor_end: completion.end,
          metadata: {},
        });
      }
      case 'inspect_request': {
        await this.prepared();
        const { code, cursor_pos } = request.content as { code: string; cursor_pos?: number };
        const text = this.cellRunner!.inspect(code, cursor_pos ?? [...code].length);
        return reply('inspect_reply', { status: 'ok', found: text !== undefined, data: text ? { 'text/plain': text } : {}, metadata: {} });
      }
      case 'is_complete_request': {
        const { isComplete } = require('./is-complete') as typeof import('./is-complete');
        return reply('is_complete_reply', isComplete((request.content as { code: string }).code));
      }
      case 'history_request':
        return reply('history_reply', { status: 'ok', history: this.history.query(request.content as HistoryRequest) });
      case 'comm_info_request':
        // No comm targets: widgets and other comm-based extensions are not supported.
        return reply('comm_info_reply', { status: 'ok', comms: {} });
      case 'comm_open':
        // The protocol's answer to a comm for an unknown target: close it.
        await this.publish('comm_close', { comm_id: (request.content as { comm_id: string }).comm_id, data: {} }, request);
        return;
      case 'comm_msg':
      case 'comm_close':
        return;
      case 'connect_request': {
        const c = this.sockets.connection;
        return reply('connect_reply', {
          status: 'ok',
          shell_port: c.shell_port,
          iopub_port: c.iopub_port,
          stdin_port: c.stdin_port,
          hb_port: c.hb_port,
          control_port: c.control_port,
        });
      }
      case 'interrupt_request':
        this.interrupt();
        return reply('interrupt_reply', { status: 'ok' });
      case 'shutdown_request':
        return this.shutdown(channel, request);
      default:
        if (type.endsWith('_request')) {
          const message = `the tslab-dl kernel does not support ${type}`;
          return reply(type.replace(/_request$/, '_reply'), {
            status: 'error',
            ename: 'NotImplementedError',
            evalue: message,
            traceback: [`NotImplementedError: ${message}`],
          });
        }
        this.log(`ignored a ${type} message on ${channel}`);
    }
  }

  private kernelInfo(): object {
    const version = packageVersion();
    let tslabVersion = '';
    try {
      tslabVersion = require('tslab/package.json').version;
    } catch {
      // Shown in the banner only.
    }
    return {
      status: 'ok',
      protocol_version: PROTOCOL_VERSION,
      implementation: 'tslab-dl',
      implementation_version: version,
      language_info: {
        name: 'typescript',
        version: compilerVersion(),
        mimetype: 'text/typescript',
        file_extension: '.ts',
        pygments_lexer: 'typescript',
        // JupyterLab reads `mode`; the classic notebook needs name + typescript (as tslab found).
        codemirror_mode: { name: 'javascript', typescript: true, mode: 'typescript' },
      },
      banner: `tslab-dl ${version}: TypeScript ${compilerVersion()} (tslab ${tslabVersion}) on Node.js ${process.version}`,
      debugger: false,
      help_links: [],
    };
  }

  private async execute(request: Message<ExecuteRequest>, reply: Reply): Promise<void> {
    const { code = '', silent = false, store_history: storeHistory = !silent } = request.content;
    if (storeHistory && !silent) this.executionCount++;
    const count = this.executionCount;
    this.outputParent = request;
    this.payloads = [];
    // tslab's display API (import * as tslab from 'tslab') writes through this.
    try {
      require('tslab/dist/jupyter').lastWriteDisplayData = (content: object, update: boolean) =>
        void this.publish(update ? 'update_display_data' : 'display_data', content, request);
    } catch {
      // It loads tslab's converter: when that cannot load, executeCode's start-up says why in the cell.
    }
    if (!silent) await this.publish('execute_input', { code, execution_count: count }, request);
    if (storeHistory && !silent) this.history.add(count, code);
    // Errors that arrived while no cell ran show here, as ipykernel shows late errors.
    for (const late of this.strays.take()) await this.publish('error', late, request);
    const running: RunningCell = { request };
    this.running = running;
    try {
      await this.executeCode(request, count, running, reply);
    } finally {
      this.running = undefined;
      const hidden = this.strays.hidden(request);
      if (hidden > 0) await this.publish('error', hiddenSummary(hidden), request);
      this.streams.endCell();
    }
  }

  private async executeCode(request: Message<ExecuteRequest>, count: number, running: RunningCell, reply: Reply): Promise<void> {
    const { code = '', silent = false, stop_on_error: stopOnError = true } = request.content;

    // A cell that waits for the start-up to finish can be interrupted too.
    const fail = async (error: ErrorContent) => {
      await this.publish('error', { ...error, execution_count: count }, request);
      reply('execute_reply', { status: 'error', execution_count: count, ...error });
      if (stopOnError) this.toAbort = this.queuedExecutions();
    };
    const interrupted = new Promise<undefined>((resolve) => (this.cancelStartupWait = () => resolve(undefined)));
    let report: StartupReport | undefined;
    try {
      report = await Promise.race([this.prepared(), interrupted]);
    } catch (e) {
      // No compiler (e.g. a TypeScript without what tslab's converter needs, kernel/tslab-typescript.ts):
      // every cell says why, rather than failing without an output.
      return fail(kernelError('StartupError', `the kernel could not load its compiler: ${(e as Error)?.message ?? e}`));
    } finally {
      this.cancelStartupWait = undefined;
    }
    if (!report) return fail(interruptedError());
    if (!this.startupLineShown && !silent) {
      this.startupLineShown = true;
      await this.publish('stream', { name: report.stream, text: `${report.line}\n` }, request);
    }
    if (running.interrupted) return fail(interruptedError());

    let error: ErrorContent | undefined;
    const runner = this.cellRunner!;
    const label = `In[${count}]`;
    const generation = this.watchdog.cellStarted();
    let outcome: Awaited<ReturnType<CellRunner['execute']>>;
    try {
      outcome = await this.hook.runCell(() => {
        running.token = this.hook.cellOf();
        return runner.execute(code, label);
      }, label);
      // A promise the cell rejected without awaiting it is reported once the microtasks ran.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      this.watchdog.cellEnded();
      this.guard.sweep();
    }
    const trip = outcome.status === 'error' && outcome.interrupted ? this.watchdog.trippedBy(generation) : undefined;
    if (running.failure) {
      error = running.failure;
    } else if (trip) {
      error = memoryError(trip.usedMiB, trip.limitMiB);
    } else if (outcome.status === 'error') {
      error = outcome.error;
    } else if (outcome.value !== undefined && outcome.value !== null && !silent && !alreadyShown(outcome.value)) {
      try {
        const data = await mimeBundleOf(outcome.value);
        await this.publish('execute_result', { execution_count: count, data, metadata: {} }, request);
        if (typeof data['text/plain'] === 'string') this.history.setOutput(count, data['text/plain']);
      } catch (e) {
        error = runtimeError(e);
      }
    }
    // A stray error of this cell may also arrive while its result is being shown.
    error ??= running.failure;
    if (error) return fail(error);
    reply('execute_reply', {
      status: 'ok',
      execution_count: count,
      payload: this.payloads,
      user_expressions: {},
    });
  }

  private queuedExecutions(): Message[] {
    return this.shellQueue.filter((m) => m.header.msg_type === 'execute_request');
  }

  /**
   * After an error, the cells that were queued behind it do not run (stop_on_error), as in IPython;
   * cells sent after the error was known run normally.
   */
  private async abortExecutions(requests: Message[]): Promise<void> {
    const queued = requests.filter((m) => this.shellQueue.includes(m));
    this.shellQueue.splice(0, this.shellQueue.length, ...this.shellQueue.filter((m) => !queued.includes(m)));
    for (const request of queued) {
      void this.publish('status', { execution_state: 'busy' }, request);
      await this.publish('status', { execution_state: 'idle' }, request);
      await this.sockets.reply('shell', request, 'execute_reply', { status: 'aborted', execution_count: this.executionCount });
    }
  }

  /** Interrupt (SIGINT or interrupt_request): stop waiting for the cell, tell long-running loops. */
  interrupt(): void {
    this.hook.interrupt();
    this.cancelStartupWait?.();
    if (!this.cellRunner?.interrupt() && this.running && !this.running.token) this.running.interrupted = true;
  }

  private async shutdown(channel: Channel, request: Message): Promise<void> {
    const restart = Boolean((request.content as { restart?: boolean }).restart);
    await this.sockets.reply(channel, request, 'shutdown_reply', { status: 'ok', restart });
    this.shuttingDown = true;
    await this.publish('status', { execution_state: 'idle' }, request);
    this.cellRunner?.close();
    this.watchdog.stop();
    await this.sockets.close();
    // Give ZeroMQ a moment to put the reply on the wire before the process ends.
    setTimeout(() => this.guard.exit(0), 100);
  }
}

/** A value the library displayed and also returned (plotHistory, evaluate, ...): not shown again as Out[n]. */
function alreadyShown(value: unknown): boolean {
  return typeof value === 'object' && (value as { [key: symbol]: unknown })[ALREADY_SHOWN] === true;
}
