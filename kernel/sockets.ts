/**
 * The kernel's ZeroMQ sockets: binds the five ports named in the connection
 * file, hands every decoded shell and control message to the kernel, echoes
 * heartbeats, and sends replies and iopub messages in order.
 *
 * What arrives is checked before the kernel sees it: the signature
 * (kernel/wire.ts), replays (kernel/replay-guard.ts) and the message's shape
 * (kernel/message-validation.ts). Nothing a client sends can stop a receive
 * loop: a message that fails is logged and dropped (a request with a bad
 * content gets an error reply), and an exception in the kernel's handler is
 * logged, never rethrown into the loop.
 *
 * zeromq (6.x, its prebuilt binary; its install script is not run) is declared at the
 * version tslab resolves, so npm keeps one copy for tslab and the kernel.
 */
import { randomUUID } from 'crypto';
import type * as Zmq from 'zeromq';
import { contentProblem, envelopeProblem } from './message-validation';
import { Log, Outbox } from './outbox';
import { ReplayGuard } from './replay-guard';
import { ConnectionInfo, Message, Signer, createMessage, decode, encode, signatureOf, socketAddress } from './wire';

export type Channel = 'shell' | 'control';
export type MessageHandler = (channel: Channel, message: Message) => void;
export type { Log };

/**
 * iopub queues this many messages per client before sends wait (zeromq's default is 1000).
 * Output is batched (kernel/stream-batcher.ts), so this is rarely reached; when it is, sends
 * wait for the client rather than drop (kernel/outbox.ts).
 */
export const IOPUB_HIGH_WATER_MARK = 10_000;

function loadZeromq(): typeof Zmq {
  return require('zeromq') as typeof Zmq;
}

export class KernelSockets {
  /** The kernel's own session id, sent in the header of every message. */
  readonly session = randomUUID();
  private readonly signer: Signer;
  private readonly shell: Zmq.Router;
  private readonly control: Zmq.Router;
  private readonly stdin: Zmq.Router;
  private readonly iopub: Zmq.Publisher;
  private readonly heartbeat: Zmq.Reply;
  private readonly outboxes: Map<string, Outbox>;
  private readonly replays = new ReplayGuard();
  private closed = false;

  private constructor(
    private readonly info: ConnectionInfo,
    private readonly onMessage: MessageHandler,
    private readonly log: Log,
  ) {
    const zmq = loadZeromq();
    this.signer = new Signer(info.key, info.signature_scheme);
    // Linger lets the last replies (e.g. shutdown_reply) leave before the process exits.
    const options = { linger: 1000 };
    this.shell = new zmq.Router(options);
    this.control = new zmq.Router(options);
    this.stdin = new zmq.Router(options);
    this.iopub = new zmq.Publisher({ ...options, sendHighWaterMark: IOPUB_HIGH_WATER_MARK, noDrop: true, sendTimeout: 0 });
    this.heartbeat = new zmq.Reply(options);
    this.outboxes = new Map<string, Outbox>([
      ['shell', new Outbox(this.shell, log)],
      ['control', new Outbox(this.control, log)],
      ['stdin', new Outbox(this.stdin, log)],
      ['iopub', new Outbox(this.iopub, log, true)],
    ]);
  }

  /** Binds all ports and starts delivering messages to `onMessage`. */
  static async bind(info: ConnectionInfo, onMessage: MessageHandler, log: Log): Promise<KernelSockets> {
    const sockets = new KernelSockets(info, onMessage, log);
    await Promise.all([
      sockets.shell.bind(socketAddress(info, info.shell_port)),
      sockets.control.bind(socketAddress(info, info.control_port)),
      sockets.stdin.bind(socketAddress(info, info.stdin_port)),
      sockets.iopub.bind(socketAddress(info, info.iopub_port)),
      sockets.heartbeat.bind(socketAddress(info, info.hb_port)),
    ]);
    void sockets.receive(sockets.shell, 'shell');
    void sockets.receive(sockets.control, 'control');
    void sockets.echoHeartbeats();
    return sockets;
  }

  private async receive(socket: Zmq.Router, channel: Channel): Promise<void> {
    try {
      for await (const frames of socket) this.admit(channel, frames);
    } catch (e) {
      if (!this.closed) this.log(`${channel} socket stopped: ${(e as Error).message}`);
    }
  }

  /** Hands one received message to the kernel if it passes every check; never throws. */
  private admit(channel: Channel, frames: Buffer[]): void {
    try {
      let message: Message;
      try {
        message = decode(frames, this.signer);
      } catch (e) {
        this.log(`dropped a ${channel} message: ${(e as Error).message}`);
        return;
      }
      if (!this.replays.admit(signatureOf(frames))) {
        this.log(`dropped a ${channel} message: its signature was already used (a replayed message)`);
        return;
      }
      const envelope = envelopeProblem(message);
      if (envelope) {
        this.log(`dropped a ${channel} message: ${envelope}`);
        return;
      }
      const content = contentProblem(message);
      if (content) {
        const type = message.header.msg_type;
        this.log(`refused an invalid ${type} on ${channel}: ${content}`);
        if (type.endsWith('_request')) {
          const evalue = `the kernel received a ${type} it cannot handle: ${content} (see the Jupyter messaging protocol)`;
          void this.reply(channel, message, type.replace(/_request$/, '_reply'), {
            status: 'error',
            ename: 'InvalidMessage',
            evalue,
            traceback: [`InvalidMessage: ${evalue}`],
          });
        }
        return;
      }
      this.onMessage(channel, message);
    } catch (e) {
      this.log(`a ${channel} message could not be handled: ${(e as Error)?.stack ?? e}`);
    }
  }

  private async echoHeartbeats(): Promise<void> {
    try {
      for await (const frames of this.heartbeat) await this.heartbeat.send(frames);
    } catch (e) {
      if (!this.closed) this.log(`heartbeat socket stopped: ${(e as Error).message}`);
    }
  }

  /** Sends the reply to `request` back on the channel it came from. */
  reply<Content>(channel: Channel, request: Message, msgType: string, content: Content): Promise<void> {
    const message = createMessage(this.session, msgType, content, request, request.identities);
    return this.outboxes.get(channel)!.send(encode(message, this.signer));
  }

  /** Broadcasts a message on iopub, as part of the handling of `parent` when given. */
  publish<Content>(msgType: string, content: Content, parent?: Message): Promise<void> {
    const topic = Buffer.from(`kernel.${this.session}.${msgType}`);
    const message = createMessage(this.session, msgType, content, parent, [topic]);
    return this.outboxes.get('iopub')!.send(encode(message, this.signer));
  }

  /** Waits for pending sends, then closes every socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.outboxes.values()].map((outbox) => outbox.drained()));
    this.closed = true;
    for (const socket of [this.shell, this.control, this.stdin, this.iopub, this.heartbeat]) socket.close();
  }

  get connection(): ConnectionInfo {
    return this.info;
  }
}
