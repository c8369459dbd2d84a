/**
 * Results across notebooks: `recordResult(name, history)` keeps what a training run reached, and
 * `compareResults()` puts the runs side by side, so that one notebook can compare itself with
 * another (the CNN trained from scratch with the transfer-learning notebook, the fine-tuned
 * network with its head alone), as the lesson does in words: "The final validation accuracy
 * reaches 64%, this is a huge improvement over 30% accuracy we reached with the simple
 * convolutional neural network that we build from scratch in the previous episode"
 * (carpentries-lab.github.io/deep-learning-intro, episode "Transfer learning").
 *
 * One small JSON file per result, `<results folder>/<slug of the name>.json`, written atomically
 * (a temporary file next to it, then a rename), so a reader never sees half a file. The results
 * folder is $TSLAB_DL_RESULTS when set, else `out/results/` in the project folder: the nearest
 * folder at or above the working folder (a notebook's own folder) with a package.json, else the
 * working folder itself.
 *
 * What a result holds: the name, the final and the best validation accuracy, the epochs run,
 * the date, optionally the training time, and, in lesson mode, which data and weights the run
 * used, as far as lesson mode knows them:
 * - data: the real Dollar Street 10 when the lesson's data folder (TSLAB_DL_DATA, else
 *   data/dataset_dollarstreet/ here or in a parent folder, as `loadDollarStreet` looks for it)
 *   holds the four files, else the synthetic twin; with the number of training images read;
 * - weights, from the model the History belongs to (`history.model`, which tslab-dl's fit sets,
 *   as Keras does; tfjs' own History has none, and then the weights stay unknown): none for a
 *   model with no frozen part (trained from scratch); for a pre-trained DenseNet121, what
 *   TSLAB_DL_WEIGHTS asked for, else ImageNet's file when it is in Keras' or tslab-dl's cache
 *   (lesson mode uses it, or downloads it there), else stand-in weights (what lesson mode falls
 *   back to offline). Other bases are not named (`extra.weights` can say).
 */
import * as fs from 'fs';
import * as path from 'path';
import type * as tf from '@tensorflow/tfjs';
import { DENSENET121_WEIGHTS_FILE_NO_TOP } from '../applications/densenet';
import { DEFAULT_DOLLAR_STREET_FOLDER, DOLLAR_STREET_FILES } from '../data/dollarstreet';
import { SYNTHETIC_MANIFEST } from '../data/synthetic';
import { writeFileAtomicSync } from '../core/atomic-write';
import { display, escapeXml, JUPYTER_DISPLAY, markShown, MimeBundle } from '../notebook/display';
import { DataFileError, ValueError } from '../core/errors';
import { INFERENCE_MODE } from '../layers/frozen';
import { valuesSyncIfReadable } from '../core/tensor-reads';
import { kerasCacheDir, tslabCacheDir } from '../weights/imagenet';
import { inLessonMode, lessonEnvironment, rememberedTrainingImageCount } from '../settings/lesson-environment';

/** The `format` field of a results file: what `compareResults` knows how to read. */
export const RESULT_FORMAT = 'tslab-dl result 1';

/** What `recordResult` writes, and `compareResults` reads back. */
export interface ResultRecord {
  format: typeof RESULT_FORMAT;
  /** The name given to recordResult, e.g. 'CNN from scratch'. */
  name: string;
  /** val_accuracy after the last epoch run, in [0, 1]. */
  finalValAccuracy: number;
  /** The highest val_accuracy of the run, in [0, 1]. */
  bestValAccuracy: number;
  /** The epoch (1-based, as fit's display counts) of the best val_accuracy. */
  bestEpoch: number;
  /** Epochs run in this history. */
  epochs: number;
  /** The first epoch of this history (1-based): above 1 when fit continued with initialEpoch. */
  firstEpoch: number;
  /** Training time in seconds, when given. */
  seconds?: number;
  /** The data the run used, when known (lesson mode) or given. */
  data?: string;
  /** The weights the run started from, when known (lesson mode) or given. */
  weights?: string;
  /** A free note, when given. */
  note?: string;
  /** When it was recorded, ISO 8601 (UTC). */
  date: string;
}

/** What `recordResult` takes besides the name and the history. */
export interface RecordExtra {
  /** Training time in seconds (the table shows seconds per epoch). */
  seconds?: number;
  /** The data the run used (defaults to what lesson mode knows). */
  data?: string;
  /** The weights the run started from (defaults to what lesson mode knows). */
  weights?: string;
  /** A short note shown with the result. */
  note?: string;
}

/** A result as `compareResults` returns it: the record and the file it came from. */
export interface ResultRow extends ResultRecord {
  file: string;
}

const EXTRA_KEYS = ['seconds', 'data', 'weights', 'note'] as const;

// ---------------------------------------------------------------------------------------------
// Where results go

/** The nearest folder at or above `start` that has a package.json, or undefined. */
function projectFolder(start = process.cwd()): string | undefined {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** $TSLAB_DL_RESULTS, else out/results/ in the project folder (see the file comment). */
export function resultsFolder(): string {
  const chosen = process.env.TSLAB_DL_RESULTS;
  if (chosen) return path.resolve(chosen);
  return path.join(projectFolder() ?? process.cwd(), 'out', 'results');
}

/** The file name of a result: 'Transfer learning (DenseNet121)' -> 'transfer-learning-densenet121'. */
export function resultSlug(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80)
    .replace(/-+$/, '');
  if (!slug) {
    throw new ValueError(
      `recordResult(name, ...): the name ${JSON.stringify(name)} has no letters or digits to name its file; use e.g. 'CNN from scratch'.`,
    );
  }
  return slug;
}

/** The file of the result named `name`. */
export function resultFile(name: string): string {
  return path.join(resultsFolder(), `${resultSlug(name)}.json`);
}

/** `file` relative to the project folder when it lies inside it (out/results/x.json), else absolute. */
function shortPath(file: string): string {
  const project = projectFolder();
  const relative = project ? path.relative(project, file) : '';
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file;
}

// ---------------------------------------------------------------------------------------------
// What lesson mode knows about the run

/** `relative` in the working folder or the nearest parent that has it (as lib/lesson/data.ts looks). */
function findUpwards(relative: string): string | undefined {
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, relative);
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The data lesson mode gave `loadDollarStreet(DATA_FOLDER)`, in words; undefined outside lesson mode. */
function lessonData(): string | undefined {
  if (!inLessonMode()) return undefined;
  const folder = lessonEnvironment().dataFolder ?? findUpwards(DEFAULT_DOLLAR_STREET_FOLDER);
  const complete = folder !== undefined && Object.values(DOLLAR_STREET_FILES).every((f) => fs.existsSync(path.join(folder, f)));
  const real = complete && !fs.existsSync(path.join(folder!, SYNTHETIC_MANIFEST));
  const images = rememberedTrainingImageCount();
  const count = images !== undefined ? `, ${images} training images` : '';
  return real ? `Dollar Street 10${count}` : `synthetic twin of Dollar Street 10${count}`;
}

/** Every layer of `model`, nested models opened. */
function flatLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.flatMap((layer) =>
    'layers' in layer && Array.isArray((layer as tf.LayersModel).layers) ? flatLayers(layer as tf.LayersModel) : [layer],
  );
}

/** The weights lesson mode gave the run's model, in words; undefined when not known. */
function lessonWeights(model: tf.LayersModel | undefined): string | undefined {
  if (!inLessonMode() || !model || !Array.isArray(model.layers)) return undefined;
  const layers = flatLayers(model);
  const pretrained = layers.some(
    (l) => (l.weights.length > 0 && !l.trainable) || (l as unknown as Record<symbol, boolean>)[INFERENCE_MODE],
  );
  if (!pretrained) return 'none (trained from scratch)';
  const names = new Set(layers.map((l) => l.name));
  // Keras' DenseNet121 (blocks 6, 12, 24, 16): its last block ends in conv5_block16_concat.
  if (!names.has('conv5_block16_concat') || names.has('conv5_block17_concat')) return undefined;
  const override = lessonEnvironment().weights;
  if (override === null) return 'DenseNet121, random initialisation (TSLAB_DL_WEIGHTS=none)';
  if (override === 'stand-in') return 'DenseNet121, stand-in (TSLAB_DL_WEIGHTS=stand-in)';
  if (override !== undefined) return `DenseNet121, ${path.basename(override)} (TSLAB_DL_WEIGHTS)`;
  const cached = [kerasCacheDir(), tslabCacheDir()].some((dir) => fs.existsSync(path.join(dir, DENSENET121_WEIGHTS_FILE_NO_TOP)));
  return cached ? 'DenseNet121, ImageNet' : 'DenseNet121, stand-in (ImageNet weights not reachable)';
}

// ---------------------------------------------------------------------------------------------
// Recording

function numberOf(value: unknown): number {
  if (typeof value === 'number') return value;
  // A tfjs History may still hold scalar tensors before syncData(); on webgpu one computed on
  // the GPU cannot be read synchronously (lib/core/tensor-reads.ts), and counts as missing.
  const tensor = value as { dataSync?: () => ArrayLike<number> } | null;
  const data =
    typeof tensor?.dataSync === 'function'
      ? (valuesSyncIfReadable(tensor as { dataSync(): never }) as ArrayLike<number> | undefined)
      : undefined;
  return data && data.length === 1 ? data[0] : NaN;
}

function checkExtra(extra: unknown): RecordExtra {
  if (extra === undefined) return {};
  if (extra === null || typeof extra !== 'object' || Array.isArray(extra)) {
    throw new ValueError(
      `recordResult(name, history, extra): extra must be an object such as { seconds: 42 }. Received ${JSON.stringify(extra)}.`,
    );
  }
  for (const [key, value] of Object.entries(extra)) {
    if (!(EXTRA_KEYS as readonly string[]).includes(key)) {
      throw new ValueError(
        `recordResult(name, history, extra): unknown field ${JSON.stringify(key)}; extra takes ${EXTRA_KEYS.join(', ')}.`,
      );
    }
    if (value === undefined) continue;
    if (key === 'seconds' ? !(typeof value === 'number' && Number.isFinite(value) && value >= 0) : typeof value !== 'string') {
      throw new ValueError(
        `recordResult(name, history, extra): extra.${key} must be ${key === 'seconds' ? 'a number of seconds (>= 0)' : 'a string'}. Received ${JSON.stringify(value)}.`,
      );
    }
  }
  return extra as RecordExtra;
}

/**
 * Saves what the run in `history` reached under `name`, replacing an earlier result of that name,
 * says where in one line, and returns the record. The result is one JSON file in
 * {@link resultsFolder} ($TSLAB_DL_RESULTS, else out/results/ in the project folder), written
 * atomically, so another notebook can compare itself with this run ({@link compareResults}).
 * In lesson mode the record also names the data and weights the run used.
 *
 * @param name - The result's name, e.g. 'Transfer learning (DenseNet121)'; it also names the file.
 * @param history - The History `model.fit` or {@link fit} returned; it must hold val_accuracy
 *   (train with `validationData` and `metrics: ['accuracy']`).
 * @param extra - Optional: the training time (`seconds`), and `data`, `weights` or a `note` where
 *   lesson mode does not know them.
 * @returns The {@link ResultRecord} written: final and best validation accuracy (0..1), best
 *   epoch, epochs run, date, and what `extra` and lesson mode add.
 * @throws A {@link ValueError} when `name` is empty or has no letters or digits, `history` has no
 *   val_accuracy (or a value that is not a number), or `extra` has an unknown or invalid field.
 * @throws A {@link DataFileError} when the results file cannot be written.
 *
 * @example
 * ```ts
 * import { recordResult } from 'tslab-dl';
 *
 * recordResult('Transfer learning (DenseNet121)', history);
 * ```
 */
export function recordResult(name: string, history: tf.History, extra?: RecordExtra): ResultRecord {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new ValueError(
      `recordResult(name, history): name must be a non-empty string such as 'CNN from scratch'. Received ${JSON.stringify(name)}.`,
    );
  }
  const values = (history as { history?: Record<string, unknown> } | null)?.history;
  if (values === null || typeof values !== 'object') {
    throw new ValueError(
      `recordResult(${JSON.stringify(name)}, history): history must be what model.fit returned. Received ${history === null ? 'null' : typeof history}.`,
    );
  }
  const column = (values.val_accuracy ?? values.val_acc) as ArrayLike<unknown> | undefined;
  if (!column || column.length === 0) {
    throw new ValueError(
      `recordResult(${JSON.stringify(name)}, history): the history has no val_accuracy ` +
        `(it has: ${Object.keys(values).join(', ') || 'nothing'}). Train with validationData: [valImages, valLabels] and metrics: ['accuracy'].`,
    );
  }
  const accuracies = Array.from(column, numberOf);
  if (accuracies.some((a) => !Number.isFinite(a))) {
    throw new ValueError(
      `recordResult(${JSON.stringify(name)}, history): val_accuracy holds a value that is not a number: ${JSON.stringify(accuracies)}.`,
    );
  }
  const { seconds, data, weights, note } = checkExtra(extra);
  const epochNumbers = Array.from((history as { epoch?: ArrayLike<number> }).epoch ?? [], Number);
  const firstEpoch = (epochNumbers.length === accuracies.length ? epochNumbers[0] : 0) + 1;
  const best = Math.max(...accuracies);
  const model = (history as unknown as { model?: tf.LayersModel }).model;
  const usedData = data ?? lessonData();
  const usedWeights = weights ?? lessonWeights(model);
  const record: ResultRecord = {
    format: RESULT_FORMAT,
    name: name.trim(),
    finalValAccuracy: accuracies[accuracies.length - 1],
    bestValAccuracy: best,
    bestEpoch: firstEpoch + accuracies.indexOf(best),
    epochs: accuracies.length,
    firstEpoch,
    ...(seconds !== undefined ? { seconds } : {}),
    ...(usedData !== undefined ? { data: usedData } : {}),
    ...(usedWeights !== undefined ? { weights: usedWeights } : {}),
    ...(note !== undefined ? { note } : {}),
    date: new Date().toISOString(),
  };
  const file = resultFile(record.name);
  try {
    writeFileAtomicSync(file, Buffer.from(JSON.stringify(record, null, 2) + '\n', 'utf8'));
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new DataFileError(
      file,
      `cannot be written (${reason}). Set TSLAB_DL_RESULTS to a writable folder, e.g. TSLAB_DL_RESULTS=/tmp/tslab-dl-results.`,
    );
  }
  console.log(`Saved "${record.name}" (best validation accuracy ${percent(best)}) to ${shortPath(file)}.`);
  // The line above says it all: a notebook shows no Out[n] for the returned record.
  return markShown(record);
}

// ---------------------------------------------------------------------------------------------
// Reading

function corrupt(file: string, what: string): DataFileError {
  return new DataFileError(
    file,
    `${what} It is not a result written by recordResult: delete it, or run the notebook that records it again.`,
  );
}

/** Reads and checks one results file; throws a DataFileError naming it when it is not one. */
export function readResult(file: string): ResultRow {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new DataFileError(file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}).`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw corrupt(file, `is not valid JSON (${(e as Error).message}).`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw corrupt(file, 'does not hold a JSON object.');
  const r = parsed as Record<string, unknown>;
  if (r.format !== RESULT_FORMAT) throw corrupt(file, `has format ${JSON.stringify(r.format)}, expected ${JSON.stringify(RESULT_FORMAT)}.`);
  const fraction = (key: string) => {
    if (!(typeof r[key] === 'number' && (r[key] as number) >= 0 && (r[key] as number) <= 1))
      throw corrupt(file, `has ${key} ${JSON.stringify(r[key])}, expected a number in [0, 1].`);
  };
  const count = (key: string) => {
    if (!(Number.isInteger(r[key]) && (r[key] as number) >= 1))
      throw corrupt(file, `has ${key} ${JSON.stringify(r[key])}, expected a positive integer.`);
  };
  const textField = (key: string, optional: boolean) => {
    if (!(typeof r[key] === 'string' || (optional && r[key] === undefined)))
      throw corrupt(file, `has ${key} ${JSON.stringify(r[key])}, expected a string.`);
  };
  textField('name', false);
  fraction('finalValAccuracy');
  fraction('bestValAccuracy');
  count('bestEpoch');
  count('epochs');
  count('firstEpoch');
  textField('data', true);
  textField('weights', true);
  textField('note', true);
  textField('date', false);
  if (r.seconds !== undefined && !(typeof r.seconds === 'number' && r.seconds >= 0))
    throw corrupt(file, `has seconds ${JSON.stringify(r.seconds)}, expected a number >= 0.`);
  return { ...(r as unknown as ResultRecord), file };
}

/** The results in the results folder: those named (in that order, `missing` the others), or all, oldest first. */
export function readResults(names?: readonly string[]): { rows: ResultRow[]; missing: string[]; folder: string } {
  const folder = resultsFolder();
  if (names !== undefined) {
    if (!Array.isArray(names) || names.some((n) => typeof n !== 'string')) {
      throw new ValueError(
        `compareResults(names): names must be an array of result names, e.g. ['CNN from scratch']. Received ${JSON.stringify(names)}.`,
      );
    }
    const rows: ResultRow[] = [];
    const missing: string[] = [];
    for (const name of names) {
      const file = resultFile(name);
      if (fs.existsSync(file)) rows.push(readResult(file));
      else missing.push(name);
    }
    return { rows, missing, folder };
  }
  const files = fs.existsSync(folder)
    ? fs
        .readdirSync(folder)
        .filter((f) => f.endsWith('.json'))
        .sort()
    : [];
  const rows = files.map((f) => readResult(path.join(folder, f)));
  rows.sort((a, b) => a.date.localeCompare(b.date));
  return { rows, missing: [], folder };
}

// ---------------------------------------------------------------------------------------------
// Showing

function percent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function epochsText(r: ResultRecord): string {
  return r.firstEpoch > 1 ? `${r.firstEpoch}-${r.firstEpoch + r.epochs - 1}` : String(r.epochs);
}

function perEpoch(r: ResultRecord): string {
  return r.seconds !== undefined ? (r.seconds / r.epochs).toFixed(1) : '-';
}

function dateText(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')} ${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

const COLUMNS: { title: string; cell: (r: ResultRow) => string; numeric?: boolean }[] = [
  { title: 'Model', cell: (r) => r.name },
  { title: 'Best val. accuracy', cell: (r) => `${percent(r.bestValAccuracy)} (epoch ${r.bestEpoch})`, numeric: true },
  { title: 'Final val. accuracy', cell: (r) => percent(r.finalValAccuracy), numeric: true },
  { title: 'Epochs', cell: epochsText, numeric: true },
  { title: 's / epoch', cell: perEpoch, numeric: true },
  { title: 'Data', cell: (r) => r.data ?? '-' },
  { title: 'Weights', cell: (r) => r.weights ?? '-' },
  { title: 'Recorded', cell: (r) => dateText(r.date) },
];

/** The lines under the table: what is missing, and whether the rows are comparable. */
function notes(rows: ResultRow[], missing: string[], folder: string): string[] {
  const lines = missing.map(
    (name) =>
      `No result named "${name}" in ${shortPath(folder)} yet: run the notebook that records it (recordResult('${name}', history)) first, then this cell again.`,
  );
  if (rows.length === 0 && missing.length === 0)
    lines.push(`No results in ${shortPath(folder)} yet: recordResult(name, history) saves one after training.`);
  const data = new Set(rows.map((r) => r.data).filter((d) => d !== undefined));
  if (data.size > 1) lines.push(`Careful: these runs used different data (${[...data].join('; ')}); their accuracies do not compare.`);
  return lines;
}

/** The comparison as a displayable table: HTML in a notebook, text elsewhere. */
export function resultsTable(rows: ResultRow[], missing: string[] = [], folder = resultsFolder()): { [JUPYTER_DISPLAY](): MimeBundle } {
  const cells = rows.map((r) => COLUMNS.map((c) => c.cell(r)));
  const widths = COLUMNS.map((c, i) => Math.max(c.title.length, ...cells.map((row) => row[i].length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (COLUMNS[i].numeric ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const extra = notes(rows, missing, folder);
  const title = `Results in ${shortPath(folder)}`;
  const text = [title, ...(rows.length ? [line(COLUMNS.map((c) => c.title)), ...cells.map(line)] : []), ...extra].join('\n');
  const td = (v: string, i: number, tag = 'td') =>
    `<${tag} style="text-align:${COLUMNS[i].numeric ? 'right' : 'left'}">${escapeXml(v)}</${tag}>`;
  const html =
    `<div><b>${escapeXml(title)}</b>` +
    (rows.length
      ? `<table><thead><tr>${COLUMNS.map((c, i) => td(c.title, i, 'th')).join('')}</tr></thead>` +
        `<tbody>${cells.map((row) => `<tr>${row.map((v, i) => td(v, i)).join('')}</tr>`).join('')}</tbody></table>`
      : '') +
    extra.map((l) => `<p>${escapeXml(l)}</p>`).join('') +
    `</div>`;
  return { [JUPYTER_DISPLAY]: () => ({ 'text/plain': text, 'text/html': html }) };
}

/**
 * Shows the recorded results side by side (an HTML table in a notebook, text elsewhere) and
 * returns them: those named, in that order (saying which are not recorded yet), or all of them.
 * The table has the best and final validation accuracy, the epochs, seconds per epoch, the data
 * and weights, and when each was recorded.
 *
 * @param names - The names given to {@link recordResult}, in the order to show. Defaults to every
 *   result in {@link resultsFolder}, oldest first.
 * @returns The results found, one {@link ResultRow} each (names not recorded yet are left out,
 *   and the table says so).
 * @throws A {@link ValueError} when `names` is not an array of strings.
 * @throws A {@link DataFileError} when a results file cannot be read or is not a result.
 *
 * @example
 * ```ts
 * import { compareResults } from 'tslab-dl';
 *
 * compareResults(['Transfer learning (DenseNet121)', 'CNN from scratch']);
 * ```
 */
export function compareResults(names?: readonly string[]): ResultRow[] {
  const { rows, missing, folder } = readResults(names);
  display(resultsTable(rows, missing, folder));
  return markShown(rows);
}
