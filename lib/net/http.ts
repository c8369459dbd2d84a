/**
 * How tslab-dl reaches the network: undici's fetch with a dispatcher built from the environment
 * at the moment of each call, and a classification of what went wrong when no answer came.
 *
 * Why not Node's global fetch: it ignores HTTP(S)_PROXY, waits minutes for a server that never
 * answers, and trusts NODE_EXTRA_CA_CERTS only when it was set before Node started. A learner behind
 * a school's proxy or an HTTPS-inspecting firewall sets these in a notebook cell, so each call
 * reads them again:
 *
 * - HTTPS_PROXY / HTTP_PROXY (or lower case) and NO_PROXY: undici's EnvHttpProxyAgent
 *   (https://undici.nodejs.org/#/docs/api/EnvHttpProxyAgent);
 * - TSLAB_DL_CONNECT_TIMEOUT_MS (default 15000): the limit for the TCP and TLS connection and
 *   for the response headers (undici's `connect.timeout` and `headersTimeout`,
 *   https://undici.nodejs.org/#/docs/api/Client);
 * - TSLAB_DL_IDLE_TIMEOUT_MS (default 30000): the longest wait for the next bytes of a body
 *   (undici's `bodyTimeout`, 300 s by default; lib/net/download.ts also watches it itself, for any fetch);
 * - NODE_EXTRA_CA_CERTS: read now and added to Node's bundled roots as the `ca` TLS option
 *   (https://nodejs.org/api/cli.html#node_extra_ca_certsfile,
 *   https://nodejs.org/api/tls.html#tlsrootcertificates).
 */
import * as fs from 'fs';
import * as tls from 'tls';
import type * as UndiciModule from 'undici';
import type { Dispatcher, RequestInit as UndiciRequestInit } from 'undici';
import { ValueError } from '../core/errors';

/** The proxy variables, in the order undici reads them (lower case wins). */
const PROXY_VARIABLES = ['https_proxy', 'HTTPS_PROXY', 'http_proxy', 'HTTP_PROXY'] as const;

const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;

/** The connect and headers timeout: TSLAB_DL_CONNECT_TIMEOUT_MS, else 15 s. */
export function connectTimeoutMs(): number {
  const value = process.env.TSLAB_DL_CONNECT_TIMEOUT_MS;
  if (value === undefined || value.trim() === '') return DEFAULT_CONNECT_TIMEOUT_MS;
  if (!/^\d+$/.test(value.trim()) || Number(value) <= 0) {
    throw new ValueError(
      `TSLAB_DL_CONNECT_TIMEOUT_MS must be a positive whole number of milliseconds. Received ${JSON.stringify(value)}; ` +
        `unset it for the default (${DEFAULT_CONNECT_TIMEOUT_MS}).`,
    );
  }
  return Number(value);
}

const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

/** The longest wait for more of a response body: TSLAB_DL_IDLE_TIMEOUT_MS, else 30 s. */
export function idleTimeoutMs(): number {
  const value = process.env.TSLAB_DL_IDLE_TIMEOUT_MS;
  if (value === undefined || value.trim() === '') return DEFAULT_IDLE_TIMEOUT_MS;
  if (!/^\d+$/.test(value.trim()) || Number(value) <= 0) {
    throw new ValueError(
      `TSLAB_DL_IDLE_TIMEOUT_MS must be a positive whole number of milliseconds. Received ${JSON.stringify(value)}; ` +
        `unset it for the default (${DEFAULT_IDLE_TIMEOUT_MS}).`,
    );
  }
  return Number(value);
}

/** The `ca` TLS option when NODE_EXTRA_CA_CERTS names a file: Node's roots plus that file. */
function extraCa(): string[] | undefined {
  const file = process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return undefined;
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new ValueError(
      `NODE_EXTRA_CA_CERTS names ${file}, which cannot be read (${code}). ` +
        `Set it to the path of your organisation's CA certificate (a .pem file), or unset it.`,
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ValueError(
      `NODE_EXTRA_CA_CERTS names ${file}, which is not a PEM certificate (a text file with -----BEGIN CERTIFICATE-----). ` +
        `Convert a binary .cer/.der file with \`openssl x509 -inform der -in ca.cer -out ca.pem\` and name the .pem file.`,
    );
  }
  // Passing `ca` replaces the default trust store, so Node's bundled roots go first.
  return [...tls.rootCertificates, pem];
}

/** The proxy variables that are set, as `NAME=value` (for messages). */
export function proxySettings(): string[] {
  return PROXY_VARIABLES.filter((name) => process.env[name]).map((name) => `${name}=${process.env[name]}`);
}

/** undici, loaded on the first request: a fifth of the time `import 'tslab-dl'` took, for cells that never download. */
function undici(): typeof UndiciModule {
  return require('undici') as typeof UndiciModule;
}

/** A dispatcher for one call, from the environment as it is now. */
function dispatcherFromEnvironment(): Dispatcher {
  const { Agent, EnvHttpProxyAgent, Pool } = undici();
  const timeout = connectTimeoutMs();
  const bodyTimeout = idleTimeoutMs();
  const ca = extraCa();
  const tlsOptions = { timeout, ...(ca ? { ca } : {}) };
  // Every client gets the headers and body timeouts, including the one that sends CONNECT to the
  // proxy and the one that forwards plain-http requests, which undici builds with their own options.
  const withTimeouts = (origin: string | URL, options: object) => new Pool(origin, { ...options, headersTimeout: timeout, bodyTimeout });
  const proxies = proxySettings();
  if (proxies.length === 0) return new Agent({ connect: tlsOptions, headersTimeout: timeout, bodyTimeout, factory: withTimeouts });
  try {
    return new EnvHttpProxyAgent({
      connect: tlsOptions, // hosts in NO_PROXY
      requestTls: tlsOptions, // the origin's TLS, inside the proxy's tunnel
      proxyTls: tlsOptions, // the connection to the proxy itself
      headersTimeout: timeout,
      bodyTimeout,
      factory: withTimeouts,
      clientFactory: withTimeouts as (origin: URL, options: object) => Dispatcher,
      // Plain http:// goes to the proxy as an absolute-form GET, as curl sends it; many proxies
      // (squid's default configuration among them) refuse CONNECT to ports other than 443.
      proxyTunnel: false,
    });
  } catch (e) {
    throw new ValueError(
      `The proxy setting ${proxies.join(', ')} cannot be used (${(e as Error).message.replace(/\.$/, '')}). ` +
        `Write it as a URL such as http://proxy.example.org:3128, or unset it.`,
    );
  }
}

/**
 * fetch, through HTTPS_PROXY/HTTP_PROXY unless NO_PROXY lists the host, trusting
 * NODE_EXTRA_CA_CERTS, and giving up on a server that does not answer within
 * TSLAB_DL_CONNECT_TIMEOUT_MS; all read at call time.
 */
export async function networkFetch(url: string, init?: RequestInit & { signal?: AbortSignal }): Promise<Response> {
  const dispatcher = dispatcherFromEnvironment();
  let response: Response;
  try {
    response = (await undici().fetch(url, { ...(init as UndiciRequestInit), dispatcher })) as unknown as Response;
  } catch (e) {
    dispatcher.destroy().catch(() => undefined);
    throw e;
  }
  // close() lets the body finish (or be cancelled) first, then frees the sockets.
  dispatcher.close().catch(() => undefined);
  return response;
}

/** What {@link classifyNetworkError} makes of a failed request: offline, an untrusted certificate, or something else. */
export interface NetworkErrorKind {
  /** offline: no connection or no answer; certificate: TLS verification failed; other: anything else. */
  kind: 'offline' | 'certificate' | 'other';
  /** The error code that decided it, e.g. 'ECONNREFUSED' or 'SELF_SIGNED_CERT_IN_CHAIN' (none for a proxy's refusal). */
  code?: string;
  /** The innermost message, for error messages. */
  detail: string;
}

/** No connection, or no answer within the timeout (https://nodejs.org/api/errors.html#common-system-errors). */
const OFFLINE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EAI_FAIL',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
  'ETIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
]);

/** OpenSSL's verification failures as Node reports them (https://nodejs.org/api/tls.html#x509-certificate-error-codes). */
const CERTIFICATE_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** undici's message when a proxy answers CONNECT with anything but 200. */
const PROXY_REFUSED = /^Proxy response \((\d+)\) !== 200 when HTTP Tunneling/;

/** The error and its causes, outermost first (undici wraps socket errors in `cause`; Node may group them in `errors`). */
function causeChain(error: unknown): any[] {
  const chain: any[] = [];
  const visit = (e: any, depth: number) => {
    if (!e || typeof e !== 'object' || depth > 8 || chain.includes(e)) return;
    chain.push(e);
    if (Array.isArray(e.errors)) for (const inner of e.errors) visit(inner, depth + 1);
    visit(e.cause, depth + 1);
  };
  visit(error, 0);
  return chain;
}

/** Whether a failed request means "no network" (offline), "untrusted certificate", or something else. */
export function classifyNetworkError(error: unknown): NetworkErrorKind {
  const chain = causeChain(error);
  const innermost = chain.length ? chain[chain.length - 1] : error;
  const detail = String((innermost as any)?.message ?? innermost ?? 'unknown error');
  // Certificates first: an inspecting proxy can fail both ways, and the certificate is the fixable part.
  for (const e of chain) {
    if (typeof e.code === 'string' && (CERTIFICATE_CODES.has(e.code) || /^(ERR_TLS_)?CERT_/.test(e.code))) {
      return { kind: 'certificate', code: e.code, detail: String(e.message ?? detail) };
    }
  }
  for (const e of chain) {
    if (typeof e.code === 'string' && OFFLINE_CODES.has(e.code))
      return { kind: 'offline', code: e.code, detail: String(e.message ?? detail) };
    const refused = typeof e.message === 'string' ? PROXY_REFUSED.exec(e.message) : null;
    if (refused) return { kind: 'offline', detail: `the proxy refused the connection (HTTP ${refused[1]})` };
  }
  const coded = chain.find((e) => typeof e.code === 'string');
  return { kind: 'other', ...(coded ? { code: coded.code } : {}), detail };
}

/**
 * Whether a failed body read was the decompression of a `Content-Encoding` failing: fetch decodes
 * gzip, deflate, br and zstd with node:zlib (https://nodejs.org/api/zlib.html), whose errors carry
 * codes such as Z_DATA_ERROR, Z_BUF_ERROR or ERR_BROTLI_DECOMPRESSION_FAILED. The zlib error's
 * message, e.g. "incorrect header check", or undefined when it is not one.
 */
export function decodingError(error: unknown): { code: string; detail: string } | undefined {
  for (const e of causeChain(error)) {
    if (typeof e.code === 'string' && (/^Z_[A-Z_]+$/.test(e.code) || /BROTLI|ZSTD/.test(e.code))) {
      return { code: e.code, detail: String(e.message ?? e.code) };
    }
  }
  return undefined;
}

/** Whether a failed body read was undici's own bodyTimeout (the same limit, TSLAB_DL_IDLE_TIMEOUT_MS). */
export function isBodyTimeout(error: unknown): boolean {
  return causeChain(error).some((e) => e.code === 'UND_ERR_BODY_TIMEOUT');
}
