/**
 * A stand-in for Zenodo on 127.0.0.1 for notebook tests: the Dollar Street record of a folder's
 * four .npy files (key, size, md5, link, as Zenodo's records API lists them) and the files
 * themselves, with a count of what was asked for. TSLAB_DL_ZENODO_URL=server.url points the
 * library at it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as path from 'node:path';

const RECORD_ID = '10970014';
const FILES = ['train_images.npy', 'train_labels.npy', 'test_images.npy', 'test_labels.npy'];

export interface ZenodoServer {
  url: string;
  /** Paths asked for, in order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serves the four files of `folder` as record 10970014. `tamper(name, bytes)` changes what is
 * sent for a file after its md5 went into the record (a corrupted transfer).
 */
export async function startZenodoServer(folder: string, tamper?: (name: string, bytes: Buffer) => Buffer): Promise<ZenodoServer> {
  const requests: string[] = [];
  let url = '';
  const record = () => ({
    id: Number(RECORD_ID),
    files: FILES.map((key) => {
      const bytes = fs.readFileSync(path.join(folder, key));
      return {
        key,
        size: bytes.length,
        checksum: `md5:${createHash('md5').update(bytes).digest('hex')}`,
        links: { self: `${url}/api/records/${RECORD_ID}/files/${key}/content` },
      };
    }),
  });
  const server = http.createServer((req, res) => {
    const where = req.url ?? '';
    requests.push(where);
    if (where === `/api/records/${RECORD_ID}`) {
      const body = JSON.stringify(record());
      return void res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    }
    const name = where.startsWith(`/records/${RECORD_ID}/files/`) ? path.basename(where) : '';
    if (FILES.includes(name)) {
      const stored = fs.readFileSync(path.join(folder, name));
      const bytes = tamper ? tamper(name, stored) : stored;
      return void res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
    }
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
