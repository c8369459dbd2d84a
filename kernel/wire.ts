/**
 * The Jupyter wire protocol: how one message travels over ZeroMQ, signed.
 * https://jupyter-client.readthedocs.io/en/stable/messaging.html#the-wire-protocol
 *
 * Frames: [routing identities..., '<IDS|MSG>', signature, header, parent_header,
 * metadata, content, buffers...]. The signature is an HMAC of the four JSON
 * frames with the key from the connection file.
 */
import { createHmac, randomUUID, timingSafeEqual } from 'crypto';
import * as fs from 'fs';

/** The messaging protocol version this kernel speaks. */
export const PROTOCOL_VERSION = '5.3';

const DELIMITER = Buffer.from('<IDS|MSG>');

export interface Header {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
}

export interface Message<Content = any> {
  /** ZeroMQ routing prefix of the sender (shell, control, stdin); empty on iopub. */
  identities: Buffer[];
  header: Header;
  /** The header of the request this message answers or belongs to; `{}` when none. */
  parent_header: Partial<Header>;
  metadata: { [key: string]: unknown };
  content: Content;
  buffers: Buffer[];
}

/** The connection file Jupyter writes for each kernel it starts. */
export interface ConnectionInfo {
  transport: 'tcp' | 'ipc';
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: string;
  kernel_name?: string;
}

export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

export function readConnectionFile(file: string): ConnectionInfo {
  let info: ConnectionInfo;
  try {
    info = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new WireError(`cannot read the connection file ${file}: ${(e as Error).message}`);
  }
  for (const field of ['ip', 'shell_port', 'iopub_port', 'stdin_port', 'control_port', 'hb_port'] as const) {
    if (info[field] === undefined) throw new WireError(`the connection file ${file} has no "${field}".`);
  }
  info.transport ??= 'tcp';
  info.key ??= '';
  info.signature_scheme ??= 'hmac-sha256';
  return info;
}

/** The ZeroMQ address of one of the kernel's ports. */
export function socketAddress(info: ConnectionInfo, port: number): string {
  return info.transport === 'ipc' ? `ipc://${info.ip}-${port}` : `${info.transport}://${info.ip}:${port}`;
}

/** Signs and checks messages with the connection key (no signature when the key is empty). */
export class Signer {
  private readonly algorithm: string;

  constructor(
    private readonly key: string,
    scheme = 'hmac-sha256',
  ) {
    const match = /^hmac-(.+)$/.exec(scheme);
    if (!match) throw new WireError(`unsupported signature_scheme ${JSON.stringify(scheme)}: expected "hmac-<hash>".`);
    this.algorithm = match[1];
  }

  sign(parts: (string | Buffer)[]): string {
    if (!this.key) return '';
    const hmac = createHmac(this.algorithm, this.key);
    for (const part of parts) hmac.update(part);
    return hmac.digest('hex');
  }

  verify(signature: string, parts: Buffer[]): boolean {
    if (!this.key) return true;
    const expected = Buffer.from(this.sign(parts));
    const actual = Buffer.from(signature);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
}

/** The signature frame of a message's frames ('' when there is none). */
export function signatureOf(frames: Buffer[]): string {
  const delimiter = frames.findIndex((frame) => frame.equals(DELIMITER));
  return delimiter >= 0 && delimiter + 1 < frames.length ? frames[delimiter + 1].toString('ascii') : '';
}

/**
 * Parses the frames of one received message; throws WireError when malformed or wrongly signed.
 * The JSON parts come back as sent (a null parent header or metadata becomes `{}`): whether the
 * header and content have the protocol's shape is kernel/message-validation.ts' question.
 */
export function decode(frames: Buffer[], signer: Signer): Message {
  const delimiter = frames.findIndex((frame) => frame.equals(DELIMITER));
  if (delimiter < 0) throw new WireError('message without the <IDS|MSG> delimiter');
  if (frames.length < delimiter + 6) throw new WireError(`message with ${frames.length} frames is too short`);
  const signature = frames[delimiter + 1].toString('ascii');
  const json = frames.slice(delimiter + 2, delimiter + 6);
  if (!signer.verify(signature, json)) throw new WireError('message with an invalid signature');
  const parts = json.map((frame, i) => {
    try {
      return JSON.parse(frame.toString('utf8'));
    } catch (e) {
      throw new WireError(`message whose ${['header', 'parent_header', 'metadata', 'content'][i]} is not JSON: ${(e as Error).message}`);
    }
  });
  const [header, parent_header, metadata, content] = parts;
  return {
    identities: frames.slice(0, delimiter),
    header,
    parent_header: parent_header ?? {},
    metadata: metadata ?? {},
    content,
    buffers: frames.slice(delimiter + 6),
  };
}

/** The frames of a message, signed. */
export function encode(message: Message, signer: Signer): Buffer[] {
  const json = [message.header, message.parent_header, message.metadata, message.content].map((part) =>
    Buffer.from(JSON.stringify(part), 'utf8'),
  );
  return [...message.identities, DELIMITER, Buffer.from(signer.sign(json), 'ascii'), ...json, ...message.buffers];
}

/** A new message from the kernel's session, answering or belonging to `parent` when given. */
export function createMessage<Content>(
  session: string,
  msgType: string,
  content: Content,
  parent?: Message,
  identities: Buffer[] = [],
): Message<Content> {
  return {
    identities,
    header: {
      msg_id: randomUUID(),
      msg_type: msgType,
      session,
      username: 'kernel',
      date: new Date().toISOString(),
      version: PROTOCOL_VERSION,
    },
    parent_header: parent ? parent.header : {},
    metadata: {},
    content,
    buffers: [],
  };
}
