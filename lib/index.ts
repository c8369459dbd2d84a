/**
 * tslab-dl: the public API. Notebooks import everything from here:
 *
 *     import { tf, loadDollarStreet, DenseNet121, fit } from 'tslab-dl';
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
export { ready, backendInfo, setBackend, BACKEND_ORDER } from './backend';
export type { BackendInfo, BackendCandidate, BackendName } from './backend';
export { display, DisplayHandle, JUPYTER_DISPLAY, inNotebook, toMimeBundle } from './display';
export type { Displayable, MimeBundle } from './display';
export { Progress } from './progress';
export { ValueError, DataFileError, DownloadError, InterruptedError } from './errors';
export * from './data';
export * as applications from './applications';
export * from './applications';
