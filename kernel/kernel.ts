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
 * last, also when it is written after the cell finished, as in IPython.
 */
import * as fs from 'fs';
import * as path from 'path';
import { StringDecoder } from 'string_decoder';
import type { DisplayOptions, MimeBundle } from '../lib/display';
import { createRequire } from 'module';
import type { Executor } from './executor';
import { History, HistoryRequest } from './history';
import { KernelHookImpl } from './hook';
import { encodeBundle, mimeBundleOf } from './rich-display';
import { Channel, KernelSockets } from './sockets';
import { StartupReport, loadLibrary } from './startup';
import { ErrorContent, interruptedError, runtimeError } from './traceback';
import { Message, PROTOCOL_VERSION, readConnectionFile } from './wire';

interface ExecuteRequest {
  code: string;
  silent?: boolean;
  store_history?: boolean;
  stop_on_error?: boolean;
}

type StreamName = 'stdout' | 'stderr';
/** Records the reply to the request being handled; it is sent after the request's idle status. */
type Reply = (msgType: string, content: object) => void;
type Write = typeof process.stdout.write;

/** How long after start-up, or after the last kernel_info_request, the compiler and library start loading. */
const PREPARE_AFTER_START_MS = 2000;
const PREPARE_AFTER_KERNEL_INFO_MS = 300;

/** The version of the TypeScript compiler that compiles cells (read without loading the compiler). */
function compilerVersion(): string {
  const fromTslab = createRequire(require.resolve('tslab/package.json'));
  return fromTslab('@tslab/typescript-for-tslab/package.json').version;
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
  private executor?: Executor;
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
  readonly notebookDir: string;

  private constructor(notebookDir: string) {
    this.notebookDir = notebookDir;
    this.originalWrite = { stdout: process.stdout.write, stderr: process.stderr.write };
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
    // First thing: Node's default SIGINT handler would end the process.
    process.on('SIGINT', () => kernel.interrupt());
    const info = readConnectionFile(connectionFile);
    kernel.captureStreams();
    kernel.hook.install();
    kernel.sockets = await KernelSockets.bind(info, (channel, message) => kernel.receive(channel, message), (text) =>
      kernel.log(text),
    );
    process.on('uncaughtException', (e) => process.stderr.write(`Uncaught exception: ${(e as Error)?.stack ?? e}\n`));
    process.on('unhandledRejection', (reason) =>
      process.stderr.write(`Unhandled promise rejection: ${(reason as Error)?.stack ?? reason}\n`),
    );
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
        const { Executor } = require('./executor') as typeof import('./executor');
        // The backend initialises asynchronously (wasm compiles off the main thread) while the compiler loads.
        const library = loadLibrary(this.notebookDir, this.hook);
        const executor = new Executor(this.notebookDir);
        const report = await library;
        if (report.library) executor.explainError = report.library.explainBackendError;
        executor.warmUp();
        this.executor = executor;
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
        if (text) void this.sockets.publish('stream', { name, text }, this.outputParent);
        const done = typeof encoding === 'function' ? encoding : callback;
        if (typeof done === 'function') process.nextTick(done as () => void);
        return true;
      }) as Write;
    }
  }

  private publishForCell(msgType: string, content: object): void {
    if (this.outputParent) void this.sockets.publish(msgType, content, this.outputParent);
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
    void this.sockets.publish('status', { execution_state: 'busy' }, request);
    try {
      await this.dispatch(channel, request, reply);
    } catch (e) {
      this.log(`${type} failed: ${(e as Error)?.stack ?? e}`);
      if (type.endsWith('_request')) answer = [type.replace(/_request$/, '_reply'), { status: 'error', ...runtimeError(e) }];
    }
    if (this.shuttingDown) return;
    await this.sockets.publish('status', { execution_state: 'idle' }, request);
    if (answer) await this.sockets.reply(channel, request, answer[0], answer[1]);
    if (this.toAbort.length > 0) await this.abortExecutions(this.toAbort.splice(0));
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
        const completion = this.executor!.complete(code, cursor_pos ?? [...code].length);
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
        const text = this.executor!.inspect(code, cursor_pos ?? [...code].length);
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
        await this.sockets.publish('comm_close', { comm_id: (request.content as { comm_id: string }).comm_id, data: {} }, request);
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
    const { code = '', silent = false, store_history: storeHistory = !silent, stop_on_error: stopOnError = true } = request.content;
    if (storeHistory && !silent) this.executionCount++;
    const count = this.executionCount;
    this.outputParent = request;
    this.payloads = [];
    // tslab's display API (import * as tslab from 'tslab') writes through this.
    require('tslab/dist/jupyter').lastWriteDisplayData = (content: object, update: boolean) =>
      void this.sockets.publish(update ? 'update_display_data' : 'display_data', content, request);
    if (!silent) await this.sockets.publish('execute_input', { code, execution_count: count }, request);
    if (storeHistory && !silent) this.history.add(count, code);

    // A cell that waits for the start-up to finish can be interrupted too.
    const interrupted = new Promise<undefined>((resolve) => (this.cancelStartupWait = () => resolve(undefined)));
    const report = await Promise.race([this.prepared(), interrupted]);
    this.cancelStartupWait = undefined;
    if (!report) {
      const error = interruptedError();
      await this.sockets.publish('error', { ...error, execution_count: count }, request);
      reply('execute_reply', { status: 'error', execution_count: count, ...error });
      if (stopOnError) this.toAbort = this.queuedExecutions();
      return;
    }
    if (!this.startupLineShown && !silent) {
      this.startupLineShown = true;
      await this.sockets.publish('stream', { name: report.stream, text: `${report.line}\n` }, request);
    }

    let error: ErrorContent | undefined;
    const executor = this.executor!;
    const outcome = await this.hook.runCell(() => executor.execute(code, `In[${count}]`));
    if (outcome.status === 'error') {
      error = outcome.error;
    } else if (outcome.value !== undefined && outcome.value !== null && !silent && !alreadyShown(outcome.value)) {
      try {
        const data = await mimeBundleOf(outcome.value);
        await this.sockets.publish('execute_result', { execution_count: count, data, metadata: {} }, request);
        if (typeof data['text/plain'] === 'string') this.history.setOutput(count, data['text/plain']);
      } catch (e) {
        error = runtimeError(e);
      }
    }

    if (error) {
      await this.sockets.publish('error', { ...error, execution_count: count }, request);
      reply('execute_reply', { status: 'error', execution_count: count, ...error });
      if (stopOnError) this.toAbort = this.queuedExecutions();
      return;
    }
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
      void this.sockets.publish('status', { execution_state: 'busy' }, request);
      await this.sockets.publish('status', { execution_state: 'idle' }, request);
      await this.sockets.reply('shell', request, 'execute_reply', { status: 'aborted', execution_count: this.executionCount });
    }
  }

  /** Interrupt (SIGINT or interrupt_request): stop waiting for the cell, tell long-running loops. */
  interrupt(): void {
    this.hook.interrupt();
    this.cancelStartupWait?.();
    this.executor?.interrupt();
  }

  private async shutdown(channel: Channel, request: Message): Promise<void> {
    const restart = Boolean((request.content as { restart?: boolean }).restart);
    await this.sockets.reply(channel, request, 'shutdown_reply', { status: 'ok', restart });
    this.shuttingDown = true;
    await this.sockets.publish('status', { execution_state: 'idle' }, request);
    this.executor?.close();
    await this.sockets.close();
    // Give ZeroMQ a moment to put the reply on the wire before the process ends.
    setTimeout(() => process.exit(0), 100);
  }
}

/** A value the library displayed and also returned (plotHistory, evaluate, ...): not shown again as Out[n]. */
function alreadyShown(value: unknown): boolean {
  return typeof value === 'object' && (value as { [key: symbol]: unknown })[Symbol.for('tslab-dl.shown')] === true;
}
