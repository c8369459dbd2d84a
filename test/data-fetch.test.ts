/**
 * fetchDollarStreet against a real HTTP server on 127.0.0.1 serving generated
 * .npy files under a Zenodo-like path, and their record (md5 and size) under
 * Zenodo's API path: download, skip what is present with the published md5,
 * replace what is truncated or different, recover after a dropped connection,
 * refuse 404s, non-.npy answers and broken records, keep complete files when
 * offline, and never mix real files with the synthetic set.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { DataFileError, DownloadError, isOffline, ValueError } from '../lib/core/errors';
import { loadDollarStreet } from '../lib/data/dollarstreet';
import { fetchDollarStreet } from '../lib/data/fetch';
import { encodeNpy } from '../lib/data/npy';
import { generateSyntheticDollarStreet, makeSyntheticDollarStreet } from '../lib/data/synthetic';

const FILES = ['train_images.npy', 'train_labels.npy', 'test_images.npy', 'test_labels.npy'];
const RECORD = '/records/10970014/files/';
const API = '/api/records/10970014';

// What the server holds: a small data set, in int32 images as the lesson's preparation notebook writes them.
const data = generateSyntheticDollarStreet({ train: 20, test: 10, size: 16, seed: 4 });
const served: { [name: string]: Buffer } = {
  'train_images.npy': encodeNpy(Int32Array.from(data.train.images), [20, 16, 16, 3]),
  'train_labels.npy': encodeNpy(data.train.labels, [20]),
  'test_images.npy': encodeNpy(Int32Array.from(data.test.images), [10, 16, 16, 3]),
  'test_labels.npy': encodeNpy(data.test.labels, [10]),
};

/** The record as Zenodo's API describes it (https://developers.zenodo.org/#records). */
const record = () => ({
  id: 10970014,
  files: FILES.map((key) => ({
    key,
    size: served[key].length,
    checksum: `md5:${createHash('md5').update(served[key]).digest('hex')}`,
    links: { self: `${zenodoUrl}${API}/files/${key}/content` },
  })),
});

/** Per-file behaviour the tests switch: drop the connection the next N times, answer 404, or answer HTML. */
const faults: { [name: string]: { drops?: number; status?: number; html?: boolean } } = {};
/** What the record API answers instead of the record: HTML, or a record without test_labels.npy. */
let recordFault: 'html' | 'incomplete' | undefined;
const counts = new Map<string, number>();
const server = http.createServer((req, res) => {
  const url = req.url ?? '';
  counts.set(url, (counts.get(url) ?? 0) + 1);
  if (url === API) {
    if (recordFault === 'html')
      return void res.writeHead(200, { 'content-type': 'text/html' }).end('<html>Please log in to the network</html>');
    const answer = record();
    if (recordFault === 'incomplete') answer.files = answer.files.filter((f) => f.key !== 'test_labels.npy');
    return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  }
  const name = url.startsWith(RECORD) ? url.slice(RECORD.length) : '';
  const body = served[name];
  const fault = faults[name] ?? {};
  if (!body || fault.status) return void res.writeHead(fault.status ?? 404).end();
  if (fault.html)
    return void res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><html>Zenodo is down for maintenance</html>');
  res.writeHead(200, { 'content-length': body.length });
  if (fault.drops) {
    fault.drops--;
    res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.socket?.destroy(), 20));
    return;
  }
  res.end(body);
});
let baseUrl = '';
let zenodoUrl = '';
const requests = () => FILES.map((f) => counts.get(RECORD + f) ?? 0);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-fetch-'));
before(async () => {
  await ready();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  zenodoUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  baseUrl = `${zenodoUrl}${RECORD}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(tmp, { recursive: true, force: true });
});

const noTemporaryFiles = (folder: string) =>
  assert.deepEqual(
    fs.readdirSync(folder).filter((f) => f.includes('.part-')),
    [],
  );

describe('fetchDollarStreet', () => {
  const folder = path.join(tmp, 'data', 'dataset_dollarstreet');

  test('downloads the four files into a new folder; loadDollarStreet reads them', async () => {
    counts.clear();
    const result = await fetchDollarStreet(folder, { zenodoUrl, baseUrl, verbose: false });
    assert.equal(result.folder, path.resolve(folder));
    assert.deepEqual(
      result.files.map((f) => [f.name, f.action]),
      FILES.map((f) => [f, 'downloaded']),
    );
    assert.deepEqual(requests(), [1, 1, 1, 1]);
    for (const name of FILES) assert.ok(fs.readFileSync(path.join(folder, name)).equals(served[name]), name);
    assert.deepEqual(result.files[0].shape, [20, 16, 16, 3]);
    assert.equal(result.files[0].descr, '<i4');
    noTemporaryFiles(folder);

    const loaded = await loadDollarStreet(folder);
    assert.deepEqual(Array.from(loaded.valImages.dataSync()), Array.from(data.test.images));
    tf.dispose(Object.values(loaded));
  });

  test('files already present and complete are not fetched again', async () => {
    counts.clear();
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => lines.push(line);
    let result;
    try {
      result = await fetchDollarStreet(folder, { zenodoUrl, baseUrl });
    } finally {
      console.log = log;
    }
    assert.deepEqual(requests(), [0, 0, 0, 0]);
    assert.deepEqual(
      result.files.map((f) => f.action),
      ['present', 'present', 'present', 'present'],
    );
    assert.match(lines.join('\n'), /train_images\.npy: already present and complete, kept/);
    assert.match(lines.join('\n'), /0 downloaded, 4 already present/);
  });

  test('a truncated file is downloaded again, the others are kept', async () => {
    counts.clear();
    const file = path.join(folder, 'test_images.npy');
    fs.truncateSync(file, 500);
    const result = await fetchDollarStreet(folder, { zenodoUrl, baseUrl, verbose: false });
    assert.deepEqual(requests(), [0, 0, 1, 0]);
    assert.deepEqual(
      result.files.map((f) => f.action),
      ['present', 'present', 'downloaded', 'present'],
    );
    assert.ok(fs.readFileSync(file).equals(served['test_images.npy']));
  });

  test('a complete .npy file with another md5 than the published one is downloaded again, with a note', async () => {
    counts.clear();
    const file = path.join(folder, 'test_labels.npy');
    fs.writeFileSync(file, encodeNpy(new Int32Array(10), [10]));
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => lines.push(line);
    try {
      const result = await fetchDollarStreet(folder, { zenodoUrl });
      assert.deepEqual(
        result.files.map((f) => f.action),
        ['present', 'present', 'present', 'downloaded'],
      );
    } finally {
      console.log = log;
    }
    assert.deepEqual(requests(), [0, 0, 0, 1]);
    assert.equal(counts.get(API), 1, 'the record was read once');
    assert.ok(fs.readFileSync(file).equals(served['test_labels.npy']));
    assert.match(
      lines.join('\n'),
      /test_labels\.npy: the copy in .* has md5 [0-9a-f]{32}, but Zenodo publishes [0-9a-f]{32} .*downloading it again/,
    );
  });

  test('a record that is not JSON, or lacks a file: DownloadError naming the API URL; nothing downloaded', async () => {
    const fresh = path.join(tmp, 'bad-record');
    counts.clear();
    try {
      recordFault = 'html';
      await assert.rejects(fetchDollarStreet(fresh, { zenodoUrl, verbose: false }), (e: unknown) => {
        assert.ok(e instanceof DownloadError);
        assert.equal(e.url, `${zenodoUrl}${API}`);
        assert.equal(e.reason, 'http');
        assert.match(e.message, /the answer is not JSON \(it starts with "<html>Please log in/);
        assert.ok(e.message.includes(`save them in ${path.resolve(fresh)}`), e.message);
        return true;
      });
      recordFault = 'incomplete';
      await assert.rejects(
        fetchDollarStreet(fresh, { zenodoUrl, verbose: false }),
        (e: unknown) =>
          e instanceof DownloadError &&
          e.reason === 'corrupt' &&
          e.message.includes(`${zenodoUrl}${API}`) &&
          /does not list test_labels\.npy/.test(e.message),
      );
    } finally {
      recordFault = undefined;
    }
    assert.deepEqual(requests(), [0, 0, 0, 0]);
    assert.equal(fs.existsSync(path.join(fresh, 'train_images.npy')), false);
  });

  test('offline: complete files present are kept (md5 unchecked, and said so); missing files are an offline DownloadError', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const offline = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const lines: string[] = [];
    const log = console.log;
    console.log = (line: string) => lines.push(line);
    try {
      const kept = await fetchDollarStreet(folder, { zenodoUrl: offline });
      assert.deepEqual(
        kept.files.map((f) => f.action),
        ['present', 'present', 'present', 'present'],
      );
      assert.deepEqual(kept.files[0].shape, [20, 16, 16, 3]);
    } finally {
      console.log = log;
    }
    assert.match(lines.join('\n'), /Zenodo could not be reached to check the md5/);
    for (const options of [{}, { force: true }]) {
      const where = 'force' in options ? folder : path.join(tmp, 'offline');
      await assert.rejects(
        fetchDollarStreet(where, { zenodoUrl: offline, verbose: false, ...options }),
        (e: unknown) => isOffline(e) && /ECONNREFUSED/.test((e as Error).message),
      );
    }
    assert.ok(
      fs.readFileSync(path.join(folder, 'train_images.npy')).equals(served['train_images.npy']),
      'a forced download that failed leaves the copy',
    );
  });

  test('TSLAB_DL_ZENODO_URL sets the host of the record and of the files', async () => {
    const fresh = path.join(tmp, 'from-env');
    const saved = process.env.TSLAB_DL_ZENODO_URL;
    process.env.TSLAB_DL_ZENODO_URL = `${zenodoUrl}/`;
    counts.clear();
    try {
      const result = await fetchDollarStreet(fresh, { verbose: false });
      assert.ok(result.files.every((f) => f.action === 'downloaded'));
    } finally {
      if (saved === undefined) delete process.env.TSLAB_DL_ZENODO_URL;
      else process.env.TSLAB_DL_ZENODO_URL = saved;
    }
    assert.deepEqual(requests(), [1, 1, 1, 1]);
    assert.equal(counts.get(API), 1);
  });

  test('a dropped connection fails cleanly; running it again fetches only what is missing', async () => {
    const fresh = path.join(tmp, 'dropped');
    counts.clear();
    faults['test_images.npy'] = { drops: 1 };
    await assert.rejects(fetchDollarStreet(fresh, { zenodoUrl, baseUrl, verbose: false }), (e: unknown) => {
      assert.ok(e instanceof DownloadError);
      assert.match(e.message, /test_images\.npy: the connection dropped after/);
      assert.ok(e.message.includes(path.join(path.resolve(fresh), 'test_images.npy')), e.message);
      return true;
    });
    // The files before it are complete; the one that failed is absent, not half-written.
    assert.deepEqual(fs.readdirSync(fresh).sort(), ['train_images.npy', 'train_labels.npy']);
    const result = await fetchDollarStreet(fresh, { zenodoUrl, baseUrl, verbose: false });
    assert.deepEqual(
      result.files.map((f) => f.action),
      ['present', 'present', 'downloaded', 'downloaded'],
    );
    assert.deepEqual(requests(), [1, 1, 2, 1]);
    for (const name of FILES) assert.ok(fs.readFileSync(path.join(fresh, name)).equals(served[name]), name);
    noTemporaryFiles(fresh);
    delete faults['test_images.npy'];
  });

  test('a 404 names the URL and where to put a manual copy', async () => {
    const fresh = path.join(tmp, 'not-found');
    faults['train_labels.npy'] = { status: 404 };
    await assert.rejects(
      fetchDollarStreet(fresh, { zenodoUrl, baseUrl, verbose: false }),
      (e: unknown) =>
        e instanceof DownloadError &&
        e.url === `${baseUrl}train_labels.npy` &&
        /the server answered HTTP 404/.test(e.message) &&
        e.message.includes(`save it as ${path.join(path.resolve(fresh), 'train_labels.npy')}`),
    );
    assert.equal(fs.existsSync(path.join(fresh, 'train_labels.npy')), false);
    noTemporaryFiles(fresh);
    delete faults['train_labels.npy'];
  });

  test('an answer that is not a .npy file (an HTML page) is refused before it gets the real name', async () => {
    const fresh = path.join(tmp, 'html');
    faults['train_images.npy'] = { html: true };
    await assert.rejects(
      fetchDollarStreet(fresh, { zenodoUrl, baseUrl, verbose: false }),
      /failed its check: it is not a NumPy \.npy file .*"<!DOCTYPE html><"/,
    );
    assert.deepEqual(fs.readdirSync(fresh), []);
    delete faults['train_images.npy'];
  });

  test('force downloads everything again', async () => {
    counts.clear();
    const result = await fetchDollarStreet(folder, { zenodoUrl, baseUrl, force: true, verbose: false });
    assert.deepEqual(requests(), [1, 1, 1, 1]);
    assert.ok(result.files.every((f) => f.action === 'downloaded'));
  });

  test('a folder holding the synthetic stand-in is not mixed with real files', async () => {
    const synthetic = path.join(tmp, 'synthetic');
    await makeSyntheticDollarStreet(synthetic, { train: 10, test: 10, size: 16 });
    counts.clear();
    await assert.rejects(
      fetchDollarStreet(synthetic, { zenodoUrl, baseUrl, verbose: false }),
      (e: unknown) => e instanceof ValueError && /holds the synthetic stand-in.*\{ force: true \}/.test(e.message),
    );
    assert.deepEqual(requests(), [0, 0, 0, 0]);
    await fetchDollarStreet(synthetic, { zenodoUrl, baseUrl, force: true, verbose: false });
    assert.equal(fs.existsSync(path.join(synthetic, 'synthetic.json')), false, 'the synthetic marker is removed');
    assert.ok(fs.readFileSync(path.join(synthetic, 'train_images.npy')).equals(served['train_images.npy']));
  });

  test('a folder that is a symbolic link loop is named as one (ELOOP), before anything is fetched', async () => {
    const loop = path.join(tmp, 'loop');
    fs.symlinkSync(loop, loop);
    counts.clear();
    await assert.rejects(fetchDollarStreet(loop, { zenodoUrl, baseUrl, verbose: false }), (e: unknown) => {
      assert.ok(e instanceof DataFileError, String(e));
      assert.equal(
        e.message,
        `${loop}: cannot be opened: ELOOP: a symbolic link loop: ${loop} points to ${loop}, which leads back to it. ` +
          `Point the link at the folder that really holds the files (\`ls -l ${loop}\` shows where it points), or replace it with that folder.`,
      );
      return true;
    });
    assert.equal(counts.size, 0, 'nothing was fetched');
  });

  test('options are checked', async () => {
    await assert.rejects(fetchDollarStreet(folder, { baseUrl: 'zenodo.org/records' }), /options\.baseUrl\): must be an http\(s\) URL/);
    await assert.rejects(fetchDollarStreet(folder, { zenodoUrl: 'zenodo.org' }), /options\.zenodoUrl\): must be an http\(s\) URL/);
    await assert.rejects(fetchDollarStreet(''), /fetchDollarStreet\(folder\): folder must be a path/);
  });
});
