/**
 * Runs one h5wasm task (lib/weights/h5-worker.ts) in a worker thread that ends when done, so that
 * h5wasm's WebAssembly memory, which never shrinks, goes back to the system instead of staying in
 * the kernel for the rest of the session.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { DataFileError, ValueError } from '../core/errors';
import { H5_WORKER_TAG, answerH5Request, type H5WorkerError, type H5WorkerRequest, type H5WorkerResponse } from './h5-worker';

/**
 * The worker's file, next to this one with the same extension: h5-worker.js in the compiled
 * dist/, h5-worker.ts when the library runs from its TypeScript sources under tsx.
 */
const WORKER_FILE = path.join(__dirname, `h5-worker${path.extname(__filename)}`);

/** The error the worker threw, thrown again here: same class, same message, same `file`. */
function rebuildError(error: H5WorkerError): Error {
  switch (error.kind) {
    case 'DataFileError':
      return new DataFileError(error.file, error.message);
    case 'ValueError':
      return new ValueError(error.message);
    default: {
      const rebuilt = new Error(error.message);
      if (error.stack) rebuilt.stack = error.stack;
      return rebuilt;
    }
  }
}

/**
 * Runs `request` in a fresh worker thread and settles once the thread has ended (so its memory
 * is released when the promise settles). A worker that crashes or ends without answering rejects
 * with a DataFileError naming `request.file`.
 */
function runH5Worker(request: H5WorkerRequest): Promise<H5WorkerResponse> {
  const doing = request.task === 'read' ? 'read' : 'written';
  // From the TypeScript sources (tests under tsx) the work runs in this thread: Node 20 starts a
  // worker's entry file without the loader hooks of the parent's --import. The kernel and scripts
  // run the compiled library, where it is a worker (test/h5-worker.test.ts checks that one).
  if (WORKER_FILE.endsWith('.ts')) return answerH5Request(request);
  return new Promise((resolve, reject) => {
    let worker: Worker;
    try {
      worker = new Worker(WORKER_FILE, { workerData: { tag: H5_WORKER_TAG, request }, stdout: false });
    } catch (e) {
      reject(new DataFileError(request.file, `cannot be ${doing}: the HDF5 worker thread did not start (${(e as Error).message}).`));
      return;
    }
    let response: H5WorkerResponse | undefined;
    let crash: Error | undefined;
    worker.on('message', (message: H5WorkerResponse) => {
      response = message;
      // Its last act was to answer; ending it now saves waiting for its event loop to drain.
      void worker.terminate();
    });
    worker.on('error', (e) => (crash = e));
    worker.on('exit', (code) => {
      if (response) resolve(response);
      else {
        const why = crash ? `: ${crash.message}` : ` (exit code ${code})`;
        reject(new DataFileError(request.file, `cannot be ${doing}: the HDF5 worker thread stopped before answering${why}.`));
      }
    });
  });
}

/** The result of `request`, or the worker's error thrown again in this thread. */
export async function inH5Worker(request: H5WorkerRequest): Promise<H5WorkerResponse & { ok: true }> {
  const response = await runH5Worker(request);
  if (!response.ok) throw rebuildError(response.error);
  return response;
}
