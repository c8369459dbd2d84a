/**
 * Error classes a learner sees. Each message names the argument, file or
 * value at fault and says what to do, in the style of Keras' ValueError.
 */

/** An argument has a value the function cannot use (Keras' ValueError). */
export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValueError';
  }
}

/** A data or weights file is missing, unreadable or malformed. */
export class DataFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'DataFileError';
  }
}

/**
 * Why a download failed, so that code (and a lesson's fallback to the synthetic data) can tell
 * "no network here" from "the network answered wrongly":
 * - offline: no connection, or no answer within the timeout;
 * - certificate: the server's certificate is not trusted (usually an HTTPS-inspecting firewall);
 * - http: the server answered with an error status or something that is not what was asked for;
 * - checksum: the file arrived but its md5 differs from the published one;
 * - corrupt: the file (or a record describing it) arrived but is not what it should be;
 * - incomplete: the body ended early or the connection dropped;
 * - aborted: the caller's AbortSignal stopped it;
 * - other: anything else (a full disk, ...).
 */
export type DownloadFailure = 'offline' | 'certificate' | 'http' | 'checksum' | 'corrupt' | 'incomplete' | 'aborted' | 'other';

/** A download failed: the message names the URL and where to put a manual copy; `reason` says what kind of failure. */
export class DownloadError extends Error {
  constructor(
    readonly url: string,
    message: string,
    readonly reason: DownloadFailure = 'other',
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

/** Whether `error` is a download that failed because the network could not be reached. */
export function isOffline(error: unknown): boolean {
  return error instanceof DownloadError && error.reason === 'offline';
}

/** Long-running work (training, feature extraction, a download) was interrupted by the user. */
export class InterruptedError extends Error {
  constructor(what = 'The computation') {
    super(`${what} was interrupted.`);
    this.name = 'InterruptedError';
  }
}

/**
 * A TensorFlow.js backend could not be started, failed while running, or was reset after it broke
 * (lib/backends/selection.ts, lib/backends/reset.ts). `backend` is the tslab-dl backend name.
 */
export class BackendError extends Error {
  constructor(
    message: string,
    readonly backend?: 'tfjs-node-gpu' | 'webgpu' | 'tfjs-node' | 'wasm' | 'cpu',
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BackendError';
  }
}
