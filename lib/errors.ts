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
  constructor(readonly file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'DataFileError';
  }
}

/** A download failed: the message names the URL and where to put a manual copy. */
export class DownloadError extends Error {
  constructor(readonly url: string, message: string) {
    super(message);
    this.name = 'DownloadError';
  }
}

/** Long-running work (training, feature extraction, a download) was interrupted by the user. */
export class InterruptedError extends Error {
  constructor(what = 'The computation') {
    super(`${what} was interrupted.`);
    this.name = 'InterruptedError';
  }
}
