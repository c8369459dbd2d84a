/**
 * Showing things: inline in a notebook, as text in a terminal.
 *
 * Display is data: an object is shown by turning it into a MIME bundle
 * (`{'text/plain': ..., 'image/svg+xml': ...}`), the way Deno's kernel does
 * with `Symbol.for('Jupyter.display')`. Where the bundle goes depends on where
 * the code runs: the tslab-dl kernel installs a hook on `globalThis`; a plain
 * tslab kernel is reached through its display API; anywhere else the
 * `text/plain` part is printed.
 */
import { kernelHook } from './kernel-hook';

/** Objects with this method are shown by the kernel with their richest representation. */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for('Jupyter.display') as any;

/** A MIME bundle: MIME type -> content (strings; JSON objects for `application/*+json`). */
export type MimeBundle = { [mime: string]: unknown };

/** Anything that can show itself in a notebook. */
export interface Displayable {
  [JUPYTER_DISPLAY](): MimeBundle;
}

/** Options for one display message. */
export interface DisplayOptions {
  /** Jupyter `display_id`: later updates with the same id replace this output. */
  displayId?: string;
  /** Replace the output shown earlier under `displayId` instead of adding one. */
  update?: boolean;
  metadata?: { [key: string]: unknown };
}

/**
 * Marks a value that a function has already displayed and also returns (plotHistory, evaluate,
 * summary, showImages): the kernel does not show it again as the cell's Out[n].
 */
export const ALREADY_SHOWN = Symbol.for('tslab-dl.shown');

/** Marks `value` as displayed (see {@link ALREADY_SHOWN}) and returns it. */
export function markShown<T extends object>(value: T): T {
  Object.defineProperty(value, ALREADY_SHOWN, { value: true, configurable: true });
  return value;
}

type DisplaySink = (data: MimeBundle, options: DisplayOptions) => void;

/** tslab's own channel, for when the library runs under a plain tslab kernel. */
function tslabSink(): DisplaySink | undefined {
  let jupyter: any;
  try {
    jupyter = require('tslab/dist/jupyter');
  } catch {
    return undefined;
  }
  const write = jupyter.lastWriteDisplayData;
  if (typeof write !== 'function') return undefined;
  return (data, options) =>
    write(
      { data: encodeBinary(data), metadata: options.metadata ?? {}, transient: { display_id: options.displayId } },
      options.update ?? false,
    );
}

function notebookSink(): DisplaySink | undefined {
  const hook = kernelHook();
  if (hook) return (data, options) => hook.display(encodeBinary(data), options);
  return tslabSink();
}

/** True when output goes to a notebook front end rather than a terminal. */
export function inNotebook(): boolean {
  return notebookSink() !== undefined;
}

function encodeBinary(data: MimeBundle): MimeBundle {
  const out: MimeBundle = {};
  for (const [mime, value] of Object.entries(data)) {
    out[mime] = value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value;
  }
  return out;
}

/** The MIME bundle of a value: its own representation, or a text fallback. */
export function toMimeBundle(value: unknown): MimeBundle {
  if (isDisplayable(value)) return value[JUPYTER_DISPLAY]();
  if (typeof value === 'string') return { 'text/plain': value };
  return { 'text/plain': require('util').inspect(value) };
}

export function isDisplayable(value: unknown): value is Displayable {
  return value != null && typeof (value as any)[JUPYTER_DISPLAY] === 'function';
}

let nextDisplayId = 0;

/**
 * One output area that can be replaced in place: progress lines, live plots.
 * In a terminal, `update` prints the new text (callers that want a single
 * redrawn line use {@link Progress}).
 */
export class DisplayHandle {
  private shown = false;
  readonly id = `tslab-dl-${process.pid}-${++nextDisplayId}`;

  /** Shows `value` the first time, then replaces what was shown. */
  update(value: unknown): void {
    const bundle = toMimeBundle(value);
    const sink = notebookSink();
    if (sink) {
      sink(bundle, { displayId: this.id, update: this.shown });
    } else {
      process.stdout.write(String(bundle['text/plain'] ?? '') + '\n');
    }
    this.shown = true;
  }
}

/** Shows a value: rich in a notebook, as text in a terminal. */
export function display(value: unknown): void {
  const bundle = toMimeBundle(value);
  const sink = notebookSink();
  if (sink) sink(bundle, {});
  else process.stdout.write(String(bundle['text/plain'] ?? '') + '\n');
}

/** Escapes text for inclusion in HTML or SVG. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
