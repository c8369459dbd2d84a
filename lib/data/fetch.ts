/**
 * Downloading Dollar Street 10 from its Zenodo record, one file at a time,
 * each one atomically (see downloadFile). Files already present and complete
 * are kept, so running it again after an interruption fetches only what is missing.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import { downloadFile } from '../download';
import { ValueError } from '../errors';
import { codeString, DEFAULT_DOLLAR_STREET_FOLDER, DOLLAR_STREET_BASE_URL, DOLLAR_STREET_FILES } from './dollarstreet';
import { NpyFormatError, NpyHeader, readNpyHeader } from './npy';
import { readSyntheticManifest, SYNTHETIC_MANIFEST } from './synthetic';

export interface FetchDollarStreetOptions {
  /** Folder URL the file names are appended to. Defaults to 'https://zenodo.org/records/10970014/files/'. */
  baseUrl?: string;
  /** Download every file again, even those present and complete. Defaults to false. */
  force?: boolean;
  /** Aborts the download in progress. */
  signal?: AbortSignal;
  /** The fetch to use. Defaults to Node's global fetch. */
  fetchImpl?: typeof fetch;
  /** Print what was done. Defaults to true. */
  verbose?: boolean;
}

export interface FetchedFile {
  name: string;
  /** Absolute path. */
  path: string;
  /** 'present': a complete file was already there and was kept. */
  action: 'downloaded' | 'present';
  bytes: number;
  /** Shape announced by the file's .npy header. */
  shape: number[];
  /** NumPy type string, e.g. '<i8'. */
  descr: string;
}

export interface FetchDollarStreetResult {
  /** Absolute path of the folder. */
  folder: string;
  files: FetchedFile[];
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

/**
 * Downloads train_images.npy, train_labels.npy, test_images.npy and
 * test_labels.npy into `folder`, skipping files already present and complete
 * (a valid .npy header and the size it implies). Returns and prints what it did.
 */
export async function fetchDollarStreet(
  folder: string = DEFAULT_DOLLAR_STREET_FOLDER,
  options: FetchDollarStreetOptions = {},
): Promise<FetchDollarStreetResult> {
  if (typeof folder !== 'string' || folder === '') {
    throw new ValueError(`fetchDollarStreet(folder): folder must be a path. Received ${JSON.stringify(folder)}.`);
  }
  let baseUrl = options.baseUrl ?? DOLLAR_STREET_BASE_URL;
  if (typeof baseUrl !== 'string' || !/^https?:\/\//.test(baseUrl)) {
    throw new ValueError(`fetchDollarStreet(options.baseUrl): must be an http(s) URL. Received ${JSON.stringify(options.baseUrl)}.`);
  }
  if (!baseUrl.endsWith('/')) baseUrl += '/';
  const target = path.resolve(folder);
  const say = options.verbose === false ? () => undefined : (line: string) => console.log(line);

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

  const files: FetchedFile[] = [];
  for (const name of Object.values(DOLLAR_STREET_FILES)) {
    const file = path.join(target, name);
    if (!options.force) {
      const existing = await inspectExisting(file);
      if (existing?.header) {
        const { header } = existing;
        files.push({ name, path: file, action: 'present', bytes: header.fileBytes, shape: header.shape, descr: header.descr });
        say(`${name}: already present and complete, kept (${header.fileBytes} bytes).`);
        continue;
      }
      if (existing?.problem) say(`${name}: the copy in ${target} ${existing.problem.replace(/\.$/, '')}; downloading it again.`);
    }
    let header: NpyHeader | undefined;
    const result = await downloadFile(baseUrl + name, file, {
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
    say(`${name}: downloaded (${result.bytes} bytes, md5 ${result.md5}).`);
  }
  const downloaded = files.filter((f) => f.action === 'downloaded').length;
  say(`Dollar Street 10 is complete in ${target} (${downloaded} downloaded, ${files.length - downloaded} already present).`);
  return { folder: target, files };
}
