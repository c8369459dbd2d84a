/**
 * A weights server for download tests: a real HTTP server on 127.0.0.1 answering file names from
 * `routes` (404 otherwise) and recording the names asked for; each test gets empty Keras and
 * tslab-dl caches of its own and downloads from this server (KERAS_HOME, TSLAB_DL_CACHE,
 * TSLAB_DL_WEIGHTS_BASE_URL), restored after the suite. Call it inside a describe.
 */
import { after, before, beforeEach } from 'node:test';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface WeightsServer {
  /** The download base URL (set once the suite starts). */
  base: string;
  /** A folder of the suite's own, removed after it. */
  root: string;
  /** File names asked for since the current test began. */
  requests: string[];
  /** What the server answers, by file name. */
  readonly routes: Map<string, (res: http.ServerResponse) => void>;
  /** Answers `name` with `bytes`. */
  serveBytes(name: string, bytes: Buffer): void;
}

const ENV_KEYS = ['KERAS_HOME', 'TSLAB_DL_CACHE', 'TSLAB_DL_WEIGHTS_BASE_URL'];

/** `label` names the temporary folder; the URL ends in `/${urlFolder}/`. */
export function useWeightsServer(label: string, urlFolder: string): WeightsServer {
  const savedEnv = { ...process.env };
  let server: http.Server;
  const handle: WeightsServer = {
    base: '',
    root: '',
    requests: [],
    routes: new Map(),
    serveBytes(name, bytes) {
      handle.routes.set(name, (res) => res.writeHead(200, { 'content-length': bytes.length }).end(bytes));
    },
  };

  before(async () => {
    handle.root = fs.mkdtempSync(path.join(os.tmpdir(), `tslab-dl-${label}-`));
    server = http.createServer((req, res) => {
      const name = decodeURIComponent(path.basename(req.url ?? ''));
      handle.requests.push(name);
      const route = handle.routes.get(name);
      if (route) route(res);
      else res.writeHead(404).end('not found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    handle.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${urlFolder}/`;
  });

  beforeEach(() => {
    handle.requests = [];
    const home = fs.mkdtempSync(path.join(handle.root, 'home-'));
    process.env.KERAS_HOME = path.join(home, 'keras');
    process.env.TSLAB_DL_CACHE = path.join(home, 'tslab-dl');
    process.env.TSLAB_DL_WEIGHTS_BASE_URL = handle.base;
  });

  after(() => {
    server.close();
    fs.rmSync(handle.root, { recursive: true, force: true });
    for (const key of ENV_KEYS) {
      if (savedEnv[key] === undefined) delete process.env[key];
      else process.env[key] = savedEnv[key];
    }
  });

  return handle;
}
