/**
 * downloadFile against a real HTTP server on 127.0.0.1: success, a connection
 * dropped half way (then a retry that succeeds), 404, wrong md5, short bodies,
 * aborts and kernel interrupts (which close the connection, even while the server
 * stalls), the idle timeout, bodies that fail their Content-Encoding. After every
 * failure: no destination file, no temporary file, and an error naming the URL
 * and where to put a manual copy. TSLAB_DL_IDLE_TIMEOUT_MS is restored after each test.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as zlib from 'node:zlib';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KERNEL_HOOK } from '../lib/notebook/kernel-hook';
import { DownloadError, InterruptedError, ValueError } from '../lib/core/errors';
import { downloadFile, md5File } from '../lib/net/download';

interface Route {
  body: Buffer;
  status?: number;
  /** Send this many bytes, then cut the connection (for the first `dropTimes` requests). */
  dropAfter?: number;
  dropTimes?: number;
  /** Send this many bytes, then keep the connection open without sending more. */
  stallAfter?: number;
  /** Announce a Content-Length different from the body's. */
  announce?: number;
  /** Send this Content-Encoding header with the body as given (no Content-Length); with `keepOpen`, never end it. */
  encoding?: string;
  keepOpen?: boolean;
}

/** A real HTTP server on 127.0.0.1 that counts the requests to each path. */
async function startServer(routes: { [path: string]: Route }) {
  const counts = new Map<string, number>();
  const acceptEncodings: string[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    const route = routes[req.url ?? ''];
    const count = (counts.get(req.url!) ?? 0) + 1;
    counts.set(req.url!, count);
    acceptEncodings.push(String(req.headers['accept-encoding']));
    if (route?.encoding) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-encoding': route.encoding });
      if (route.keepOpen) res.write(route.body);
      else res.end(route.body);
      return;
    }
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    if (route.status && route.status !== 200) {
      res.writeHead(route.status).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': route.announce ?? route.body.length });
    if (route.dropAfter !== undefined && count <= (route.dropTimes ?? Infinity)) {
      res.write(route.body.subarray(0, route.dropAfter), () => setTimeout(() => res.socket?.destroy(), 20));
    } else if (route.stallAfter !== undefined) {
      res.write(route.body.subarray(0, route.stallAfter));
    } else if (route.announce !== undefined && route.announce > route.body.length) {
      res.write(route.body, () => setTimeout(() => res.socket?.destroy(), 20));
    } else {
      res.end(route.body);
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    acceptEncodings,
    /** Connections the client has not closed (the server never closes a stalled one). */
    openConnections: () => sockets.size,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');
const body = randomBytes(300_000);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-download-'));
let server: Awaited<ReturnType<typeof startServer>>;

before(async () => {
  server = await startServer({
    '/file.bin': { body },
    '/drop.bin': { body, dropAfter: 100_000 },
    '/drop-once.bin': { body, dropAfter: 150_000, dropTimes: 1 },
    '/missing.bin': { body, status: 404 },
    '/error.bin': { body, status: 503 },
    '/stall.bin': { body, stallAfter: 50_000 },
    '/short.bin': { body: body.subarray(0, 1000), announce: 2000 },
    '/headers-only.bin': { body, stallAfter: 0 },
    '/gzip-good.bin': { body: zlib.gzipSync(body), encoding: 'gzip' },
    '/gzip-not-gzip.bin': { body, encoding: 'gzip' },
    '/gzip-truncated.bin': { body: zlib.gzipSync(body).subarray(0, 5000), encoding: 'gzip', keepOpen: true },
  });
});

const savedIdle = process.env.TSLAB_DL_IDLE_TIMEOUT_MS;
beforeEach(() => {
  delete process.env.TSLAB_DL_IDLE_TIMEOUT_MS;
});
afterEach(() => {
  if (savedIdle === undefined) delete process.env.TSLAB_DL_IDLE_TIMEOUT_MS;
  else process.env.TSLAB_DL_IDLE_TIMEOUT_MS = savedIdle;
});

/** Waits until the client has closed every connection to the server (at most `ms`). */
async function connectionsClosed(ms = 1000): Promise<number> {
  const until = Date.now() + ms;
  while (server.openConnections() > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
  return server.openConnections();
}
after(async () => {
  await server.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Files in a folder whose name marks them as temporary downloads. */
const leftovers = (folder: string) => (fs.existsSync(folder) ? fs.readdirSync(folder).filter((f) => f.includes('.part-')) : []);

/** Checks a failed download: the error, and that nothing was left at (or next to) dest. */
async function expectFailure(promise: Promise<unknown>, url: string, dest: string, ...patterns: RegExp[]) {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof DownloadError, `expected a DownloadError, got ${e}`);
    assert.equal(e.url, url);
    assert.ok(e.message.includes(url), `message names the URL: ${e.message}`);
    assert.ok(e.message.includes(`save it as ${path.resolve(dest)}`), `message says where to put a manual copy: ${e.message}`);
    for (const pattern of patterns) assert.match(e.message, pattern);
    return true;
  });
  assert.deepEqual(leftovers(path.dirname(dest)), [], 'no temporary file is left');
}

describe('downloadFile', () => {
  test('downloads into a new folder; returns path, size and md5; leaves no temporary file', async () => {
    const dest = path.join(tmp, 'ok', 'nested', 'file.bin');
    const result = await downloadFile(`${server.url}/file.bin`, dest, { md5: md5(body).toUpperCase() });
    assert.deepEqual(result, { path: path.resolve(dest), bytes: body.length, md5: md5(body) });
    assert.ok(fs.readFileSync(dest).equals(body));
    assert.deepEqual(leftovers(path.dirname(dest)), []);
    assert.equal(await md5File(dest), md5(body));
  });

  test('a connection dropped half way: an error, no file; the retry succeeds', async () => {
    const dest = path.join(tmp, 'drop', 'file.bin');
    await expectFailure(
      downloadFile(`${server.url}/drop.bin`, dest),
      `${server.url}/drop.bin`,
      dest,
      /the connection dropped after 97\.7 KiB of 293\.0 KiB/,
    );
    assert.equal(fs.existsSync(dest), false);

    const once = `${server.url}/drop-once.bin`;
    await expectFailure(downloadFile(once, dest), once, dest, /connection dropped/);
    const retry = await downloadFile(once, dest);
    assert.equal(retry.bytes, body.length);
    assert.ok(fs.readFileSync(dest).equals(body));
    assert.equal(server.counts.get('/drop-once.bin'), 2);
  });

  test('a failed download leaves an existing file untouched', async () => {
    const dest = path.join(tmp, 'keep', 'file.bin');
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, 'the old copy');
    await expectFailure(downloadFile(`${server.url}/drop.bin`, dest), `${server.url}/drop.bin`, dest);
    assert.equal(fs.readFileSync(dest, 'utf8'), 'the old copy');
  });

  test('HTTP errors name the status and the URL', async () => {
    const dest = path.join(tmp, 'status', 'file.bin');
    await expectFailure(
      downloadFile(`${server.url}/missing.bin`, dest),
      `${server.url}/missing.bin`,
      dest,
      /the server answered HTTP 404 Not Found/,
    );
    await expectFailure(downloadFile(`${server.url}/error.bin`, dest), `${server.url}/error.bin`, dest, /HTTP 503 Service Unavailable/);
    assert.equal(fs.existsSync(dest), false);
  });

  test('a wrong md5 names the expected and the actual checksum', async () => {
    const dest = path.join(tmp, 'md5', 'file.bin');
    const wrong = '0123456789abcdef0123456789abcdef';
    await expectFailure(
      downloadFile(`${server.url}/file.bin`, dest, { md5: wrong }),
      `${server.url}/file.bin`,
      dest,
      new RegExp(`expected md5 ${wrong}, got ${md5(body)}`),
      new RegExp(`its md5 must be ${wrong}`),
    );
    assert.equal(fs.existsSync(dest), false);
  });

  test('a body shorter than announced, or than expectedBytes, is refused', async () => {
    const dest = path.join(tmp, 'short', 'file.bin');
    await expectFailure(
      downloadFile(`${server.url}/short.bin`, dest),
      `${server.url}/short.bin`,
      dest,
      /the connection dropped after 1000 bytes of 2\.0 KiB/,
    );
    await expectFailure(
      downloadFile(`${server.url}/file.bin`, dest, { expectedBytes: body.length + 1 }),
      `${server.url}/file.bin`,
      dest,
      new RegExp(`received ${body.length} bytes, but ${body.length + 1} were expected`),
    );
  });

  test('a server that cannot be reached', async () => {
    const closed = await startServer({});
    const url = `${closed.url}/file.bin`;
    await closed.close();
    const dest = path.join(tmp, 'refused', 'file.bin');
    await expectFailure(downloadFile(url, dest), url, dest, /could not connect \(.*ECONNREFUSED/);
  });

  test('an abort stops the download, closes its connection and removes the temporary file', async () => {
    const dest = path.join(tmp, 'abort', 'file.bin');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    await expectFailure(
      downloadFile(`${server.url}/stall.bin`, dest, { signal: controller.signal }),
      `${server.url}/stall.bin`,
      dest,
      /the download was aborted after 48\.8 KiB/,
    );
    assert.equal(await connectionsClosed(), 0, 'the connection was closed');
  });

  test(
    'a kernel interrupt while the server stalls aborts the request itself: InterruptedError at once, connection closed, no .part',
    { timeout: 10_000 },
    async () => {
      const dest = path.join(tmp, 'interrupt-stalled', 'file.bin');
      const shown: unknown[] = [];
      const hook = { display: (data: unknown) => shown.push(data), interruptRequested: false };
      (globalThis as any)[KERNEL_HOOK] = hook;
      let interruptedAt = 0;
      setTimeout(() => {
        hook.interruptRequested = true; // what the kernel does when the user presses the button
        interruptedAt = Date.now();
      }, 300);
      try {
        await assert.rejects(downloadFile(`${server.url}/stall.bin`, dest), (e: unknown) => {
          assert.ok(e instanceof InterruptedError, `got ${e}`);
          assert.equal(e.message, 'Downloading file.bin was interrupted.');
          return true;
        });
      } finally {
        delete (globalThis as any)[KERNEL_HOOK];
      }
      const reaction = Date.now() - interruptedAt;
      assert.ok(reaction < 1000, `stopped ${reaction} ms after the interrupt`);
      assert.ok(shown.length > 0, 'the progress was shown in the notebook');
      assert.equal(await connectionsClosed(), 0, 'the connection was closed');
      assert.equal(fs.existsSync(dest), false);
      assert.deepEqual(leftovers(path.dirname(dest)), []);
    },
  );

  test('an interrupt already requested: nothing is fetched', async () => {
    const dest = path.join(tmp, 'interrupt', 'file.bin');
    const before = server.counts.get('/file.bin');
    (globalThis as any)[KERNEL_HOOK] = { display: () => undefined, interruptRequested: true };
    try {
      await assert.rejects(downloadFile(`${server.url}/file.bin`, dest), InterruptedError);
    } finally {
      delete (globalThis as any)[KERNEL_HOOK];
    }
    assert.equal(server.counts.get('/file.bin'), before);
    assert.equal(fs.existsSync(dest), false);
    assert.deepEqual(leftovers(path.dirname(dest)), []);
  });

  test('validate() runs before the rename; throwing rejects the file', async () => {
    const dest = path.join(tmp, 'validate', 'file.bin');
    let checked = '';
    await expectFailure(
      downloadFile(`${server.url}/file.bin`, dest, {
        validate: (temporary) => {
          checked = temporary;
          assert.equal(fs.statSync(temporary).size, body.length);
          throw new Error('it is not what we wanted');
        },
      }),
      `${server.url}/file.bin`,
      dest,
      /the file received failed its check: it is not what we wanted/,
    );
    assert.match(path.basename(checked), new RegExp(`^file\\.bin\\.part-${process.pid}-[0-9a-f]{8}$`));
    assert.equal(fs.existsSync(dest), false);
  });

  test('the file is asked for uncompressed (Accept-Encoding: identity)', async () => {
    server.acceptEncodings.length = 0;
    await downloadFile(`${server.url}/file.bin`, path.join(tmp, 'identity', 'file.bin'));
    assert.deepEqual(server.acceptEncodings, ['identity']);
  });

  test('arguments are checked before anything is fetched', async () => {
    const before = server.counts.get('/file.bin');
    await assert.rejects(downloadFile('not a url', path.join(tmp, 'x')), ValueError);
    await assert.rejects(downloadFile('ftp://127.0.0.1/file.bin', path.join(tmp, 'x')), /only http: and https: URLs/);
    await assert.rejects(
      downloadFile(`${server.url}/file.bin`, path.join(tmp, 'x'), { md5: 'abc' }),
      /options\.md5\): must be 32 hex digits\. Received "abc"/,
    );
    await assert.rejects(downloadFile(`${server.url}/file.bin`, ''), /dest must be a file path/);
    assert.equal(server.counts.get('/file.bin'), before);
  });
});

describe('a server that stalls: the idle timeout (TSLAB_DL_IDLE_TIMEOUT_MS)', () => {
  test(
    'no byte for the idle timeout after part of the body: incomplete, naming the URL and the limit; connection closed',
    { timeout: 10_000 },
    async () => {
      process.env.TSLAB_DL_IDLE_TIMEOUT_MS = '300';
      const url = `${server.url}/stall.bin`;
      const dest = path.join(tmp, 'idle', 'file.bin');
      const started = Date.now();
      await expectFailure(
        downloadFile(url, dest),
        url,
        dest,
        /^Could not download http:\/\/127\.0\.0\.1:\d+\/stall\.bin: no data arrived for 0\.3 s \(TSLAB_DL_IDLE_TIMEOUT_MS = 300 ms\) after 48\.8 KiB of 293\.0 KiB: the server or the network stalled\./,
        /Run it again \(a stalled server often answers the next request\), or on a slow network raise TSLAB_DL_IDLE_TIMEOUT_MS; or download/,
      );
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 300 && elapsed < 2000, `gave up after ${elapsed} ms`);
      await assert.rejects(downloadFile(url, dest), (e: unknown) => e instanceof DownloadError && e.reason === 'incomplete');
      assert.equal(await connectionsClosed(), 0, 'the connection was closed');
    },
  );

  test('headers, then nothing: the same, after 0 bytes', { timeout: 10_000 }, async () => {
    process.env.TSLAB_DL_IDLE_TIMEOUT_MS = '200';
    const url = `${server.url}/headers-only.bin`;
    const dest = path.join(tmp, 'idle-headers', 'file.bin');
    await expectFailure(
      downloadFile(url, dest),
      url,
      dest,
      /no data arrived for 0\.2 s \(TSLAB_DL_IDLE_TIMEOUT_MS = 200 ms\) after 0 bytes of 293\.0 KiB/,
    );
  });

  test('a bad TSLAB_DL_IDLE_TIMEOUT_MS is a ValueError naming it, before anything is fetched', async () => {
    process.env.TSLAB_DL_IDLE_TIMEOUT_MS = '30s';
    const before = server.counts.get('/file.bin');
    await assert.rejects(
      downloadFile(`${server.url}/file.bin`, path.join(tmp, 'idle-bad', 'file.bin')),
      (e: unknown) =>
        e instanceof ValueError &&
        e.message ===
          'TSLAB_DL_IDLE_TIMEOUT_MS must be a positive whole number of milliseconds. Received "30s"; unset it for the default (30000).',
    );
    assert.equal(server.counts.get('/file.bin'), before);
  });
});

describe('Content-Encoding', () => {
  test('a body sent gzip-encoded anyway is decoded and checked', async () => {
    const dest = path.join(tmp, 'gzip-good', 'file.bin');
    const result = await downloadFile(`${server.url}/gzip-good.bin`, dest, { md5: md5(body) });
    assert.equal(result.bytes, body.length);
    assert.ok(fs.readFileSync(dest).equals(body));
  });

  test('Content-Encoding: gzip over a body that is not gzip: corrupt, naming the URL and the encoding; nothing left', async () => {
    const url = `${server.url}/gzip-not-gzip.bin`;
    const dest = path.join(tmp, 'gzip-bad', 'file.bin');
    await expectFailure(
      downloadFile(url, dest),
      url,
      dest,
      /: the server sent it with Content-Encoding: gzip, but the body is not valid gzip \(Z_DATA_ERROR: incorrect header check\) after 0 bytes \(a misconfigured server or proxy\)\./,
    );
    await assert.rejects(downloadFile(url, dest), (e: unknown) => e instanceof DownloadError && e.reason === 'corrupt');
    assert.equal(fs.existsSync(dest), false);
  });

  test('a gzip body cut short on a connection left open does not hang: the idle timeout ends it', { timeout: 10_000 }, async () => {
    process.env.TSLAB_DL_IDLE_TIMEOUT_MS = '300';
    const url = `${server.url}/gzip-truncated.bin`;
    const dest = path.join(tmp, 'gzip-truncated', 'file.bin');
    await expectFailure(
      downloadFile(url, dest),
      url,
      dest,
      /no data arrived for 0\.3 s \(TSLAB_DL_IDLE_TIMEOUT_MS = 300 ms\) after [\d.]+ KiB: the server or the network stalled/,
    );
    assert.equal(await connectionsClosed(), 0, 'the connection was closed');
  });
});

afterEach(() => {
  delete (globalThis as any)[KERNEL_HOOK];
});
