// The Jupyter wire protocol: frames signed with HMAC-SHA256 over the four JSON parts (checked
// against RFC 4231's published vector), decoded back, and refused when the signature is wrong.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Signer, WireError, createMessage, decode, encode } from '../kernel/wire';

describe('Jupyter wire protocol', () => {
  test('signatures are HMAC-SHA256 of the parts (RFC 4231 test case 2)', () => {
    const signer = new Signer('Jefe', 'hmac-sha256');
    assert.equal(signer.sign(['what do ya ', 'want for nothing?']), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  test('an empty key means no signature', () => {
    assert.equal(new Signer('').sign(['anything']), '');
  });

  test('a message survives encoding, with its identities and buffers', () => {
    const signer = new Signer('secret');
    const parent = createMessage('client-session', 'execute_request', { code: '1' });
    const message = createMessage('kernel-session', 'execute_reply', { status: 'ok', execution_count: 1 }, parent, [
      Buffer.from('router-id'),
    ]);
    message.buffers = [Buffer.from([1, 2, 3])];
    const frames = encode(message, signer);
    assert.equal(frames[0].toString(), 'router-id');
    assert.equal(frames[1].toString(), '<IDS|MSG>');
    assert.equal(frames[2].toString(), signer.sign(frames.slice(3, 7)));
    const decoded = decode(frames, signer);
    assert.deepEqual(decoded, message);
    assert.equal(decoded.parent_header.msg_id, parent.header.msg_id);
    assert.equal(decoded.header.version, '5.3');
  });

  test('a wrongly signed or malformed message is refused', () => {
    const frames = encode(createMessage('s', 'kernel_info_request', {}), new Signer('right key'));
    assert.throws(
      () => decode(frames, new Signer('wrong key')),
      (e: Error) => e instanceof WireError && /invalid signature/.test(e.message),
    );
    assert.throws(() => decode([Buffer.from('no delimiter')], new Signer('k')), /delimiter/);
  });

  test('unsupported signature schemes are named', () => {
    assert.throws(() => new Signer('k', 'sha256'), /unsupported signature_scheme "sha256"/);
  });
});
