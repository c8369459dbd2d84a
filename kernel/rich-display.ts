/**
 * The MIME bundle of a cell's value (its Out[n]).
 *
 * - An object with a `Symbol.for('Jupyter.display')` method shows what that
 *   method returns (Deno's convention; binary data is sent as base64).
 * - A tf.Tensor shows like `tensor.print(true)`: dtype, rank, shape, values;
 *   plus an HTML table. Its values are read asynchronously (`await t.data()`):
 *   the webgpu backend cannot read a tensor computed on the GPU synchronously
 *   in Node (no OffscreenCanvas), and keeps on the CPU what it has read.
 * - A tf.LayersModel shows its summary table, with total, trainable and
 *   non-trainable parameter counts, as text and as HTML.
 * - A symbolic tensor (a layer's output while building a model) shows in one
 *   line, as Keras shows a KerasTensor: shape, dtype and the layer it comes from.
 * - Anything else shows as `util.inspect` writes it.
 *
 * Tensors and models are recognised by shape, not by class, so values from
 * another copy of TensorFlow.js show the same way.
 */
import { inspect } from 'util';
import { JUPYTER_DISPLAY, MimeBundle, escapeXml } from '../lib/notebook/display';
import { countParams, formatCount, kerasTotalsLine, totalsLine } from '../lib/train/param-counts';

/** The parts of a tf.Tensor used here. */
interface TensorLike {
  dtype: string;
  shape: number[];
  rank: number;
  size: number;
  isDisposed: boolean;
  toString(verbose?: boolean): string;
  arraySync(): unknown;
  data(): Promise<ArrayLike<unknown>>;
  array(): Promise<unknown>;
}

/** The parts of a tf.LayersModel used here. */
interface ModelLike {
  name: string;
  layers: LayerLike[];
  summary(lineLength?: number, positions?: number[], printFn?: (message?: unknown, ...rest: unknown[]) => void): void;
  trainableWeights: WeightLike[];
  nonTrainableWeights: WeightLike[];
}

interface LayerLike {
  name: string;
  outputShape: unknown;
  getClassName(): string;
  countParams(): number;
}

interface WeightLike {
  shape: number[];
}

/** Tables larger than this are shown as text, not HTML cells. */
const MAX_TABLE_CELLS = 400;

export function isTensorLike(value: unknown): value is TensorLike {
  const v = value as TensorLike;
  return (
    v != null &&
    typeof v === 'object' &&
    typeof v.dtype === 'string' &&
    Array.isArray(v.shape) &&
    typeof v.rank === 'number' &&
    typeof v.arraySync === 'function' &&
    'isDisposed' in v
  );
}

/** The parts of a tf.SymbolicTensor used here. */
interface SymbolicTensorLike {
  dtype: string;
  shape: (number | null)[];
  name: string;
  sourceLayer: LayerLike;
}

function isSymbolicTensorLike(value: unknown): value is SymbolicTensorLike {
  const v = value as SymbolicTensorLike;
  return (
    v != null &&
    typeof v === 'object' &&
    typeof v.dtype === 'string' &&
    Array.isArray(v.shape) &&
    v.sourceLayer != null &&
    typeof v.sourceLayer.getClassName === 'function' &&
    !('arraySync' in v)
  );
}

/** e.g. `<SymbolicTensor shape=(None, 10), dtype=float32, from dense_Dense2 (Dense)>`. */
function symbolicTensorText(t: SymbolicTensorLike): string {
  const dims = t.shape.map((d) => (d === null ? 'None' : String(d)));
  const shape = `(${dims.join(', ')}${dims.length === 1 ? ',' : ''})`;
  return `<SymbolicTensor shape=${shape}, dtype=${t.dtype}, from ${t.sourceLayer.name} (${t.sourceLayer.getClassName()})>`;
}

export function isModelLike(value: unknown): value is ModelLike {
  const v = value as ModelLike;
  return (
    v != null &&
    typeof v === 'object' &&
    Array.isArray(v.layers) &&
    typeof v.summary === 'function' &&
    Array.isArray(v.trainableWeights) &&
    Array.isArray(v.nonTrainableWeights)
  );
}

/** Base64 for binary parts, as Jupyter expects them. */
export function encodeBundle(data: MimeBundle): MimeBundle {
  const out: MimeBundle = {};
  for (const [mime, value] of Object.entries(data)) {
    out[mime] = value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value;
  }
  return out;
}

export async function mimeBundleOf(value: unknown): Promise<MimeBundle> {
  const own = (value as { [JUPYTER_DISPLAY]?: unknown } | null)?.[JUPYTER_DISPLAY];
  if (value != null && typeof own === 'function') {
    const bundle = await own.call(value);
    if (bundle == null || typeof bundle !== 'object') {
      throw new TypeError(`[Symbol.for('Jupyter.display')]() must return a MIME bundle object; it returned ${inspect(bundle)}.`);
    }
    return encodeBundle(bundle as MimeBundle);
  }
  if (isTensorLike(value)) return await tensorBundle(value);
  if (isSymbolicTensorLike(value)) return { 'text/plain': symbolicTensorText(value) };
  if (isModelLike(value)) {
    const bundle = modelBundle(value);
    if (bundle) return bundle;
  }
  return { 'text/plain': inspect(value) };
}

export async function tensorBundle(tensor: TensorLike): Promise<MimeBundle> {
  const shape = `[${tensor.shape.join(',')}]`;
  if (tensor.isDisposed) {
    const text = `Tensor (disposed)\n  dtype: ${tensor.dtype}\n  rank: ${tensor.rank}\n  shape: ${shape}`;
    return { 'text/plain': text };
  }
  const values = await tensor.data();
  const text = verboseText(tensor, values);
  const caption = `Tensor &nbsp; dtype <code>${escapeXml(tensor.dtype)}</code> &nbsp; rank ${tensor.rank} &nbsp; shape <code>${escapeXml(shape)}</code>`;
  let body: string;
  if (tensor.rank <= 2 && tensor.size <= MAX_TABLE_CELLS && tensor.size > 0) {
    const nested = await tensor.array();
    const rows = (tensor.rank === 0 ? [[nested]] : tensor.rank === 1 ? [nested as unknown[]] : (nested as unknown[][])) as unknown[][];
    const cells = rows.map((row) => `<tr>${row.map((v) => `<td>${escapeXml(formatScalar(v))}</td>`).join('')}</tr>`);
    body = `<table style="font-family:monospace">${cells.join('')}</table>`;
  } else {
    body = `<pre>${escapeXml(text.replace(/^[\s\S]*?\n {2}values[^\n]*:\n/, ''))}</pre>`;
  }
  return { 'text/plain': text, 'text/html': `<div><div>${caption}</div>${body}</div>` };
}

/** Values shown in full when tfjs cannot format them (below). */
const PLAIN_VALUES = 100;

/**
 * What `tensor.toString(true)` (and so `print(true)`) writes, once `values` have been read
 * asynchronously: tfjs formats them from what the backend holds on the CPU. Should a backend not
 * keep what it read, the values already read are listed plainly instead of failing the cell.
 */
function verboseText(tensor: TensorLike, values: ArrayLike<unknown>): string {
  try {
    return tensor.toString(true);
  } catch {
    const shown = Array.from({ length: Math.min(values.length, PLAIN_VALUES) }, (_, i) => formatScalar(values[i]));
    const which = values.length > PLAIN_VALUES ? `flat, the first ${PLAIN_VALUES} of ${values.length}` : 'flat';
    return (
      `Tensor\n  dtype: ${tensor.dtype}\n  rank: ${tensor.rank}\n  shape: [${tensor.shape.join(',')}]\n` +
      `  values (${which}):\n    [${shown.join(', ')}${values.length > PLAIN_VALUES ? ', ...' : ''}]`
    );
  }
}

function formatScalar(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** The summary of a model; undefined when the model cannot summarise itself (not built yet). */
export function modelBundle(model: ModelLike): MimeBundle | undefined {
  const lines: string[] = [];
  try {
    model.summary(undefined, undefined, (message?: unknown, ...rest: unknown[]) => {
      // Keras' totals whether or not tslab-dl (which patches model.summary the same way) is loaded.
      lines.push(kerasTotalsLine([message, ...rest].map(String).join(' ')));
    });
  } catch {
    return undefined;
  }
  // Counted as model.summary() counts them: trainable weights as collected at compile time, if compiled.
  const collected = (model as unknown as { collectedTrainableWeights?: WeightLike[] }).collectedTrainableWeights;
  const trainable = countParams(collected ?? model.trainableWeights);
  const nonTrainable = countParams(model.nonTrainableWeights);
  const rows = model.layers.map((layer) => {
    let outputShape: string;
    try {
      outputShape = JSON.stringify(layer.outputShape);
    } catch {
      outputShape = 'multiple';
    }
    return (
      `<tr><td>${escapeXml(layer.name)} (${escapeXml(layer.getClassName())})</td>` +
      `<td>${escapeXml(outputShape)}</td><td style="text-align:right">${formatCount(layer.countParams())}</td></tr>`
    );
  });
  const html =
    `<div><div><b>Model: ${escapeXml(model.name)}</b></div>` +
    `<table><thead><tr><th>Layer (type)</th><th>Output shape</th><th>Param #</th></tr></thead>` +
    `<tbody>${rows.join('')}</tbody></table>` +
    `<div>${escapeXml(totalsLine('Total', trainable + nonTrainable))}</div>` +
    `<div>${escapeXml(totalsLine('Trainable', trainable))}</div>` +
    `<div>${escapeXml(totalsLine('Non-trainable', nonTrainable))}</div></div>`;
  return { 'text/plain': lines.join('\n'), 'text/html': html };
}
