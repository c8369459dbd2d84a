/**
 * A cell's stdout and stderr, sent as few `stream` messages as possible.
 *
 * Every write used to be its own iopub message; ZeroMQ's PUB socket drops
 * messages past its high-water mark (https://zeromq.org/socket-api/#high-water-mark),
 * so a cell printing 20,000 lines lost a fifth of them. Like ipykernel's
 * OutStream (flush_interval 0.2 s, https://github.com/ipython/ipykernel/blob/main/ipykernel/iostream.py),
 * writes are collected and sent together: 0.2 s after the first unsent write,
 * at once when 1 MiB is waiting, and before any other message of the cell (so
 * output keeps its order around displays, results, errors and `idle`). Writes
 * to stdout and stderr stay in the order they were made.
 *
 * A cell shows at most CELL_LIMIT_BYTES (16 MiB) of printed text: past that,
 * output is counted, not kept (a runaway `while (true) console.log(...)` must
 * not fill the kernel's memory or the browser), and the cell says how much it
 * did not show. Below it nothing is dropped: kernel/sockets.ts waits for a
 * slow client instead of dropping.
 */
export type StreamName = 'stdout' | 'stderr';

export const FLUSH_INTERVAL_MS = 200;
export const MAX_MESSAGE_CHARS = 1 << 20;
export const CELL_LIMIT_BYTES = 16 * 2 ** 20;

interface Segment {
  name: StreamName;
  chunks: string[];
}

export interface StreamBatcherOptions {
  intervalMs?: number;
  maxMessageChars?: number;
  cellLimitBytes?: number;
}

/** Sends one stream message for `parent` (the request whose cell shows it). */
export type SendStream<Parent> = (name: StreamName, text: string, parent: Parent) => void;

function megabytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function countLines(text: string): number {
  let lines = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lines++;
  return lines;
}

export class StreamBatcher<Parent> {
  private parent?: Parent;
  private segments: Segment[] = [];
  private waitingChars = 0;
  private timer?: NodeJS.Timeout;
  /** Bytes of this cell's output kept so far, and what was not kept. */
  private keptBytes = 0;
  private droppedBytes = 0;
  private droppedLines = 0;
  private reportedBytes = 0;
  private cellEnded = false;
  private readonly intervalMs: number;
  private readonly maxMessageChars: number;
  readonly cellLimitBytes: number;

  constructor(
    private readonly send: SendStream<Parent>,
    options: StreamBatcherOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? FLUSH_INTERVAL_MS;
    this.maxMessageChars = options.maxMessageChars ?? MAX_MESSAGE_CHARS;
    this.cellLimitBytes = options.cellLimitBytes ?? CELL_LIMIT_BYTES;
  }

  /** Text written to `name` by the cell of `parent`. */
  write(name: StreamName, text: string, parent: Parent): void {
    if (!text) return;
    if (parent !== this.parent) this.startCell(parent);
    const bytes = Buffer.byteLength(text, 'utf8');
    if (this.keptBytes + bytes > this.cellLimitBytes) {
      const firstDrop = this.droppedBytes === 0;
      this.droppedBytes += bytes;
      this.droppedLines += countLines(text);
      if (firstDrop) {
        this.append(
          'stderr',
          `\n[tslab-dl] This cell printed more than ${megabytes(this.cellLimitBytes)}; the rest of its output is counted, not shown ` +
            '(the total follows when it ends).\n',
        );
      }
      return;
    }
    this.keptBytes += bytes;
    this.append(name, text);
  }

  /** Sends everything waiting now (before any other message of the cell). */
  flush(): void {
    if (this.parent !== undefined && this.cellEnded && this.droppedBytes > this.reportedBytes) this.pushDropReport();
    clearTimeout(this.timer);
    this.timer = undefined;
    const segments = this.segments;
    this.segments = [];
    this.waitingChars = 0;
    const parent = this.parent;
    if (parent === undefined) return;
    for (const segment of segments) this.send(segment.name, segment.chunks.join(''), parent);
  }

  /** The cell finished: send what waits, with the total of what was not shown. */
  endCell(): void {
    this.cellEnded = true;
    this.flush();
  }

  private startCell(parent: Parent): void {
    this.flush();
    this.parent = parent;
    this.keptBytes = this.droppedBytes = this.droppedLines = this.reportedBytes = 0;
    this.cellEnded = false;
  }

  private pushDropReport(): void {
    this.reportedBytes = this.droppedBytes;
    this.push(
      'stderr',
      `\n[tslab-dl] ${this.droppedLines.toLocaleString('en-US')} lines (${megabytes(this.droppedBytes)}) of this cell's output were not shown: ` +
        `a cell shows at most ${megabytes(this.cellLimitBytes)} of printed text. Print less (e.g. every 100th step), or write it to a file.\n`,
    );
  }

  private push(name: StreamName, text: string): void {
    const last = this.segments[this.segments.length - 1];
    if (last?.name === name) last.chunks.push(text);
    else this.segments.push({ name, chunks: [text] });
    this.waitingChars += text.length;
  }

  private append(name: StreamName, text: string): void {
    this.push(name, text);
    if (this.waitingChars >= this.maxMessageChars) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }
}
