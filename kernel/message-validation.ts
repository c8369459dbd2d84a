/**
 * Checks every decoded message before the kernel uses it.
 *
 * A correctly signed message can still be malformed (a buggy or hostile
 * client): `header: null`, no `msg_type`, a number as `msg_type`, `content`
 * that is not an object, `code` that is not a string. Used unchecked, one
 * such message threw inside the shell socket's receive loop and left the shell
 * dead while the heartbeat still answered. The messaging protocol
 * (https://jupyter-client.readthedocs.io/en/stable/messaging.html#general-message-format)
 * says what each part holds; this file checks the parts the kernel reads:
 *
 * - the envelope (header with string msg_id and non-empty msg_type, parent
 *   header and metadata objects or null, content an object): a message that
 *   fails is dropped, with one line in the kernel's log, as ipykernel drops
 *   messages it cannot deserialize;
 * - the content fields of each request the kernel answers: a request that fails
 *   gets an error reply naming the field (so its sender does not wait forever)
 *   and is not handled.
 */
import type { Message } from './wire';

type FieldType = 'string' | 'boolean' | 'integer' | 'object';
/** Field name -> type; a trailing `?` on the type marks a field that may be absent or null. */
type Shape = { [field: string]: `${FieldType}` | `${FieldType}?` };

/** The content fields of the requests this kernel handles (messaging protocol 5.3). */
const SHAPES: { [msgType: string]: Shape } = {
  execute_request: {
    code: 'string',
    silent: 'boolean?',
    store_history: 'boolean?',
    user_expressions: 'object?',
    allow_stdin: 'boolean?',
    stop_on_error: 'boolean?',
  },
  complete_request: { code: 'string', cursor_pos: 'integer?' },
  inspect_request: { code: 'string', cursor_pos: 'integer?', detail_level: 'integer?' },
  is_complete_request: { code: 'string' },
  history_request: {
    output: 'boolean?',
    raw: 'boolean?',
    hist_access_type: 'string?',
    session: 'integer?',
    start: 'integer?',
    stop: 'integer?',
    n: 'integer?',
    pattern: 'string?',
    unique: 'boolean?',
  },
  comm_info_request: { target_name: 'string?' },
  comm_open: { comm_id: 'string', target_name: 'string?', data: 'object?' },
  comm_msg: { comm_id: 'string', data: 'object?' },
  comm_close: { comm_id: 'string', data: 'object?' },
  shutdown_request: { restart: 'boolean?' },
};

function isObject(value: unknown): value is { [key: string]: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (value === '') return 'an empty string';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number' && Number.isInteger(value)) return `the number ${value}`;
  return `${typeof value === 'object' ? 'an' : 'a'} ${typeof value}`;
}

function hasType(value: unknown, type: FieldType): boolean {
  switch (type) {
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'object':
      return isObject(value);
    default:
      return typeof value === type;
  }
}

/** Why the envelope of a decoded message is unusable, or undefined when it is fine (null parts become `{}`). */
export function envelopeProblem(message: Message): string | undefined {
  const header: unknown = message.header;
  if (!isObject(header)) return `its header is ${describe(header)}, not an object`;
  if (typeof header.msg_type !== 'string' || header.msg_type === '') {
    return header.msg_type === undefined
      ? 'its header has no msg_type'
      : `its header's msg_type is ${describe(header.msg_type)}, not a message type`;
  }
  if (typeof header.msg_id !== 'string') return `its header's msg_id is ${describe(header.msg_id)}, not a string`;
  for (const field of ['session', 'username', 'date', 'version'] as const) {
    if (header[field] !== undefined && typeof header[field] !== 'string')
      return `its header's ${field} is ${describe(header[field])}, not a string`;
  }
  for (const part of ['parent_header', 'metadata'] as const) {
    if (!isObject(message[part])) return `its ${part} is ${describe(message[part])}, not an object`;
  }
  if (!isObject(message.content)) return `its content is ${describe(message.content)}, not an object`;
  return undefined;
}

/** Why the content of a request (whose envelope is fine) is unusable, or undefined. */
export function contentProblem(message: Message): string | undefined {
  const shape = SHAPES[message.header.msg_type];
  if (!shape) return undefined;
  const content = message.content as { [key: string]: unknown };
  for (const [field, spec] of Object.entries(shape)) {
    const optional = spec.endsWith('?');
    const type = spec.replace('?', '') as FieldType;
    const value = content[field];
    if (optional && (value === undefined || value === null)) continue;
    if (value === undefined) return `its content has no "${field}"`;
    if (!hasType(value, type))
      return `its content's "${field}" is ${describe(value)}, not ${type === 'integer' ? 'an integer' : `a ${type}`}`;
  }
  return undefined;
}
