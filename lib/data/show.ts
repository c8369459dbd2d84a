/**
 * Looking at the data: a grid of images with their class names, as the
 * previous episode's matplotlib grid. In a notebook the grid shows inline
 * (HTML with one PNG per image and its caption; the bundle also carries the
 * whole grid as one PNG); in a terminal a text summary is printed, and the
 * grid can be written to a PNG file.
 */
import * as path from 'path';
import { inspect } from 'util';
import * as tf from '@tensorflow/tfjs';
import { display, escapeXml, JUPYTER_DISPLAY, markShown, MimeBundle } from '../notebook/display';
import { ValueError } from '../core/errors';
import { encodePng } from '../notebook/png';
import { canReadSync, valuesSync } from '../core/tensor-reads';
import { writeFileAtomicSync } from '../core/atomic-write';
import { DOLLAR_STREET_CLASSES } from './dollarstreet';

/** Options of {@link showImages} and {@link imageGrid}. */
export interface ShowImagesOptions {
  /** How many images, from the first. Defaults to 25 (or all, when there are fewer). */
  count?: number;
  /** Images per row. Defaults to 5, or more for large counts (about a square grid). */
  columns?: number;
  /** Names of label values 0, 1, ... Defaults to DOLLAR_STREET_CLASSES. */
  classNames?: readonly string[];
  /** Integer magnification of each pixel. Defaults to whatever makes each image about 128 pixels wide. */
  scale?: number;
  /** Also write the grid as a PNG to this file. Defaults to none. */
  file?: string;
}

/** A grid of images, ready to show or save. */
export interface ImageGrid {
  /** The grid as one PNG (without captions). */
  png: Buffer;
  /** The PNG's width in pixels. */
  width: number;
  /** The PNG's height in pixels. */
  height: number;
  /** How many images are shown. */
  count: number;
  /** Images per row. */
  columns: number;
  /** Rows of images. */
  rows: number;
  /** The caption of each image (class name and index, or the image number without labels). */
  captions: string[];
  /** HTML with each image embedded as a data URI above its caption. */
  html: string;
  /** The text summary printed in terminals. */
  text: string;
  /** The MIME bundle shown in notebooks: text/html, image/png (base64), text/plain. */
  bundle: MimeBundle;
  /** The file the PNG was written to, when `options.file` was given. */
  file?: string;
}

const GAP = 4; // pixels between images in the grid PNG

/**
 * The values of the first `count` images, read synchronously. On webgpu a slice would be computed
 * on the GPU, which that backend cannot read synchronously: the images' own values are read
 * instead (there when they were made from data, as loadDollarStreet makes them), else the error
 * says how to read them first (lib/core/tensor-reads.ts).
 */
function firstImages(images: tf.Tensor, count: number): ArrayLike<number> {
  const [, h, w, channels] = images.shape;
  if (canReadSync()) return tf.tidy(() => images.slice([0, 0, 0, 0], [count, h, w, channels]).dataSync());
  return (valuesSync(images, 'showImages(images)') as tf.TypedArray).subarray(0, count * h * w * channels);
}

/** Pixels of the first `count` images as bytes 0..255, with the shape [count, h, w, channels]. */
function imageBytes(images: tf.Tensor, count: number): { bytes: Uint8Array; h: number; w: number; channels: number; range: string } {
  const [, h, w, channels] = images.shape;
  const values = firstImages(images, count);
  let max = -Infinity;
  let min = Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > max) max = values[i];
    if (values[i] < min) min = values[i];
  }
  // Images already scaled for the model (0..1) are shown as they would be at 0..255.
  const factor = images.dtype === 'float32' && max <= 1 ? 255 : 1;
  const bytes = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.round(values[i] * factor);
    bytes[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  const range = `values ${formatNumber(min)}..${formatNumber(max)}${factor === 255 ? ', shown as 0..1 scaled to 0..255' : ''}`;
  return { bytes, h, w, channels, range };
}

function formatNumber(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(3);
}

function labelValues(labels: tf.Tensor | ArrayLike<number> | undefined, count: number, available: number): number[] | undefined {
  if (labels === undefined) return undefined;
  let values: number[];
  if (labels instanceof tf.Tensor) {
    if (labels.rank !== 1 && !(labels.rank === 2 && labels.shape[1] === 1)) {
      throw new ValueError(`showImages(labels): expected a tensor of shape [n] (one class index per image). Received shape [${labels.shape}].`);
    }
    values = Array.from(valuesSync(labels, 'showImages(images, labels)') as tf.TypedArray);
  } else {
    values = Array.from(labels, Number);
  }
  if (values.length !== available) {
    throw new ValueError(`showImages(labels): ${values.length} labels for ${available} images; pass one label per image.`);
  }
  return values.slice(0, count);
}

/** Each tile as RGB bytes (greyscale images are repeated over the three channels). */
function tileRgb(bytes: Uint8Array, index: number, h: number, w: number, channels: number): Uint8Array {
  const rgb = new Uint8Array(h * w * 3);
  const start = index * h * w * channels;
  for (let p = 0; p < h * w; p++) {
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = bytes[start + p * channels + (channels === 3 ? c : 0)];
  }
  return rgb;
}

/** Builds the grid (no display): data in, PNG, HTML and text out. */
export function imageGrid(
  images: tf.Tensor,
  labels?: tf.Tensor | ArrayLike<number>,
  options: ShowImagesOptions = {},
): ImageGrid & { [JUPYTER_DISPLAY](): MimeBundle } {
  if (!(images instanceof tf.Tensor) || images.rank !== 4 || (images.shape[3] !== 3 && images.shape[3] !== 1)) {
    const got = images instanceof tf.Tensor ? `a tensor of shape [${images.shape}]` : Object.prototype.toString.call(images);
    throw new ValueError(`showImages(images): expected a tensor of shape [n, height, width, 3] (or 1 channel). Received ${got}.`);
  }
  if (images.isDisposed) throw new ValueError('showImages(images): the tensor has been disposed.');
  const available = images.shape[0];
  const count = options.count ?? Math.min(25, available);
  if (!Number.isInteger(count) || count < 1) {
    throw new ValueError(`showImages(options.count): must be a positive integer. Received ${options.count}.`);
  }
  const shown = Math.min(count, available);
  const columns = options.columns ?? Math.min(shown, Math.max(5, Math.ceil(Math.sqrt(shown))));
  if (!Number.isInteger(columns) || columns < 1) {
    throw new ValueError(`showImages(options.columns): must be a positive integer. Received ${options.columns}.`);
  }
  const classNames = options.classNames ?? DOLLAR_STREET_CLASSES;
  const labelList = labelValues(labels, shown, available);
  const { bytes, h, w, channels, range } = imageBytes(images, shown);
  const scale = options.scale ?? Math.max(1, Math.round(128 / Math.max(h, w)));
  if (!Number.isInteger(scale) || scale < 1) {
    throw new ValueError(`showImages(options.scale): must be a positive integer. Received ${options.scale}.`);
  }

  const captions = Array.from({ length: shown }, (_, i) => {
    if (!labelList) return `#${i}`;
    const label = labelList[i];
    return classNames[label] !== undefined ? `${classNames[label]} (${label})` : `label ${label}`;
  });

  // One PNG for the whole grid, white gaps between images.
  const rows = Math.ceil(shown / columns);
  const tileW = w * scale;
  const tileH = h * scale;
  const width = columns * tileW + (columns - 1) * GAP;
  const height = rows * tileH + (rows - 1) * GAP;
  const grid = new Uint8Array(width * height * 3).fill(255);
  const tiles: Uint8Array[] = [];
  for (let i = 0; i < shown; i++) {
    const tile = tileRgb(bytes, i, h, w, channels);
    tiles.push(tile);
    const x0 = (i % columns) * (tileW + GAP);
    const y0 = Math.floor(i / columns) * (tileH + GAP);
    for (let y = 0; y < tileH; y++) {
      const sourceRow = Math.floor(y / scale) * w;
      const rowStart = ((y0 + y) * width + x0) * 3;
      for (let x = 0; x < tileW; x++) {
        const s = (sourceRow + Math.floor(x / scale)) * 3;
        const d = rowStart + x * 3;
        grid[d] = tile[s];
        grid[d + 1] = tile[s + 1];
        grid[d + 2] = tile[s + 2];
      }
    }
  }
  const png = encodePng(width, height, grid, 3);

  const figures = tiles.map(
    (tile, i) =>
      `<figure style="margin:0;text-align:center">` +
      `<img src="data:image/png;base64,${encodePng(w, h, tile, 3).toString('base64')}" width="${tileW}" height="${tileH}" ` +
      `style="image-rendering:pixelated" alt="${escapeXml(captions[i])}">` +
      `<figcaption style="font:12px sans-serif;max-width:${tileW}px">${escapeXml(captions[i])}</figcaption></figure>`,
  );
  const html =
    `<div style="display:grid;grid-template-columns:repeat(${columns},${tileW}px);gap:${GAP * 2}px">` +
    `${figures.join('')}</div>`;

  const header = `${shown} of ${available} images, ${h}x${w}x${channels} (${range})`;
  const lines = [header + (labelList ? ':' : '')];
  if (labelList) {
    for (let r = 0; r < rows; r++) lines.push(`  ${captions.slice(r * columns, (r + 1) * columns).join(', ')}`);
  }
  let file: string | undefined;
  if (options.file) {
    file = path.resolve(options.file);
    writeFileAtomicSync(file, png);
    lines.push(`Grid (${width}x${height} pixels) saved to ${file}`);
  }
  const text = lines.join('\n');
  const bundle: MimeBundle = {
    'text/plain': text,
    'text/html': html,
    'image/png': png.toString('base64'),
  };
  return {
    png,
    width,
    height,
    count: shown,
    columns,
    rows,
    captions,
    html,
    text,
    bundle,
    ...(file ? { file } : {}),
    [JUPYTER_DISPLAY]: () => bundle,
  };
}

/**
 * Shows a grid of images with their class names: inline in a notebook, as a
 * text summary in a terminal (and as a PNG file with `{ file }`).
 * Accepts images [n, h, w, 3] in 0..255, or in 0..1 (detected: float32 with max <= 1).
 * Returns the grid (PNG, HTML, text); as a cell's last value it prints as one summary line.
 *
 * @param images - Images [n, height, width, 3] (or 1 channel), values 0..255 or 0..1.
 * @param labels - Optional class indices [n] (a tensor or an array), shown as captions with their
 *   class names; without them each image is captioned with its number.
 * @param options - How many images (default 25), images per row, class names (default
 *   {@link DOLLAR_STREET_CLASSES}), pixel magnification, and a PNG file to write.
 * @returns The grid: one PNG, HTML with a caption under each image, and the text summary.
 * @throws A {@link ValueError} when `images` is not [n, height, width, 3 or 1] or is disposed, the
 *   labels do not match the images, or `count`, `columns` or `scale` is not a positive integer.
 *
 * @example
 * ```ts
 * import { showImages } from 'tslab-dl';
 *
 * console.log('train images', trainImages.shape, 'validation images', valImages.shape);
 * showImages(trainImages, trainLabels, { count: 10 });
 * ```
 */
export function showImages(images: tf.Tensor, labels?: tf.Tensor | ArrayLike<number>, options: ShowImagesOptions = {}): ImageGrid {
  const grid = imageGrid(images, labels, options);
  display(grid);
  // Marked as shown, so a kernel that shows a cell's last value does not show it twice;
  // `display(grid)` later shows it again.
  Object.defineProperty(grid, inspect.custom, {
    enumerable: false,
    value: () => `ImageGrid { ${grid.count} images, ${grid.columns} per row, PNG ${grid.width}x${grid.height}${grid.file ? `, saved to ${grid.file}` : ''} }`,
  });
  return markShown(grid);
}
