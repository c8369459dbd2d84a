// The kernel's guards, one by one and without Jupyter: output batching and its limit
// (kernel/stream-batcher.ts), message checks (kernel/message-validation.ts), replay refusal
// (kernel/replay-guard.ts), and the process guard (kernel/process-guard.ts, in a child process
// since it takes over the process it runs in).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { StreamBatcher, StreamName } from '../kernel/stream-batcher';
import { contentProblem, envelopeProblem } from '../kernel/message-validation';
import { ReplayGuard } from '../kernel/replay-guard';
import { Message, Signer, createMessage, decode, encode } from '../kernel/wire';

type Sent = [StreamName, string, string];

function batcher(options = {}) {
  const sent: Sent[] = [];
  const b = new StreamBatcher<string>((name, text, parent) => sent.push([name, text, parent]), { intervalMs: 20, ...options });
  return { b, sent };
}

describe('stream batching', () => {
  test('writes close together become one message, sent after the interval', async () => {
    const { b, sent } = batcher();
    for (let i = 0; i < 1000; i++) b.write('stdout', `line ${i}\n`, 'cell-1');
    assert.equal(sent.length, 0);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(sent.length, 1);
    assert.equal(sent[0][1].split('\n').length - 1, 1000);
  });

  test('stdout and stderr keep their order; flush sends at once; a new cell flushes the last', () => {
    const { b, sent } = batcher();
    b.write('stdout', 'a\n', 'cell-1');
    b.write('stdout', 'b\n', 'cell-1');
    b.write('stderr', 'c\n', 'cell-1');
    b.write('stdout', 'd\n', 'cell-1');
    b.flush();
    assert.deepEqual(sent, [
      ['stdout', 'a\nb\n', 'cell-1'],
      ['stderr', 'c\n', 'cell-1'],
      ['stdout', 'd\n', 'cell-1'],
    ]);
    b.write('stdout', 'late\n', 'cell-1');
    b.write('stdout', 'next\n', 'cell-2');
    b.flush();
    assert.deepEqual(sent.slice(3), [
      ['stdout', 'late\n', 'cell-1'],
      ['stdout', 'next\n', 'cell-2'],
    ]);
  });

  test('a message is sent as soon as the size limit is reached', () => {
    const { b, sent } = batcher({ maxMessageChars: 100 });
    for (let i = 0; i < 30; i++) b.write('stdout', '0123456789', 'cell');
    assert.equal(sent.length, 3);
    b.flush();
  });

  test('past the cell limit output is counted, not kept, and the cell says how much it dropped', () => {
    const { b, sent } = batcher({ cellLimitBytes: 1000 });
    for (let i = 0; i < 300; i++) b.write('stdout', `${String(i).padStart(9, '0')}\n`, 'cell');
    b.endCell();
    const stdout = sent
      .filter((s) => s[0] === 'stdout')
      .map((s) => s[1])
      .join('');
    const stderr = sent
      .filter((s) => s[0] === 'stderr')
      .map((s) => s[1])
      .join('');
    assert.equal(stdout.split('\n').length - 1, 100);
    assert.match(stderr, /printed more than 0\.0 MiB; the rest of its output is counted, not shown/);
    assert.match(stderr, /200 lines \(0\.0 MiB\) of this cell's output were not shown/);
  });
});

function message(parts: Partial<Record<'header' | 'parent_header' | 'metadata' | 'content', unknown>>): Message {
  const base = createMessage('s', 'execute_request', { code: '1' });
  return { ...base, ...parts } as Message;
}

describe('message validation', () => {
  test('a well-formed message passes', () => {
    assert.equal(envelopeProblem(message({})), undefined);
    assert.equal(contentProblem(message({})), undefined);
  });

  test('malformed envelopes are named', () => {
    const header = createMessage('s', 'x', {}).header;
    assert.equal(envelopeProblem(message({ header: null })), 'its header is null, not an object');
    assert.equal(envelopeProblem(message({ header: { ...header, msg_type: undefined } })), 'its header has no msg_type');
    assert.equal(
      envelopeProblem(message({ header: { ...header, msg_type: 42 } })),
      "its header's msg_type is the number 42, not a message type",
    );
    assert.equal(
      envelopeProblem(message({ header: { ...header, msg_type: '' } })),
      "its header's msg_type is an empty string, not a message type",
    );
    assert.equal(envelopeProblem(message({ header: { ...header, msg_id: undefined } })), "its header's msg_id is missing, not a string");
    assert.equal(envelopeProblem(message({ content: 'text' })), 'its content is a string, not an object');
    assert.equal(envelopeProblem(message({ content: [1] })), 'its content is an array, not an object');
    assert.equal(envelopeProblem(message({ content: null })), 'its content is null, not an object');
    assert.equal(envelopeProblem(message({ metadata: 3 })), 'its metadata is the number 3, not an object');
  });

  test('request contents are checked field by field; optional fields may be null', () => {
    assert.equal(contentProblem(message({ content: { code: 5 } })), 'its content\'s "code" is the number 5, not a string');
    assert.equal(contentProblem(message({ content: {} })), 'its content has no "code"');
    assert.equal(contentProblem(message({ content: { code: '1', silent: 'yes' } })), 'its content\'s "silent" is a string, not a boolean');
    assert.equal(contentProblem(message({ content: { code: '1', silent: null, user_expressions: null } })), undefined);
    const complete = createMessage('s', 'complete_request', { code: 'x', cursor_pos: 1.5 });
    assert.equal(contentProblem(complete), 'its content\'s "cursor_pos" is a number, not an integer');
    // Types this kernel does not read are not checked beyond the envelope.
    assert.equal(contentProblem(createMessage('s', 'debug_request', { anything: 1 })), undefined);
  });

  test('decode keeps a null content for validation to refuse; JSON that does not parse is a WireError', () => {
    const signer = new Signer('key');
    const frames = encode(createMessage('s', 'execute_request', null), signer);
    assert.equal(envelopeProblem(decode(frames, signer)), 'its content is null, not an object');
    const bad = [Buffer.from('<IDS|MSG>'), Buffer.from(''), Buffer.from('{oops'), Buffer.from('{}'), Buffer.from('{}'), Buffer.from('{}')];
    bad[1] = Buffer.from(signer.sign(bad.slice(2)));
    assert.throws(() => decode(bad, signer), /message whose header is not JSON/);
  });
});

describe('replay refusal', () => {
  test('a signature is admitted once; unsigned messages always pass', () => {
    const guard = new ReplayGuard();
    assert.equal(guard.admit('abc'), true);
    assert.equal(guard.admit('abc'), false);
    assert.equal(guard.admit(''), true);
    assert.equal(guard.admit(''), true);
  });

  test('when full, the oldest tenth is forgotten', () => {
    const guard = new ReplayGuard(100);
    for (let i = 0; i <= 100; i++) assert.equal(guard.admit(`s${i}`), true);
    // 101 > 100: s0..s9 were forgotten, s10 on are still known.
    assert.equal(guard.admit('s0'), true);
    assert.equal(guard.admit('s50'), false);
  });
});

describe('process guard', () => {
  const script = `
    const { ProcessGuard, ProcessExitError } = require(${JSON.stringify(path.join(__dirname, '..', 'kernel', 'process-guard.ts'))});
    const seen = [];
    const guard = new ProcessGuard((error, kind) => seen.push(kind + ': ' + (error && error.message)), (line) => seen.push('log: ' + line.split(':')[0]));
    guard.install();
    // What Emscripten's glue does: handlers that rethrow.
    process.on('uncaughtException', (e) => { throw e; });
    process.on('unhandledRejection', (r) => { throw r; });
    // What its _dispose does: remove every listener it saw.
    for (const l of process.listeners('uncaughtException')) process.removeListener('uncaughtException', l);
    process.removeAllListeners('unhandledRejection');
    let refused;
    try { process.exit(3); } catch (e) { refused = e instanceof ProcessExitError && e.message; }
    setTimeout(() => { throw new Error('from a timer'); }, 1);
    Promise.reject(new Error('nobody awaited'));
    setTimeout(() => {
      console.log(JSON.stringify({ seen, refused, listeners: process.listenerCount('uncaughtException') + process.listenerCount('unhandledRejection') }));
      guard.exit(0);
    }, 50);
  `;

  test("foreign handlers are set aside, the kernel's stay, errors reach the kernel, process.exit is refused", () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', cwd: path.join(__dirname, '..') });
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.deepEqual(result.seen.filter((s: string) => !s.startsWith('log:')).sort(), [
      'uncaughtException: from a timer',
      'unhandledRejection: nobody awaited',
    ]);
    assert.ok(result.seen.includes("log: set aside a process.on('uncaughtException') listener (added by [eval]"), result.seen.join('\n'));
    assert.equal(result.listeners, 2);
    assert.match(result.refused, /^process\.exit\(3\) would end the kernel/);
  });
});
