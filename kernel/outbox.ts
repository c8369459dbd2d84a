/**
 * Sending on the kernel's sockets, one message at a time and in order
 * (zeromq.js allows one pending send per socket: https://zeromq.github.io/zeromq.js/classes/Writable.html#send).
 *
 * iopub is flow-controlled instead of lossy. A PUB socket normally drops, without a
 * word, every message past a subscriber's high-water mark
 * (https://zeromq.org/socket-api/#high-water-mark), which is how a cell's
 * output went missing. The kernel's iopub socket is made with a large
 * high-water mark and ZMQ_XPUB_NODROP (`noDrop`, http://api.zeromq.org/4-3:zmq-setsockopt),
 * so a full queue makes a send fail with EAGAIN rather than drop; the outbox
 * then waits (1 ms, doubling to 50 ms) and tries again, so a slow client slows
 * the cell's output down instead of losing it. A client that reads nothing at
 * all for BLOCKED_LIMIT_MS (10 s) must not stall the kernel forever: after
 * that the outbox drops what it cannot send at once, counting it in the log,
 * until a send gets through again.
 */
import type * as Zmq from 'zeromq';

export type Log = (text: string) => void;

const FIRST_RETRY_MS = 1;
const MAX_RETRY_MS = 50;
export const BLOCKED_LIMIT_MS = 10_000;

function isFull(error: unknown): boolean {
  return (error as NodeJS.ErrnoException)?.code === 'EAGAIN';
}

export class Outbox {
  private last: Promise<void> = Promise.resolve();
  /** Since when sends have been refused (the client reads nothing), or undefined. */
  private blockedSince?: number;
  private dropped = 0;

  /** @param waitWhenFull for a noDrop socket: retry sends refused with EAGAIN (see the file comment). */
  constructor(
    private readonly socket: Zmq.Writable,
    private readonly log: Log,
    private readonly waitWhenFull = false,
    private readonly blockedLimitMs = BLOCKED_LIMIT_MS,
  ) {}

  send(frames: Buffer[]): Promise<void> {
    this.last = this.last
      .then(() => (this.waitWhenFull ? this.sendWaiting(frames) : this.socket.send(frames)))
      .catch((e) => this.log(`send failed: ${(e as Error).message}`));
    return this.last;
  }

  drained(): Promise<void> {
    return this.last;
  }

  private async sendWaiting(frames: Buffer[]): Promise<void> {
    let delay = FIRST_RETRY_MS;
    for (;;) {
      try {
        await this.socket.send(frames);
        if (this.blockedSince !== undefined) this.unblocked();
        return;
      } catch (e) {
        if (!isFull(e)) throw e;
      }
      const now = Date.now();
      this.blockedSince ??= now;
      if (now - this.blockedSince >= this.blockedLimitMs) {
        if (this.dropped++ === 0) {
          this.log(
            `iopub: the client has read nothing for ${this.blockedLimitMs / 1000} s; dropping messages it cannot take until it reads again`,
          );
        }
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }

  private unblocked(): void {
    if (this.dropped > 0) this.log(`iopub: the client reads again; ${this.dropped} messages were dropped while it did not`);
    this.blockedSince = undefined;
    this.dropped = 0;
  }
}
