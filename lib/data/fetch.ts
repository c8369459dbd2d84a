/**
 * Downloading Dollar Street 10 from its Zenodo record, one file at a time,
 * each one atomically (see downloadFile) and checked against the md5 and size
 * Zenodo publishes for it, read first from Zenodo's REST API
 * (`GET /api/records/10970014`, https://developers.zenodo.org/#records).
 * Files already present whose md5 matches are kept, as Keras' get_file keeps a
 * cached file whose hash matches, so running it again after an interruption
 * fetches only what is missing or damaged.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { downloadFile, explainNetworkFailure, md5File } from '../net/download';
import { DataFileError, DownloadError, DownloadFailure, ValueError } from '../core/errors';
import { idleTimeoutMs, isBodyTimeout, networkFetch } from '../net/http';
import { codeString, DEFAULT_DOLLAR_STREET_FOLDER, DOLLAR_STREET_FILES } from './dollarstreet';
import { describeBlockedPath, findSymlinkLoop } from './file-problems';
import { NpyFormatError, NpyHeader, readNpyHeader } from './npy';
import { readSyntheticManifest, SYNTHETIC_MANIFEST } from './synthetic';

/** The Zenodo record that publishes Dollar Street 10. */
const ZENODO_RECORD = '10970014';
const DEFAULT_ZENODO_URL = 'https://zenodo.org';

/** Options of {@link fetchDollarStreet}. */
export interface FetchDollarStreetOptions {
  /**
   * The Zenodo host (a mirror, or a test server): the record is read from
   * `${zenodoUrl}/api/records/10970014` and the files from `${zenodoUrl}/records/10970014/files/`.
   * Defaults to $TSLAB_DL_ZENODO_URL, else 'https://zenodo.org'.
   */
  zenodoUrl?: string;
  /** Folder URL the file names are appended to. Defaults to `${zenodoUrl}/records/10970014/files/`. */
  baseUrl?: string;
  /** Download every file again, even those present and complete. Defaults to false. */
  force?: boolean;
  /** Aborts the download in progress. */
  signal?: AbortSignal;
  /** The fetch to use, for the record and the files. Defaults to networkFetch (proxies, NODE_EXTRA_CA_CERTS; see lib/net/http.ts). */
  fetchImpl?: typeof fetch;
  /** Print what was done. Defaults to true. */
  verbose?: boolean;
}

/** One of the four files, as {@link fetchDollarStreet} left it. */
export interface FetchedFile {
  /** The file name, e.g. 'train_images.npy'. */
  name: string;
  /** Absolute path. */
  path: string;
  /** 'present': a complete file was already there and was kept. */
  action: 'downloaded' | 'present';
  /** The file's size in bytes. */
  bytes: number;
  /** Shape announced by the file's .npy header. */
  shape: number[];
  /** NumPy type string, e.g. '<i8'. */
  descr: string;
}

/** What {@link fetchDollarStreet} did: the folder and each of the four files. */
export interface FetchDollarStreetResult {
  /** Absolute path of the folder. */
  folder: string;
  /** The four files, in the order train_images, train_labels, test_images, test_labels. */
  files: FetchedFile[];
}

/** What the record publishes about one file. */
interface PublishedFile {
  md5: string;
  bytes?: number;
}

/** The header of a complete .npy file, or the reason it is not one (undefined when absent). */
async function inspectExisting(file: string): Promise<{ header?: NpyHeader; problem?: string } | undefined> {
  try {
    return { header: await readNpyHeader(file) };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { problem: e instanceof NpyFormatError ? e.reason : (e as Error).message };
  }
}

/** An http(s) URL option without its trailing slashes, or a ValueError naming the option. */
function httpUrlOption(value: unknown, name: string): string {
  if (typeof value !== 'string' || !/^https?:\/\/[^/]/.test(value)) {
    throw new ValueError(`fetchDollarStreet(${name}): must be an http(s) URL. Received ${JSON.stringify(value)}.`);
  }
  return value;
}

/**
 * The record's files, by name. Zenodo's records API lists them as `files: [{ key, size,
 * checksum: 'md5:<hex>', links }]` (older answers: `filename`, `filesize`); InvenioRDM's own
 * serialization as `files: { entries: { <name>: {...} } }`. Both are read.
 */
function publishedFiles(record: unknown): Map<string, PublishedFile> {
  const files = (record as any)?.files;
  const entries: any[] = Array.isArray(files) ? files : files?.entries && typeof files.entries === 'object' ? Object.values(files.entries) : [];
  const published = new Map<string, PublishedFile>();
  for (const entry of entries) {
    const name = entry?.key ?? entry?.filename;
    const checksum = /^(?:md5:)?([0-9a-f]{32})$/i.exec(String(entry?.checksum ?? ''));
    if (typeof name !== 'string' || !checksum) continue;
    const size = entry.size ?? entry.filesize;
    published.set(name, { md5: checksum[1].toLowerCase(), ...(Number.isInteger(size) && size >= 0 ? { bytes: size } : {}) });
  }
  return published;
}

/**
 * Reads the record from Zenodo's API. Throws a DownloadError naming the API URL, with the
 * reason (offline, certificate, http, corrupt, aborted) and where to get the files by hand.
 */
async function readRecord(
  apiUrl: string,
  recordPage: string,
  target: string,
  options: FetchDollarStreetOptions,
): Promise<Map<string, PublishedFile>> {
  const names = Object.values(DOLLAR_STREET_FILES);
  const fail = (what: string, reason: DownloadFailure, advice?: string) =>
    new DownloadError(
      apiUrl,
      `Could not read the Zenodo record ${apiUrl} (the list of the Dollar Street files and their md5): ${what}. ` +
        `Nothing was downloaded into ${target}. ${advice ? `${advice}; or download` : 'To install the files by hand, download'} ` +
        `${names.join(', ')} from ${recordPage} with a browser and save them in ${target}.`,
      reason,
    );
  let response: Response;
  try {
    response = await (options.fetchImpl ?? networkFetch)(apiUrl, {
      signal: options.signal,
      redirect: 'follow',
      headers: { accept: 'application/json' },
    });
  } catch (e) {
    if (e instanceof ValueError) throw e;
    if (options.signal?.aborted) throw fail('the download was aborted', 'aborted');
    const { reason, what, advice } = explainNetworkFailure(apiUrl, e);
    throw fail(what, reason, advice);
  }
  let text: string;
  try {
    text = await response.text();
  } catch (e) {
    if (options.signal?.aborted) throw fail('the download was aborted', 'aborted');
    if (isBodyTimeout(e)) {
      const ms = idleTimeoutMs();
      throw fail(`no data arrived for ${ms / 1000} s (TSLAB_DL_IDLE_TIMEOUT_MS = ${ms} ms): the server or the network stalled`, 'incomplete');
    }
    throw fail(`the connection dropped (${(e as Error).message})`, 'incomplete');
  }
  if (!response.ok) {
    throw fail(`the server answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`, 'http');
  }
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    // A captive portal or a proxy's page answers 200 with HTML.
    throw fail(`the answer is not JSON (it starts with ${JSON.stringify(text.slice(0, 40))})`, 'http');
  }
  const published = publishedFiles(record);
  const missing = names.filter((name) => !published.has(name));
  if (missing.length > 0) {
    throw fail(`the record does not list ${missing.join(', ')} with an md5 checksum`, 'corrupt');
  }
  return published;
}

/**
 * Downloads train_images.npy, train_labels.npy, test_images.npy and
 * test_labels.npy into `folder`, each checked against the md5 and size its
 * Zenodo record publishes; files already present with that md5 are kept.
 * Returns and prints what it did. Each file is written atomically, so an interrupted run leaves
 * no partial file and running it again fetches only what is missing or damaged. Offline, four
 * complete files already present are kept without the md5 check (and it says so).
 *
 * @param folder - Where to put the files; created when missing. Defaults to
 *   {@link DEFAULT_DOLLAR_STREET_FOLDER} (`'data/dataset_dollarstreet/'`).
 * @param options - The Zenodo host or a mirror, `force` to download again, an AbortSignal, the
 *   fetch to use, and `verbose` (defaults to true: prints a line per file).
 * @returns The absolute folder and, for each file, whether it was downloaded or already present,
 *   its size and the shape and dtype its .npy header announces.
 * @throws A {@link ValueError} when `folder` is not a path, a URL option is not http(s), or the folder
 *   holds the synthetic stand-in and `force` is not set.
 * @throws A {@link DownloadError} when the record or a file cannot be downloaded, or fails its size or
 *   md5 check; its `reason` says why (e.g. 'offline', 'certificate', 'checksum', 'aborted').
 * @throws A {@link DataFileError} when the folder lies behind a symbolic link loop.
 * @throws An {@link InterruptedError} when the learner interrupts the kernel during a download.
 *
 * @example
 * ```ts
 * import { fetchDollarStreet, loadDollarStreet } from 'tslab-dl';
 *
 * const DATA_FOLDER = 'data/dataset_dollarstreet/';
 * await fetchDollarStreet(DATA_FOLDER);
 * let { trainImages, trainLabels, valImages, valLabels } = await loadDollarStreet(DATA_FOLDER);
 * ```
 */
export async function fetchDollarStreet(
  folder: string = DEFAULT_DOLLAR_STREET_FOLDER,
  options: FetchDollarStreetOptions = {},
): Promise<FetchDollarStreetResult> {
  if (typeof folder !== 'string' || folder === '') {
    throw new ValueError(`fetchDollarStreet(folder): folder must be a path. Received ${JSON.stringify(folder)}.`);
  }
  const zenodoUrl = httpUrlOption(
    options.zenodoUrl ?? (process.env.TSLAB_DL_ZENODO_URL || DEFAULT_ZENODO_URL),
    options.zenodoUrl !== undefined ? 'options.zenodoUrl' : 'TSLAB_DL_ZENODO_URL',
  ).replace(/\/+$/, '');
  const recordPage = `${zenodoUrl}/records/${ZENODO_RECORD}`;
  const apiUrl = `${zenodoUrl}/api/records/${ZENODO_RECORD}`;
  // The browser-facing file URLs (not the API's .../content links): they are what messages name for a manual copy.
  let baseUrl = options.baseUrl === undefined ? `${recordPage}/files/` : httpUrlOption(options.baseUrl, 'options.baseUrl');
  if (!baseUrl.endsWith('/')) baseUrl += '/';
  const target = path.resolve(folder);
  const say = options.verbose === false ? () => undefined : (line: string) => console.log(line);
  // A folder behind a symbolic link loop can be neither read nor created: say so before reaching the network.
  if (await findSymlinkLoop(target)) {
    throw new DataFileError(target, (await describeBlockedPath(target, Object.assign(new Error('ELOOP'), { code: 'ELOOP' })))!);
  }

  // Real files must never be mixed with, or mistaken for, the synthetic stand-in.
  if (await readSyntheticManifest(target)) {
    if (!options.force) {
      throw new ValueError(
        `fetchDollarStreet(folder): ${target} holds the synthetic stand-in made by makeSyntheticDollarStreet. ` +
          `Download into another folder (the lesson's is ${codeString(DEFAULT_DOLLAR_STREET_FOLDER)}), ` +
          `or pass { force: true } to replace the synthetic files with the real ones.`,
      );
    }
    await fs.rm(path.join(target, SYNTHETIC_MANIFEST), { force: true });
  }

  const names = Object.values(DOLLAR_STREET_FILES);
  const existing = new Map<string, Awaited<ReturnType<typeof inspectExisting>>>();
  if (!options.force) for (const name of names) existing.set(name, await inspectExisting(path.join(target, name)));

  let published: Map<string, PublishedFile>;
  try {
    published = await readRecord(apiUrl, recordPage, target, options);
  } catch (e) {
    // Offline with all four files present and complete: keep them, as before checksums were
    // published here; only the md5 check is skipped, and it says so.
    const complete = names.every((name) => existing.get(name)?.header);
    if (!(e instanceof DownloadError && e.reason === 'offline' && complete)) throw e;
    say(`Zenodo could not be reached to check the md5 of the files (${apiUrl}); the four files in ${target} have complete .npy headers and are kept.`);
    const files = names.map((name): FetchedFile => {
      const header = existing.get(name)!.header!;
      return { name, path: path.join(target, name), action: 'present', bytes: header.fileBytes, shape: header.shape, descr: header.descr };
    });
    return { folder: target, files };
  }

  const files: FetchedFile[] = [];
  for (const name of names) {
    const file = path.join(target, name);
    const { md5, bytes: expectedBytes } = published.get(name)!;
    const present = existing.get(name);
    if (present?.header) {
      const actual = await md5File(file);
      if (actual === md5) {
        const { header } = present;
        files.push({ name, path: file, action: 'present', bytes: header.fileBytes, shape: header.shape, descr: header.descr });
        say(`${name}: already present and complete, kept (${header.fileBytes} bytes, md5 ${md5} as published).`);
        continue;
      }
      say(`${name}: the copy in ${target} has md5 ${actual}, but Zenodo publishes ${md5} (a different or damaged file); downloading it again.`);
    } else if (present?.problem) {
      say(`${name}: the copy in ${target} ${present.problem.replace(/\.$/, '')}; downloading it again.`);
    }
    let header: NpyHeader | undefined;
    const result = await downloadFile(baseUrl + name, file, {
      md5,
      expectedBytes,
      label: `Downloading ${name}`,
      signal: options.signal,
      fetchImpl: options.fetchImpl,
      validate: async (temporary) => {
        try {
          header = await readNpyHeader(temporary);
        } catch (e) {
          throw new Error(`it ${e instanceof NpyFormatError ? e.reason : (e as Error).message}`);
        }
      },
    });
    files.push({ name, path: file, action: 'downloaded', bytes: result.bytes, shape: header!.shape, descr: header!.descr });
    say(`${name}: downloaded (${result.bytes} bytes, md5 ${result.md5} as published).`);
  }
  const downloaded = files.filter((f) => f.action === 'downloaded').length;
  say(`Dollar Street 10 is complete in ${target} (${downloaded} downloaded, ${files.length - downloaded} already present).`);
  return { folder: target, files };
}
