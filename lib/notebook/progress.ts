/**
 * A progress display for long work: one line updated in place in a notebook,
 * a redrawn bar in a terminal, and a few plain lines in a log (CI, pipes).
 */
import { DisplayHandle, escapeXml, inNotebook, JUPYTER_DISPLAY } from './display';
import { interruptRequested } from './interrupt';
import { InterruptedError } from '../core/errors';

export interface ProgressOptions {
  /** What is counted, e.g. 'images', 'bytes'. Defaults to ''. */
  unit?: string;
  /** Minimum milliseconds between two redraws. Defaults to 250. */
  intervalMs?: number;
  /** Where terminal output goes. Defaults to process.stderr. */
  stream?: NodeJS.WriteStream;
}

const BAR_WIDTH = 30;

/**
 * A progress display for long work (downloads, feature extraction, predict): one line updated in
 * place in a notebook, a redrawn bar in a terminal, and a few plain lines in a log (CI, pipes).
 * Count work with `tick(n)`, end with `finish()`.
 */
export class Progress {
  private done = 0;
  private readonly started = Date.now();
  private lastDraw = 0;
  private lastLoggedDecile = -1;
  private lastLogged = '';
  private readonly handle?: DisplayHandle;
  private readonly stream: NodeJS.WriteStream;
  private extra = '';

  constructor(
    /** What is in progress, e.g. 'Downloading train_images.npy'. */
    readonly label: string,
    /** The units of work in all, e.g. images or bytes. */
    readonly total: number,
    private readonly options: ProgressOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    if (inNotebook()) this.handle = new DisplayHandle();
    this.draw(true);
  }

  /** Counts `n` more units done; `extra` is shown after the counts (e.g. a loss). */
  tick(n = 1, extra?: string): void {
    this.done = Math.min(this.total, this.done + n);
    if (extra !== undefined) this.extra = extra;
    this.draw(false);
  }

  /** Throws {@link InterruptedError} when the user interrupted the kernel. */
  checkInterrupt(): void {
    if (interruptRequested()) throw new InterruptedError(this.label);
  }

  /** Marks the work as finished (or failed) and draws the final state. */
  finish(extra?: string): void {
    if (extra !== undefined) this.extra = extra;
    this.draw(true, true);
  }

  /** Seconds since the start. */
  get elapsed(): number {
    return (Date.now() - this.started) / 1000;
  }

  /** Units per second so far. */
  get rate(): number {
    return this.done / Math.max(this.elapsed, 1e-9);
  }

  /** The status line without a bar, e.g. "Features: 64/293 images (40.1 images/s, 1.6 s)". */
  text(): string {
    const unit = this.options.unit ? ` ${this.options.unit}` : '';
    const rate = this.done > 0 ? `, ${formatRate(this.rate)}${unit}/s` : '';
    const extra = this.extra ? ` ${this.extra}` : '';
    return `${this.label}: ${this.done}/${this.total}${unit} (${this.elapsed.toFixed(1)} s${rate})${extra}`;
  }

  private draw(force: boolean, final = false): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < (this.options.intervalMs ?? 250) && this.done < this.total) return;
    this.lastDraw = now;
    const fraction = this.total > 0 ? this.done / this.total : 1;
    if (this.handle) {
      this.handle.update(progressBundle(this.text(), fraction));
    } else if (this.stream.isTTY) {
      const filled = Math.round(fraction * BAR_WIDTH);
      const bar = '█'.repeat(filled) + '░'.repeat(BAR_WIDTH - filled);
      this.stream.write(`\r${bar} ${this.text()}\x1b[K${final ? '\n' : ''}`);
    } else {
      // Logs get the start, every tenth, and the end: not one line per tick.
      const decile = Math.floor(fraction * 10);
      // The state shown, without the clock: finish() right after the last tick adds nothing new.
      const state = `${this.done}|${this.extra}`;
      if ((final || decile > this.lastLoggedDecile) && state !== this.lastLogged) {
        this.lastLoggedDecile = decile;
        this.lastLogged = state;
        this.stream.write(this.text() + '\n');
      }
    }
  }
}

function formatRate(rate: number): string {
  return rate >= 100 ? rate.toFixed(0) : rate.toFixed(1);
}

function progressBundle(text: string, fraction: number) {
  const percent = (fraction * 100).toFixed(1);
  return {
    [JUPYTER_DISPLAY]: () => ({
      'text/plain': text,
      'text/html':
        `<div style="font-family:monospace"><progress value="${percent}" max="100" style="width:20em"></progress> ` +
        `${escapeXml(text)}</div>`,
    }),
  };
}
