/**
 * How tslab-dl reaches the network (lib/net/http.ts) and how downloads tell "offline" from "broken",
 * against real servers on 127.0.0.1 only, no mocked fetch: a plain server, a refused port, a
 * server that accepts connections and never answers, a forward proxy (absolute-form GET and
 * CONNECT) written here with node:http, an HTTPS server with the self-signed certificate in
 * test/fixtures/network/ (made once with openssl, see its README), and a Zenodo impersonator for
 * fetchDollarStreet. Every environment variable a test sets is restored after it.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { downloadFile } from '../lib/net/download';
import { DownloadError, DownloadFailure, isOffline, ValueError } from '../lib/core/errors';
import { classifyNetworkError, networkFetch } from '../lib/net/http';
import { fetchDollarStreet } from '../lib/data/fetch';
import { encodeNpy } from '../lib/data/npy';
import { getWeightsFile } from '../lib/weights/imagenet';

const FIXTURES = path.join(__dirname, 'fixtures', 'network');
const CERT_FILE = path.join(FIXTURES, 'self-signed-cert.pem');
const KEY_FILE = path.join(FIXTURES, 'self-signed-key.pem');

/** Variables that change how the network is reached: cleared before each test, restored after it. */
const ENV_KEYS = [
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'http_proxy',
  'https_proxy',
  'NO_PROXY',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'TSLAB_DL_CONNECT_TIMEOUT_MS',
  'TSLAB_DL_IDLE_TIMEOUT_MS',
  'TSLAB_DL_ZENODO_URL',
];
const savedEnv: { [key: string]: string | undefined } = {};
beforeEach(() => {
  for (const key of ENV_KEYS) {
    savedEnv[key] = process.env[key];
    delete process.env[key];
  }
});
afterEach(() => {
  for (const key of ENV_KEYS) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
});

const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');
const body = randomBytes(200_000);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-network-'));
let dirCount = 0;
/** A fresh destination folder per use. */
const freshDir = () => path.join(tmp, `d${++dirCount}`);
const leftovers = (folder: string) => (fs.existsSync(folder) ? fs.readdirSync(folder).filter((f) => f.includes('.part-')) : []);

/** Closes a server and every socket it holds (including CONNECT tunnels, which http.Server no longer tracks). */
function closer(server: net.Server, sockets: Set<net.Socket>) {
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** Serves `routes` (404 otherwise) over http or, with the fixture certificate, https. */
async function fileServer(routes: { [path: string]: Buffer }, secure = false) {
  const requests: string[] = [];
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    requests.push(req.url ?? '');
    const route = routes[req.url ?? ''];
    if (!route) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'content-length': route.length }).end(route);
  };
  const server = secure
    ? https.createServer({ cert: fs.readFileSync(CERT_FILE), key: fs.readFileSync(KEY_FILE) }, handler)
    : http.createServer(handler);
  const close = closer(server, new Set());
  const port = await listen(server);
  return { url: `${secure ? 'https' : 'http'}://127.0.0.1:${port}`, requests, close };
}

/** A port nothing listens on. */
async function refusedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Checks a failed download: a DownloadError with `reason`, and nothing left at or next to dest. */
async function expectReason(
  promise: Promise<unknown>,
  reason: DownloadFailure,
  dest: string,
  ...patterns: RegExp[]
): Promise<DownloadError> {
  let error: DownloadError | undefined;
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof DownloadError, `expected a DownloadError, got ${e}`);
    assert.equal(e.reason, reason, e.message);
    assert.ok(e.message.includes(`save it as ${path.resolve(dest)}`), `names where to put a manual copy: ${e.message}`);
    for (const pattern of patterns) assert.match(e.message, pattern);
    error = e;
    return true;
  });
  assert.equal(fs.existsSync(dest), false, 'no file at dest');
  assert.deepEqual(leftovers(path.dirname(dest)), [], 'no temporary file');
  return error!;
}

let plain: Awaited<ReturnType<typeof fileServer>>;
let secure: Awaited<ReturnType<typeof fileServer>>;
before(async () => {
  plain = await fileServer({ '/file.bin': body });
  secure = await fileServer({ '/file.bin': body }, true);
});
after(async () => {
  await plain.close();
  await secure.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('networkFetch and downloadFile: online, offline, broken', () => {
  test('(a) online: networkFetch answers, downloadFile saves the verified file', async () => {
    const response = await networkFetch(`${plain.url}/file.bin`);
    assert.equal(response.status, 200);
    assert.ok(Buffer.from(await response.arrayBuffer()).equals(body));
    const dest = path.join(freshDir(), 'file.bin');
    const result = await downloadFile(`${plain.url}/file.bin`, dest, { md5: md5(body) });
    assert.equal(result.bytes, body.length);
    assert.ok(fs.readFileSync(dest).equals(body));
    assert.deepEqual(leftovers(path.dirname(dest)), []);
  });

  test('(b) a refused connection is offline, at once', async () => {
    const url = `http://127.0.0.1:${await refusedPort()}/file.bin`;
    const dest = path.join(freshDir(), 'file.bin');
    const started = Date.now();
    const e = await expectReason(
      downloadFile(url, dest),
      'offline',
      dest,
      /could not connect \(.*ECONNREFUSED/,
      /the network could not be reached/,
    );
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    assert.ok(isOffline(e));
    assert.equal(e.url, url);
    const classified = await networkFetch(url).then(
      () => assert.fail('expected a failure'),
      (error) => classifyNetworkError(error),
    );
    assert.equal(classified.kind, 'offline');
    assert.equal(classified.code, 'ECONNREFUSED');
    // getWeightsFile wraps the error with its own message and keeps the reason.
    const spec = { fileName: 'w.h5', url: 'https://example.org/w.h5' };
    const caches = { kerasCacheDir: freshDir(), cacheDir: freshDir() };
    await assert.rejects(
      getWeightsFile(spec, { ...caches, baseUrl: url.replace('file.bin', '') }),
      (e: unknown) => isOffline(e) && /Could not get w\.h5/.test((e as Error).message),
    );
  });

  test('(c) a server that accepts connections and never answers is offline after TSLAB_DL_CONNECT_TIMEOUT_MS (http and https)', async () => {
    const silent = net.createServer(() => undefined); // accepts, reads nothing, writes nothing
    const close = closer(silent, new Set());
    const port = await listen(silent);
    process.env.TSLAB_DL_CONNECT_TIMEOUT_MS = '300';
    try {
      for (const [scheme, code] of [
        ['http', /UND_ERR_HEADERS_TIMEOUT/],
        ['https', /UND_ERR_CONNECT_TIMEOUT/],
      ] as const) {
        const url = `${scheme}://127.0.0.1:${port}/file.bin`;
        const dest = path.join(freshDir(), 'file.bin');
        const started = Date.now();
        await expectReason(downloadFile(url, dest), 'offline', dest, code, /TSLAB_DL_CONNECT_TIMEOUT_MS = 300 ms/);
        const elapsed = Date.now() - started;
        assert.ok(elapsed < 3000, `${scheme}: gave up after ${elapsed} ms`);
      }
    } finally {
      await close();
    }
  });

  test('(d) a wrong md5 is a checksum failure; no file, no .part file', async () => {
    const dest = path.join(freshDir(), 'file.bin');
    const wrong = '0123456789abcdef0123456789abcdef';
    await expectReason(
      downloadFile(`${plain.url}/file.bin`, dest, { md5: wrong }),
      'checksum',
      dest,
      new RegExp(`expected md5 ${wrong}, got ${md5(body)}`),
    );
    assert.deepEqual(fs.readdirSync(path.dirname(dest)), []);
  });
});

describe('(e) proxies: HTTP_PROXY / HTTPS_PROXY are used, NO_PROXY bypasses them', () => {
  /** A forward proxy: absolute-form requests for http://, CONNECT tunnels for https://. */
  const seen: string[] = [];
  /** Answer CONNECT with 403, as a firewall's proxy does for a site it blocks. */
  let refuseTunnels = false;
  let proxyUrl = '';
  let closeProxy: () => Promise<void>;

  before(async () => {
    const proxy = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const upstream = http.request(req.url!, { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.writeHead(502).end());
      req.pipe(upstream);
    });
    proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      seen.push(`CONNECT ${req.url}`);
      if (refuseTunnels) return void client.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
      const [host, port] = (req.url ?? '').split(':');
      const upstream = net.connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    closeProxy = closer(proxy, new Set());
    proxyUrl = `http://127.0.0.1:${await listen(proxy)}`;
  });
  after(() => closeProxy());
  beforeEach(() => {
    seen.length = 0;
  });

  test('http:// goes through HTTP_PROXY as an absolute-form GET', async () => {
    process.env.HTTP_PROXY = proxyUrl;
    const dest = path.join(freshDir(), 'file.bin');
    await downloadFile(`${plain.url}/file.bin`, dest, { md5: md5(body) });
    assert.deepEqual(seen, [`GET ${plain.url}/file.bin`]);
    assert.ok(fs.readFileSync(dest).equals(body));
  });

  test('https:// goes through HTTPS_PROXY in a CONNECT tunnel (the origin certificate checked end to end)', async () => {
    process.env.HTTPS_PROXY = proxyUrl;
    const dest = path.join(freshDir(), 'file.bin');
    // Inside the tunnel the origin's certificate is still checked, against NODE_EXTRA_CA_CERTS too.
    await expectReason(downloadFile(`${secure.url}/file.bin`, dest), 'certificate', dest, /NODE_EXTRA_CA_CERTS/);
    process.env.NODE_EXTRA_CA_CERTS = CERT_FILE;
    await downloadFile(`${secure.url}/file.bin`, dest, { md5: md5(body) });
    assert.deepEqual(seen, [`CONNECT ${new URL(secure.url).host}`, `CONNECT ${new URL(secure.url).host}`]);
    assert.ok(fs.readFileSync(dest).equals(body));
  });

  test('NO_PROXY=127.0.0.1 bypasses the proxy', async () => {
    process.env.HTTP_PROXY = proxyUrl;
    process.env.HTTPS_PROXY = proxyUrl;
    process.env.NO_PROXY = '127.0.0.1';
    const dest = path.join(freshDir(), 'file.bin');
    await downloadFile(`${plain.url}/file.bin`, dest, { md5: md5(body) });
    assert.deepEqual(seen, []);
    assert.ok(fs.readFileSync(dest).equals(body));
  });

  test('a proxy that accepts connections and never answers is offline after TSLAB_DL_CONNECT_TIMEOUT_MS (http and https)', async () => {
    const silent = net.createServer(() => undefined);
    const close = closer(silent, new Set());
    const silentUrl = `http://127.0.0.1:${await listen(silent)}`;
    process.env.HTTP_PROXY = silentUrl;
    process.env.HTTPS_PROXY = silentUrl;
    process.env.TSLAB_DL_CONNECT_TIMEOUT_MS = '300';
    try {
      for (const url of [`${plain.url}/file.bin`, `${secure.url}/file.bin`]) {
        const dest = path.join(freshDir(), 'file.bin');
        const started = Date.now();
        await expectReason(downloadFile(url, dest), 'offline', dest, /UND_ERR_HEADERS_TIMEOUT/, /check the proxy/);
        assert.ok(Date.now() - started < 3000, `${url}: gave up after ${Date.now() - started} ms`);
      }
    } finally {
      await close();
    }
  });

  test('a proxy that refuses the connection, or the tunnel, is offline, and the message names it', async () => {
    process.env.HTTP_PROXY = `http://127.0.0.1:${await refusedPort()}`;
    const dest = path.join(freshDir(), 'file.bin');
    await expectReason(
      downloadFile(`${plain.url}/file.bin`, dest),
      'offline',
      dest,
      /ECONNREFUSED/,
      /check the proxy: HTTP_PROXY=http:\/\/127\.0\.0\.1:\d+/,
    );
    process.env.HTTPS_PROXY = proxyUrl;
    refuseTunnels = true;
    try {
      await expectReason(
        downloadFile(`${secure.url}/file.bin`, dest),
        'offline',
        dest,
        /the proxy refused the connection \(HTTP 403\)/,
        /HTTPS_PROXY=/,
      );
    } finally {
      refuseTunnels = false;
    }
    assert.deepEqual(seen, [`CONNECT ${new URL(secure.url).host}`]);
  });
});

describe('(f) certificates: an HTTPS server the default trust store does not know', () => {
  test('fails with reason certificate and says to set NODE_EXTRA_CA_CERTS; succeeds once it names the certificate', async () => {
    const url = `${secure.url}/file.bin`;
    const dest = path.join(freshDir(), 'file.bin');
    await expectReason(
      downloadFile(url, dest),
      'certificate',
      dest,
      new RegExp(
        `the certificate of 127\\.0\\.0\\.1:\\d+ could not be verified \\((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)\\)`,
      ),
      /A firewall or proxy that inspects HTTPS is the usual cause: set NODE_EXTRA_CA_CERTS/,
      /process\.env\.NODE_EXTRA_CA_CERTS = '\/path\/ca\.pem'/,
      /HTTPS_PROXY if a proxy is needed; or download/,
    );
    process.env.NODE_EXTRA_CA_CERTS = CERT_FILE; // set after start-up, as in a notebook cell
    const result = await downloadFile(url, dest, { md5: md5(body) });
    assert.equal(result.bytes, body.length);
    assert.ok(fs.readFileSync(dest).equals(body));
  });

  test('an unreadable NODE_EXTRA_CA_CERTS file is a ValueError naming it; nothing is left', async () => {
    const missing = path.join(tmp, 'no-such-ca.pem');
    process.env.NODE_EXTRA_CA_CERTS = missing;
    const dest = path.join(freshDir(), 'file.bin');
    await assert.rejects(
      downloadFile(`${secure.url}/file.bin`, dest),
      (e: unknown) => e instanceof ValueError && e.message.includes(missing) && /ENOENT/.test(e.message),
    );
    assert.deepEqual(leftovers(path.dirname(dest)), []);
    assert.equal(fs.existsSync(dest), false);
  });
});

describe('(g) fetchDollarStreet against a Zenodo impersonator (record with md5s, then the files)', () => {
  const NAMES = ['train_images.npy', 'train_labels.npy', 'test_images.npy', 'test_labels.npy'];
  const files: { [name: string]: Buffer } = {
    'train_images.npy': encodeNpy(
      Int32Array.from({ length: 4 * 8 * 8 * 3 }, (_, i) => i % 256),
      [4, 8, 8, 3],
    ),
    'train_labels.npy': encodeNpy(Int32Array.from([0, 1, 2, 3]), [4]),
    'test_images.npy': encodeNpy(
      Int32Array.from({ length: 2 * 8 * 8 * 3 }, (_, i) => (i * 7) % 256),
      [2, 8, 8, 3],
    ),
    'test_labels.npy': encodeNpy(Int32Array.from([4, 5]), [2]),
  };
  /** md5s the record publishes; a test may falsify one. */
  let published: { [name: string]: string } = {};
  const requests: string[] = [];
  let zenodoUrl = '';
  let close: () => Promise<void>;

  before(async () => {
    const server = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/api/records/10970014') {
        const record = {
          id: 10970014,
          files: NAMES.map((key) => ({
            key,
            size: files[key].length,
            checksum: `md5:${published[key]}`,
            links: { self: `${zenodoUrl}/api/records/10970014/files/${key}/content` },
          })),
        };
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(record));
      }
      const name = (req.url ?? '').replace('/records/10970014/files/', '');
      if (!files[name]) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': files[name].length }).end(files[name]);
    });
    close = closer(server, new Set());
    zenodoUrl = `http://127.0.0.1:${await listen(server)}`;
  });
  after(() => close());
  beforeEach(() => {
    requests.length = 0;
    published = Object.fromEntries(NAMES.map((name) => [name, md5(files[name])]));
  });

  test('reads the record, downloads the four files and verifies their md5', async () => {
    const folder = freshDir();
    process.env.TSLAB_DL_ZENODO_URL = zenodoUrl;
    const result = await fetchDollarStreet(folder, { verbose: false });
    assert.deepEqual(requests, ['/api/records/10970014', ...NAMES.map((name) => `/records/10970014/files/${name}`)]);
    assert.deepEqual(
      result.files.map((f) => f.action),
      ['downloaded', 'downloaded', 'downloaded', 'downloaded'],
    );
    for (const name of NAMES) assert.ok(fs.readFileSync(path.join(folder, name)).equals(files[name]), name);
    assert.deepEqual(result.files[0].shape, [4, 8, 8, 3]);
  });

  test('a file whose md5 differs from the record is refused: checksum, and the folder is left without it', async () => {
    const folder = freshDir();
    published['train_labels.npy'] = '0123456789abcdef0123456789abcdef';
    await assert.rejects(fetchDollarStreet(folder, { zenodoUrl, verbose: false }), (e: unknown) => {
      assert.ok(e instanceof DownloadError);
      assert.equal(e.reason, 'checksum');
      assert.equal(e.url, `${zenodoUrl}/records/10970014/files/train_labels.npy`);
      assert.match(e.message, /expected md5 0123456789abcdef0123456789abcdef/);
      return true;
    });
    assert.deepEqual(fs.readdirSync(folder), ['train_images.npy']);
  });

  test(
    'a record whose answer stalls half way fails after TSLAB_DL_IDLE_TIMEOUT_MS, naming the API URL and the limit',
    { timeout: 10_000 },
    async () => {
      const stalling = http.createServer((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 10_000 });
        res.write('{"id": 10970014, "files": [');
      });
      const close = closer(stalling, new Set());
      const url = `http://127.0.0.1:${await listen(stalling)}`;
      process.env.TSLAB_DL_IDLE_TIMEOUT_MS = '300';
      const folder = freshDir();
      const started = Date.now();
      try {
        await assert.rejects(fetchDollarStreet(folder, { zenodoUrl: url, verbose: false }), (e: unknown) => {
          assert.ok(e instanceof DownloadError, String(e));
          assert.equal(e.reason, 'incomplete');
          assert.equal(e.url, `${url}/api/records/10970014`);
          assert.match(
            e.message,
            /^Could not read the Zenodo record http:\/\/127\.0\.0\.1:\d+\/api\/records\/10970014 .*: no data arrived for 0\.3 s \(TSLAB_DL_IDLE_TIMEOUT_MS = 300 ms\): the server or the network stalled\./,
          );
          return true;
        });
      } finally {
        await close();
      }
      assert.ok(Date.now() - started < 3000, `gave up after ${Date.now() - started} ms`);
      assert.equal(fs.existsSync(path.join(folder, 'train_images.npy')), false);
    },
  );

  test('a record that cannot be reached is offline, and nothing is downloaded', async () => {
    const folder = freshDir();
    const offline = `http://127.0.0.1:${await refusedPort()}`;
    await assert.rejects(fetchDollarStreet(folder, { zenodoUrl: offline, verbose: false }), (e: unknown) => {
      assert.ok(isOffline(e), String(e));
      assert.equal((e as DownloadError).url, `${offline}/api/records/10970014`);
      assert.match((e as Error).message, /could not connect \(.*ECONNREFUSED.*save them in /);
      return true;
    });
    assert.equal(fs.existsSync(path.join(folder, 'train_images.npy')), false);
  });
});
