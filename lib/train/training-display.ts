/**
 * What `fit()` shows while it trains, like Keras' progress bar but fitted to where it runs:
 * - notebook: ONE output updated in place: a table with a row per finished epoch and a line for
 *   the running epoch (batch progress, running loss/accuracy, time);
 * - terminal: a progress bar redrawn in place for the running epoch, then one line per epoch;
 * - log (pipe, CI): one line per epoch.
 */
import { DisplayHandle, escapeXml, inNotebook, JUPYTER_DISPLAY } from '../notebook/display';

export type DisplayMode = 'notebook' | 'bar' | 'lines' | 'silent';

/** Keras' verbose: 0 silent, 1 progress bar, 2 one line per epoch; 'auto' chooses by where it runs. */
export type Verbosity = 0 | 1 | 2 | 'auto';

export function displayMode(verbose: Verbosity, stream: NodeJS.WriteStream = process.stdout): DisplayMode {
  if (verbose === 0) return 'silent';
  if (inNotebook()) return 'notebook';
  if (verbose === 2) return 'lines';
  return stream.isTTY ? 'bar' : 'lines';
}

/** Keras prints metrics with 4 decimals: "loss: 0.6931 - accuracy: 0.5000". */
export function formatLogs(logs: { [key: string]: number }): string {
  return Object.entries(logs)
    .map(([key, value]) => `${key}: ${formatValue(value)}`)
    .join(' - ');
}

function formatValue(value: number): string {
  return Number.isFinite(value) && Math.abs(value) < 1e4 ? value.toFixed(4) : String(value);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

interface EpochRow {
  epoch: number;
  logs: { [key: string]: number };
  ms: number;
}

const BAR_WIDTH = 30;
const REDRAW_MS = 200;

export class TrainingDisplay {
  private readonly handle?: DisplayHandle;
  private readonly rows: EpochRow[] = [];
  private current = '';
  private fraction = 0;
  private status = '';
  private lastDraw = 0;
  private readonly started = Date.now();

  constructor(
    readonly mode: DisplayMode,
    private readonly epochs: number,
    private readonly stream: NodeJS.WriteStream = process.stdout,
  ) {
    if (mode === 'notebook') this.handle = new DisplayHandle();
  }

  /**
   * Whether {@link batch} for batch `batch` of `batches` (0: not known) would draw now (a notebook
   * or a terminal bar, the last batch of an epoch or 0.2 s since the last drawing): fit reads the
   * running metrics off the backend only then, not after every batch.
   */
  due(batch: number, batches: number): boolean {
    return this.showsBatches && this.redrawDue(batch, batches);
  }

  /** The last batch of the epoch, or 0.2 s since the last drawing. */
  private redrawDue(batch: number, batches: number): boolean {
    return (batches > 0 && batch >= batches) || Date.now() - this.lastDraw >= REDRAW_MS;
  }

  /** Whether this display shows the running epoch at all (notebook, terminal bar). */
  get showsBatches(): boolean {
    return this.mode === 'notebook' || this.mode === 'bar';
  }

  /** The running epoch: `batch` batches of `batches` done, with running means of the metrics. */
  batch(epoch: number, batch: number, batches: number, logs: { [key: string]: number }, epochMs: number): void {
    this.fraction = batches > 0 ? batch / batches : 1;
    this.current =
      `Epoch ${epoch + 1}/${this.epochs}: ${batch}/${batches} batches - ${seconds(epochMs)}` +
      (Object.keys(logs).length ? ` - ${formatLogs(logs)}` : '');
    if (!this.redrawDue(batch, batches)) return;
    this.lastDraw = Date.now();
    if (this.mode === 'notebook') this.drawNotebook();
    else if (this.mode === 'bar') {
      const filled = Math.round(this.fraction * BAR_WIDTH);
      this.stream.write(`\r${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)} ${this.current}\x1b[K`);
    }
  }

  /** A finished epoch with its final logs (training and validation). */
  epochEnd(epoch: number, logs: { [key: string]: number }, ms: number): void {
    this.rows.push({ epoch, logs: { ...logs }, ms });
    const line = `Epoch ${epoch + 1}/${this.epochs} - ${seconds(ms)} - ${formatLogs(logs)}`;
    this.current = '';
    if (this.mode === 'notebook') this.drawNotebook();
    else if (this.mode === 'bar') this.stream.write(`\r${line}\x1b[K\n`);
    else if (this.mode === 'lines') this.stream.write(line + '\n');
  }

  /** The end of training: how many epochs ran and why it stopped. */
  finish(status: string): void {
    this.status = `${status} (${seconds(Date.now() - this.started)} in all)`;
    this.current = '';
    if (this.mode === 'notebook') this.drawNotebook();
    else if (this.mode === 'bar') this.stream.write(`\r\x1b[K${this.status}\n`);
    else if (this.mode === 'lines') this.stream.write(this.status + '\n');
  }

  /** Plain-text form of the whole display (also the notebook's text/plain). */
  text(): string {
    const lines = this.rows.map((r) => `Epoch ${r.epoch + 1}/${this.epochs} - ${seconds(r.ms)} - ${formatLogs(r.logs)}`);
    if (this.current) lines.push(this.current);
    if (this.status) lines.push(this.status);
    return lines.join('\n');
  }

  html(): string {
    const keys = [...new Set(this.rows.flatMap((r) => Object.keys(r.logs)))];
    const head = ['epoch', ...keys, 'time'].map((k) => `<th style="text-align:right;padding:0 0.6em">${escapeXml(k)}</th>`).join('');
    const body = this.rows
      .map((r) => {
        const cells = [String(r.epoch + 1), ...keys.map((k) => (k in r.logs ? formatValue(r.logs[k]) : '')), seconds(r.ms)];
        return `<tr>${cells.map((c) => `<td style="text-align:right;padding:0 0.6em">${escapeXml(c)}</td>`).join('')}</tr>`;
      })
      .join('');
    const table = this.rows.length
      ? `<table style="font-family:monospace;border-collapse:collapse"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`
      : '';
    const running = this.current
      ? `<div><progress value="${(this.fraction * 100).toFixed(1)}" max="100" style="width:16em"></progress> ${escapeXml(this.current)}</div>`
      : '';
    const status = this.status ? `<div>${escapeXml(this.status)}</div>` : '';
    return `<div style="font-family:monospace">${table}${running}${status}</div>`;
  }

  private drawNotebook(): void {
    this.handle!.update({ [JUPYTER_DISPLAY]: () => ({ 'text/plain': this.text(), 'text/html': this.html() }) });
  }
}
