/**
 * downloadFile against a real HTTP server on 127.0.0.1: success, a connection
 * dropped half way (then a retry that succeeds), 404, wrong md5, short bodies,
 * aborts and kernel interrupts. After every failure: no destination file, no
 * temporary file, and an error naming the URL and where to put a manual copy.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KERNEL_HOOK } from '../lib/display';
import { DownloadError, InterruptedError, ValueError } from '../lib/errors';
import { downloadFile, md5File } from '../lib/download';

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
}

/** A real HTTP server on 127.0.0.1 that counts the requests to each path. */
async function startServer(routes: { [path: string]: Route }) {
  const counts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const route = routes[req.url ?? ''];
    const count = (counts.get(req.url!) ?? 0) + 1;
    counts.set(req.url!, count);
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
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
  });
});
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
    await expectFailure(downloadFile(`${server.url}/drop.bin`, dest), `${server.url}/drop.bin`, dest, /the connection dropped after 97\.7 KiB of 293\.0 KiB/);
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
    await expectFailure(downloadFile(`${server.url}/missing.bin`, dest), `${server.url}/missing.bin`, dest, /the server answered HTTP 404 Not Found/);
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
    await expectFailure(downloadFile(`${server.url}/short.bin`, dest), `${server.url}/short.bin`, dest, /the connection dropped after 1000 bytes of 2\.0 KiB/);
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

  test('an abort stops the download and removes the temporary file', async () => {
    const dest = path.join(tmp, 'abort', 'file.bin');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    await expectFailure(downloadFile(`${server.url}/stall.bin`, dest, { signal: controller.signal }), `${server.url}/stall.bin`, dest, /aborted/);
  });

  test('a kernel interrupt stops the download with an InterruptedError and removes the temporary file', async () => {
    const dest = path.join(tmp, 'interrupt', 'file.bin');
    const shown: unknown[] = [];
    (globalThis as any)[KERNEL_HOOK] = { display: (data: unknown) => shown.push(data), interruptRequested: true };
    try {
      await assert.rejects(downloadFile(`${server.url}/file.bin`, dest), InterruptedError);
    } finally {
      delete (globalThis as any)[KERNEL_HOOK];
    }
    assert.ok(shown.length > 0, 'the progress was shown in the notebook');
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

  test('arguments are checked before anything is fetched', async () => {
    const before = server.counts.get('/file.bin');
    await assert.rejects(downloadFile('not a url', path.join(tmp, 'x')), ValueError);
    await assert.rejects(downloadFile('ftp://127.0.0.1/file.bin', path.join(tmp, 'x')), /only http: and https: URLs/);
    await assert.rejects(downloadFile(`${server.url}/file.bin`, path.join(tmp, 'x'), { md5: 'abc' }), /options\.md5\): must be 32 hex digits\. Received "abc"/);
    await assert.rejects(downloadFile(`${server.url}/file.bin`, ''), /dest must be a file path/);
    assert.equal(server.counts.get('/file.bin'), before);
  });
});

afterEach(() => {
  delete (globalThis as any)[KERNEL_HOOK];
});
