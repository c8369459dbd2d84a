/**
 * Downloading a file so that it is either complete and verified, or absent.
 *
 * The body is streamed into a temporary file next to the destination
 * (`<dest>.part-<pid>-<random>`), counted and hashed on the way, checked
 * against the announced length, flushed to disk, checked by the caller's
 * validate(), then against the expected size and md5, and only then renamed to
 * its final name. Whatever fails, the temporary file is removed and a
 * {@link DownloadError} says which URL, what went wrong, and where to put a
 * copy downloaded by hand. Its `reason` tells "this machine is offline" from
 * "the network answered wrongly", and the message says what to do about it (a
 * proxy, a firewall's CA certificate, a manual copy).
 *
 * The request has its own AbortController: the caller's AbortSignal, a kernel interrupt
 * (lib/notebook/interrupt.ts) and the idle timeout (no byte for TSLAB_DL_IDLE_TIMEOUT_MS, lib/net/http.ts) abort
 * the request itself, so its socket is closed at once, even while waiting for a server that
 * stalled. The file is asked for without compression (`Accept-Encoding: identity`, as Keras'
 * get_file does): a body that fails to decode anyway is reported as corrupt. Temporary files a
 * killed process left in the folder are removed first (lib/core/stale-files.ts).
 */
import { createHash } from 'crypto';
import { createReadStream, promises as fs } from 'fs';
import * as path from 'path';
import { syncFolder, temporaryPathFor } from '../core/atomic-write';
import { DownloadError, DownloadFailure, InterruptedError, ValueError } from '../core/errors';
import { classifyNetworkError, decodingError, idleTimeoutMs, isBodyTimeout, networkFetch, proxySettings } from './http';
import { watchInterrupt } from '../notebook/interrupt';
import { Progress } from '../notebook/progress';
import { removeStaleTemporaryFiles } from '../core/stale-files';

/** Options of {@link downloadFile}: checks on the file, the progress label, an AbortSignal, the fetch to use. */
export interface DownloadOptions {
  /** Expected md5 of the whole file (32 hex digits). Defaults to no check. */
  md5?: string;
  /** What the progress display calls the download. Defaults to "Downloading <file name>". */
  label?: string;
  /** Expected size in bytes, when known better than the server's Content-Length. Defaults to no check. */
  expectedBytes?: number;
  /** Aborts the download: the request and its connection at once, and the temporary file is removed. */
  signal?: AbortSignal;
  /**
   * The fetch to use. Defaults to networkFetch: through HTTPS_PROXY/HTTP_PROXY, trusting
   * NODE_EXTRA_CA_CERTS, giving up after TSLAB_DL_CONNECT_TIMEOUT_MS (see lib/net/http.ts).
   */
  fetchImpl?: typeof fetch;
  /**
   * Checks the downloaded file before it gets its final name (e.g. parses its header), and before
   * the size and md5 checks; throwing rejects the download. Defaults to no check.
   */
  validate?: (temporaryPath: string) => void | Promise<void>;
}

/** What {@link downloadFile} returns: where the file is, its size and its md5. */
export interface DownloadResult {
  /** Absolute path of the downloaded file. */
  path: string;
  /** The file's size in bytes. */
  bytes: number;
  /** The file's md5, 32 lower-case hex digits. */
  md5: string;
}

/** md5 of a file, as 32 lower-case hex digits (what Keras and Zenodo publish). */
export async function md5File(file: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The innermost message of a fetch error: undici wraps the socket error in `cause`. */
function describeCause(error: unknown): string {
  const parts: string[] = [];
  let e: any = error;
  for (let depth = 0; e && depth < 4; depth++, e = e.cause) {
    const text = [e.code, e.message].filter(Boolean).join(' ');
    if (text && !parts.includes(text)) parts.push(text);
  }
  return parts.join(': ') || String(error);
}

/**
 * What to tell the learner when a request to `url` got no response: the reason, what happened,
 * and (for offline and certificate failures) what to do besides a manual copy.
 */
export function explainNetworkFailure(url: string, error: unknown): { reason: DownloadFailure; what: string; advice?: string } {
  const { kind, code, detail } = classifyNetworkError(error);
  const host = new URL(url).host;
  if (kind === 'certificate') {
    return {
      reason: 'certificate',
      what: `the certificate of ${host} could not be verified (${code})`,
      advice:
        `A firewall or proxy that inspects HTTPS is the usual cause: set NODE_EXTRA_CA_CERTS to your organisation's CA certificate ` +
        `(a .pem file) in the environment that starts Jupyter (or \`process.env.NODE_EXTRA_CA_CERTS = '/path/ca.pem'\` in the notebook ` +
        `before the download), and HTTPS_PROXY if a proxy is needed`,
    };
  }
  if (kind === 'offline') {
    const core = code && !detail.includes(code) ? `${code}: ${detail}` : detail;
    const timedOut = code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'ETIMEDOUT';
    const limit = timedOut
      ? ` (no answer within TSLAB_DL_CONNECT_TIMEOUT_MS = ${process.env.TSLAB_DL_CONNECT_TIMEOUT_MS || 15000} ms)`
      : '';
    const proxies = proxySettings();
    return {
      reason: 'offline',
      what: `could not connect (${core}): the network could not be reached, or ${host} is not answering${limit}`,
      advice: `Run it again once this machine is online (${proxies.length ? `check the proxy: ${proxies.join(', ')}` : 'behind a proxy, set HTTPS_PROXY'})`,
    };
  }
  return { reason: 'other', what: `could not connect (${describeCause(error)})` };
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

function checkArguments(url: string, dest: string, options: DownloadOptions): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ValueError(`downloadFile(url): not a valid URL. Received ${JSON.stringify(url)}.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ValueError(`downloadFile(url): only http: and https: URLs can be downloaded. Received ${JSON.stringify(url)}.`);
  }
  if (typeof dest !== 'string' || dest === '' || dest.endsWith('/') || dest.endsWith(path.sep)) {
    throw new ValueError(`downloadFile(dest): dest must be a file path. Received ${JSON.stringify(dest)}.`);
  }
  if (options.md5 !== undefined && !/^[0-9a-fA-F]{32}$/.test(options.md5)) {
    throw new ValueError(`downloadFile(options.md5): must be 32 hex digits. Received ${JSON.stringify(options.md5)}.`);
  }
  if (options.expectedBytes !== undefined && !(Number.isInteger(options.expectedBytes) && options.expectedBytes >= 0)) {
    throw new ValueError(`downloadFile(options.expectedBytes): must be a non-negative integer. Received ${options.expectedBytes}.`);
  }
}

/**
 * Downloads `url` to `dest` (creating its folder), atomically: `dest` appears
 * only once the whole body arrived and passed the checks.
 */
export async function downloadFile(url: string, dest: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  checkArguments(url, dest, options);
  const target = path.resolve(dest);
  const folder = path.dirname(target);
  const expectedMd5 = options.md5?.toLowerCase();
  const fail = (what: string, reason: DownloadFailure, advice?: string) =>
    new DownloadError(
      url,
      `Could not download ${url}: ${what}. Nothing was saved at ${target}. ` +
        `${advice ? `${advice}; or download` : 'To install the file by hand, download'} ${url} with a browser and save it as ${target}` +
        `${expectedMd5 ? ` (its md5 must be ${expectedMd5})` : ''}.`,
      reason,
    );

  const idleMs = idleTimeoutMs(); // a ValueError for a bad setting, before anything is made
  await fs.mkdir(folder, { recursive: true });
  await removeStaleTemporaryFiles(folder);
  const label = options.label ?? `Downloading ${path.basename(target)}`;
  const temporary = temporaryPathFor(target);

  // Why the request was stopped, when it was: decides the error.
  let stopped: 'aborted' | 'interrupted' | 'idle' | undefined;
  const request = new AbortController();
  const stop = (why: NonNullable<typeof stopped>) => {
    stopped ??= why;
    request.abort(why);
  };
  const onAbort = () => stop('aborted');
  if (options.signal?.aborted) stop('aborted');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const interrupt = watchInterrupt();
  if (interrupt.signal.aborted) stop('interrupted');
  interrupt.signal.addEventListener('abort', () => stop('interrupted'), { once: true });
  let idleTimer: NodeJS.Timeout | undefined;
  const awaitingData = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => stop('idle'), idleMs);
  };
  let bytes = 0;
  let total: number | undefined;
  const received = () => `${formatBytes(bytes)}${total !== undefined ? ` of ${formatBytes(total)}` : ''}`;
  /** The error for a request we stopped ourselves. */
  const stoppedError = (): Error =>
    stopped === 'interrupted'
      ? new InterruptedError(label)
      : stopped === 'idle'
        ? stalled()
        : fail(`the download was aborted${bytes > 0 ? ` after ${formatBytes(bytes)}` : ''}`, 'aborted');
  const stalled = () =>
    fail(
      `no data arrived for ${idleMs / 1000} s (TSLAB_DL_IDLE_TIMEOUT_MS = ${idleMs} ms) after ${received()}: the server or the network stalled`,
      'incomplete',
      'Run it again (a stalled server often answers the next request), or on a slow network raise TSLAB_DL_IDLE_TIMEOUT_MS',
    );

  let handle: fs.FileHandle | undefined;
  let progress: Progress | undefined;
  try {
    if (stopped) throw stoppedError();
    let response: Response;
    try {
      response = await (options.fetchImpl ?? networkFetch)(url, {
        signal: request.signal,
        redirect: 'follow',
        headers: { 'accept-encoding': 'identity' },
      });
    } catch (e) {
      if (e instanceof ValueError) throw e; // a proxy or CA setting that cannot be used: its own message
      if (stopped) throw stoppedError();
      const { reason, what, advice } = explainNetworkFailure(url, e);
      throw fail(what, reason, advice);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw fail(`the server answered HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`, 'http');
    }
    if (!response.body) throw fail('the server sent no body', 'http');

    // With Content-Encoding (gzip...), fetch decompresses and Content-Length counts the compressed bytes.
    const encoding = response.headers.get('content-encoding');
    const lengthHeader = response.headers.get('content-length');
    const announced = lengthHeader !== null && !encoding && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    total = options.expectedBytes ?? announced;

    handle = await fs.open(temporary, 'wx');
    progress = new Progress(label, total ?? 0, { unit: 'bytes' });
    const hash = createHash('md5');
    const reader = response.body.getReader();
    try {
      for (;;) {
        progress.checkInterrupt();
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        awaitingData();
        try {
          chunk = await reader.read();
        } catch (e) {
          if (stopped) throw stoppedError();
          if (isBodyTimeout(e)) throw stalled();
          const decoding = encoding ? decodingError(e) : undefined;
          if (decoding) {
            throw fail(
              `the server sent it with Content-Encoding: ${encoding}, but the body is not valid ${encoding} (${decoding.code}: ${decoding.detail}) ` +
                `after ${formatBytes(bytes)} (a misconfigured server or proxy)`,
              'corrupt',
            );
          }
          throw fail(`the connection dropped after ${received()} (${describeCause(e)})`, 'incomplete');
        } finally {
          clearTimeout(idleTimer);
        }
        if (chunk.done) break;
        await handle.writeFile(chunk.value);
        hash.update(chunk.value);
        bytes += chunk.value.length;
        progress.tick(chunk.value.length, total ? `${formatBytes(bytes)} / ${formatBytes(total)}` : formatBytes(bytes));
      }
    } finally {
      await reader.cancel().catch(() => undefined);
    }
    if (announced !== undefined && bytes !== announced) {
      throw fail(`the body ended after ${bytes} of the ${announced} bytes the server announced`, 'incomplete');
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    // validate() first: an answer of another kind (an HTML page) is better named as such than by its size or md5.
    if (options.validate) {
      try {
        await options.validate(temporary);
      } catch (e) {
        throw fail(`the file received failed its check: ${(e as Error).message.replace(temporary, 'it')}`, 'corrupt');
      }
    }
    if (options.expectedBytes !== undefined && bytes !== options.expectedBytes) {
      throw fail(
        `received ${bytes} bytes, but ${options.expectedBytes} were expected`,
        bytes < options.expectedBytes ? 'incomplete' : 'corrupt',
      );
    }
    const md5 = hash.digest('hex');
    if (expectedMd5 && md5 !== expectedMd5) {
      throw fail(`the checksum does not match: expected md5 ${expectedMd5}, got ${md5} (a corrupted or changed file)`, 'checksum');
    }
    await fs.rename(temporary, target);
    await syncFolder(folder);
    progress.finish(`${formatBytes(bytes)}, saved to ${target}`);
    return { path: target, bytes, md5 };
  } catch (e) {
    // Whatever failed, the request goes too: its socket must not stay open (a no-op once complete).
    request.abort();
    progress?.finish(e instanceof InterruptedError ? 'interrupted' : 'failed');
    await handle?.close().catch(() => undefined);
    await fs.rm(temporary, { force: true });
    if (e instanceof DownloadError || e instanceof InterruptedError || e instanceof ValueError) throw e;
    if (stopped) throw stoppedError();
    throw fail(describeCause(e), 'other');
  } finally {
    clearTimeout(idleTimer);
    interrupt.dispose();
    options.signal?.removeEventListener('abort', onAbort);
  }
}
