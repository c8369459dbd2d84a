/**
 * The kernel owns the process: its `uncaughtException` and `unhandledRejection`
 * handlers are the only ones, and `process.exit()` from a cell does not end it.
 *
 * Why: in Node, any listener of these events decides what happens to an error
 * nobody caught (https://nodejs.org/api/process.html#event-uncaughtexception,
 * #event-unhandledrejection). TensorFlow.js' wasm backend is built with
 * Emscripten, whose Node glue adds listeners that rethrow (`throw ex`,
 * `throw reason`); a listener that throws ends the process (exit code 7), so a
 * learner's forgotten `await` or a throwing timer killed the kernel and every
 * variable with it. ipykernel likewise never lets a cell's error end the
 * kernel (https://ipython.readthedocs.io/en/stable/interactive/reference.html).
 *
 * How, and why this way:
 * - `process.on` / `addListener` / `prependListener` / `once` /
 *   `prependOnceListener` are wrapped for the two events: a listener added by
 *   anyone but the kernel is set aside (logged, never called). Catching the
 *   addition is robust where sweeping alone is not: a module loaded in the
 *   middle of a cell (the wasm backend chosen by `setBackend('wasm')`) cannot
 *   take over for even one event.
 * - `removeListener` / `off` / `removeAllListeners` never remove the kernel's
 *   own listeners: Emscripten's module `_dispose` removes every listener that
 *   existed when it loaded, its own check being inverted.
 * - `sweep()` (after the library loads and after each cell) removes any
 *   listener that got in some other way (`EventEmitter.prototype.on.call`) and
 *   puts the kernel's back if they went missing.
 * - `process.exit` is replaced by a function that throws ProcessExitError (the
 *   cell fails and says how to restart instead); the kernel itself ends
 *   through `exit()` here. If the process ends any other way, a last line on
 *   stderr (Jupyter's log) says so.
 */

type GuardedEvent = 'uncaughtException' | 'unhandledRejection';
const EVENTS: readonly GuardedEvent[] = ['uncaughtException', 'unhandledRejection'];
type Listener = (...args: any[]) => void;

/** What the kernel receives for every error nobody caught. */
export type StrayErrorHandler = (error: unknown, kind: GuardedEvent, promise?: Promise<unknown>) => void;

/** Thrown by `process.exit()` while the kernel runs. */
export class ProcessExitError extends Error {
  constructor(code: unknown) {
    const shown = code === undefined ? '' : (JSON.stringify(code) ?? String(code));
    super(
      `process.exit(${shown}) would end the kernel, and every variable of this notebook with it, so it was not run. ` +
        'To stop a cell, throw an error or return from it; to start afresh, restart the kernel from the front end ' +
        '(Kernel > Restart Kernel in JupyterLab, or the restart button).',
    );
    this.name = 'ProcessExitError';
  }
}

const ADDERS = ['on', 'addListener', 'prependListener', 'once', 'prependOnceListener'] as const;
const REMOVERS = ['removeListener', 'off'] as const;

export class ProcessGuard {
  private readonly own: { [event in GuardedEvent]: Listener };
  /** Foreign listeners set aside, kept only so that removing them again works. */
  private readonly setAside = new Set<Listener>();
  /** Listeners already named in the log (a module may add the same one again). */
  private readonly loggedOnce = new WeakSet<Listener>();
  private readonly originals = new Map<string, Function>();
  private realExit?: (code?: number) => never;
  private exiting = false;
  private installed = false;

  constructor(
    private readonly onError: StrayErrorHandler,
    private readonly log: (text: string) => void,
  ) {
    this.own = {
      uncaughtException: (error: unknown) => this.deliver(error, 'uncaughtException'),
      unhandledRejection: (reason: unknown, promise: Promise<unknown>) => this.deliver(reason, 'unhandledRejection', promise),
    };
  }

  /** Takes over the process handlers and process.exit; call before any library loads. */
  install(): void {
    if (this.installed) return;
    this.installed = true;
    const proc = process as unknown as { [name: string]: Function };
    for (const name of [...ADDERS, ...REMOVERS, 'removeAllListeners']) this.originals.set(name, proc[name]);
    this.sweep();

    for (const name of ADDERS) {
      const original = this.originals.get(name)!;
      proc[name] = (event: string | symbol, listener: Listener) => {
        if (!this.isGuarded(event) || this.isOwn(listener)) return original.call(process, event, listener);
        if (!this.setAside.has(listener) && !this.loggedOnce.has(listener)) {
          this.loggedOnce.add(listener);
          this.log(`set aside a process.${name}('${String(event)}') listener${addedBy()}: the kernel reports uncaught errors itself`);
        }
        this.setAside.add(listener);
        return process;
      };
    }
    for (const name of REMOVERS) {
      const original = this.originals.get(name)!;
      proc[name] = (event: string | symbol, listener: Listener) => {
        if (this.isGuarded(event) && this.isOwn(listener)) return process;
        this.setAside.delete(listener);
        return original.call(process, event, listener);
      };
    }
    const removeAll = this.originals.get('removeAllListeners')!;
    proc.removeAllListeners = (event?: string | symbol) => {
      if (event === undefined || this.isGuarded(event)) {
        for (const e of EVENTS) if (event === undefined || event === e) this.removeForeign(e);
        if (event !== undefined) return process;
      }
      return removeAll.call(process, event);
    };

    this.realExit = process.exit.bind(process);
    process.exit = ((code?: number) => {
      throw new ProcessExitError(code);
    }) as typeof process.exit;
    process.on('exit', (code) => {
      if (!this.exiting) {
        this.log(
          `the kernel process is ending (exit code ${code}) without a shutdown request: the notebook's variables are lost. ` +
            'Restart the kernel from the front end.',
        );
      }
    });
  }

  /** Removes listeners that got past the wrappers and restores the kernel's own. */
  sweep(): void {
    for (const event of EVENTS) {
      this.removeForeign(event);
      if (!process.rawListeners(event).includes(this.own[event])) {
        (this.originals.get('on') ?? process.on).call(process, event, this.own[event]);
      }
    }
  }

  /** Ends the process on purpose (shutdown_request), past the process.exit guard. */
  exit(code = 0): never {
    this.exiting = true;
    return (this.realExit ?? process.exit)(code);
  }

  private removeForeign(event: GuardedEvent): void {
    const remove = this.originals.get('removeListener') ?? process.removeListener;
    for (const listener of process.rawListeners(event) as Listener[]) {
      if (listener === this.own[event]) continue;
      remove.call(process, event, listener);
      this.log(`removed a foreign process '${event}' listener: the kernel reports uncaught errors itself`);
    }
  }

  private isGuarded(event: string | symbol): event is GuardedEvent {
    return (EVENTS as readonly (string | symbol)[]).includes(event);
  }

  private isOwn(listener: Listener): boolean {
    return listener === this.own.uncaughtException || listener === this.own.unhandledRejection;
  }

  /** Never throws: a throwing listener would end the process. */
  private deliver(error: unknown, kind: GuardedEvent, promise?: Promise<unknown>): void {
    try {
      this.onError(error, kind, promise);
    } catch (e) {
      try {
        this.log(`reporting an ${kind} failed: ${(e as Error)?.stack ?? e}; the error was: ${(error as Error)?.stack ?? error}`);
      } catch {
        // Nothing left to report with.
      }
    }
  }
}

/** " (added by <file:line>)": the first stack frame outside this file, for the log. */
function addedBy(): string {
  const frames = (new Error().stack ?? '').split('\n').filter((line) => /^\s+at /.test(line) && !line.includes(__filename));
  const frame = frames[0]?.trim().replace(/^at /, '');
  return frame ? ` (added by ${frame})` : '';
}
