/**
 * The lesson's history plot as data: `historyFigure(history, metrics)` is a pure function from a
 * training History to a Vega-Lite spec (data inline), like the lesson's `plot_history` (seaborn
 * line plot of the chosen columns against the epoch, x label "epochs", y label "metric"). The spec
 * is the one figure source: the static SVG is what Vega renders from it (./vega-render.ts) and the
 * PNG is resvg's rendering of that SVG, so every notebook front end shows the same figure.
 */
import * as fs from 'fs';
import * as path from 'path';
import { JUPYTER_DISPLAY, MimeBundle } from '../notebook/display';
import { ValueError } from '../core/errors';
import { writeFileAtomicSync } from '../core/atomic-write';
import { valuesSyncIfReadable } from '../core/tensor-reads';
import { svgToPng, VEGA_LITE_CONFIG, VEGA_LITE_MIME, VEGA_LITE_SCHEMA, vegaSvg, VegaLiteSpec } from './vega-render';

export { VEGA_LITE_MIME } from './vega-render';
export type { VegaLiteSpec } from './vega-render';

/** One line of a history figure: its metric (in the legend) and its points. */
export interface Series {
  /** The metric, e.g. 'val_accuracy'. */
  name: string;
  /** x = epoch, y = value; a NaN/infinite y leaves a gap in the line. */
  points: { x: number; y: number }[];
}

/** Anything shaped like Keras' or tfjs' History, or its `history` dictionary itself. */
export type HistoryLike =
  { history: { [metric: string]: ArrayLike<unknown> }; epoch?: ArrayLike<number> } | { [metric: string]: ArrayLike<unknown> };

/** The title and size of a history figure ({@link historyFigure}, {@link plotHistory}). */
export interface FigureOptions {
  /** Title above the plot. Defaults to none, as in the lesson. */
  title?: string;
  /** Width in pixels, 100..10000. Defaults to 640. */
  width?: number;
  /** Height in pixels, 100..10000. Defaults to 400. */
  height?: number;
}

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

function split(history: HistoryLike): { values: { [metric: string]: ArrayLike<unknown> }; epoch?: ArrayLike<number> } {
  const h = history as { history?: unknown; epoch?: ArrayLike<number> };
  if (h && typeof h.history === 'object' && h.history !== null && !Array.isArray(h.history)) {
    return { values: h.history as { [metric: string]: ArrayLike<unknown> }, epoch: h.epoch };
  }
  return { values: history as { [metric: string]: ArrayLike<unknown> } };
}

/**
 * A training-history plot (what {@link plotHistory} and {@link historyFigure} return): the metrics
 * against the epoch as a Vega-Lite spec and the static SVG Vega renders from it; `png()` and
 * `save(file)` render it. A notebook displays it as the SVG (and the Vega-Lite spec).
 */
export class HistoryFigure {
  constructor(
    /** The metrics plotted, e.g. ['accuracy', 'val_accuracy']. */
    readonly metrics: string[],
    /** x = epoch (0-based, as the lesson's pandas index), y = value; NaN where missing. */
    readonly series: Series[],
    /** The figure as an SVG document: what Vega renders from {@link HistoryFigure.vegaLite}. */
    readonly svg: string,
    /** The figure as a Vega-Lite spec, data inline. */
    readonly vegaLite: VegaLiteSpec,
  ) {}

  /** One line for text-only front ends and logs. */
  text(): string {
    const epochs = Math.max(0, ...this.series.map((s) => s.points.length));
    const last = this.series.map((s) => `${s.name} ${s.points.length ? s.points[s.points.length - 1].y.toFixed(4) : '-'}`).join(', ');
    return `History plot of ${this.metrics.join(', ')} over ${epochs} epoch${epochs === 1 ? '' : 's'} (last: ${last})`;
  }

  /** The PNG rendering (resvg, system fonts), at `scale` times the figure's size. */
  png(scale = 1): Buffer {
    return svgToPng(this.svg, scale);
  }

  /**
   * Writes the figure to `file`, as SVG (.svg) or PNG (.png), atomically (complete or absent),
   * creating its folder. Returns the absolute path.
   */
  save(file: string, { scale = 1 }: { scale?: number } = {}): string {
    const extension = path.extname(file).toLowerCase();
    if (extension !== '.svg' && extension !== '.png') {
      throw new ValueError(`plotHistory(..., { file }): the file name must end in .svg or .png. Received ${JSON.stringify(file)}.`);
    }
    const absolute = path.resolve(file);
    if (fs.existsSync(absolute) && fs.statSync(absolute).isDirectory()) {
      throw new ValueError(
        `plotHistory(..., { file }): ${absolute} is a folder; give a file name such as ${path.join(file, 'history.svg')}.`,
      );
    }
    const data = extension === '.svg' ? Buffer.from(this.svg, 'utf8') : this.png(scale);
    writeFileAtomicSync(absolute, data);
    return absolute;
  }

  [JUPYTER_DISPLAY](): MimeBundle {
    // Classic Notebook and nbconvert show the SVG, JupyterLab the interactive Vega-Lite: one figure,
    // as the SVG is Vega's rendering of the spec.
    return { 'image/svg+xml': this.svg, [VEGA_LITE_MIME]: this.vegaLite, 'text/plain': this.text() };
  }
}

/**
 * The figure for `metrics` of `history` (pure: no display, no file):
 * `historyFigure(history, ['accuracy', 'val_accuracy']).svg`.
 */
export function historyFigure(
  history: HistoryLike,
  metrics: readonly string[] = ['accuracy', 'val_accuracy'],
  options: FigureOptions = {},
): HistoryFigure {
  if (history == null || typeof history !== 'object') {
    throw new ValueError(
      `plotHistory(history, metrics): history must be the History returned by fit(). Received ${history === null ? 'null' : typeof history}.`,
    );
  }
  if (!Array.isArray(metrics) || metrics.length === 0 || metrics.some((m) => typeof m !== 'string')) {
    throw new ValueError(
      `plotHistory(history, metrics): metrics must be a non-empty array of names, e.g. ['accuracy', 'val_accuracy']. Received ${JSON.stringify(metrics)}.`,
    );
  }
  const { width = 640, height = 400, title } = options;
  for (const [name, value] of Object.entries({ width, height })) {
    if (!Number.isInteger(value) || value < 100 || value > 10000) {
      throw new ValueError(
        `plotHistory(..., { ${name} }): expected a whole number of pixels between 100 and 10000. Received ${JSON.stringify(value)}.`,
      );
    }
  }
  const { values, epoch } = split(history);
  const available = Object.keys(values);
  const series: Series[] = metrics.map((metric) => {
    const column = values[metric];
    if (column === undefined) {
      const acc = metric.replace(/accuracy$/, 'acc');
      const hint = metric.startsWith('val_')
        ? ' Validation metrics need validationData in fit().'
        : acc !== metric && available.includes(acc)
          ? ` The history has "${acc}": it was trained before tslab-dl was loaded; compile again after importing tslab-dl.`
          : '';
      throw new ValueError(
        `plotHistory(history, metrics): the history has no "${metric}". It has: ${available.join(', ') || 'nothing'}.${hint}`,
      );
    }
    const points = Array.from(column as ArrayLike<unknown>, (v, i) => ({
      x: epoch && epoch.length > i ? Number(epoch[i]) : i,
      y: numberOf(v),
    }));
    return { name: metric, points };
  });
  const vegaLite: VegaLiteSpec = {
    $schema: VEGA_LITE_SCHEMA,
    description: `Training history: ${metrics.join(', ')} by epoch`,
    ...(title ? { title } : {}),
    // The whole figure (axes, legend and title included) is width x height pixels.
    width,
    height,
    autosize: { type: 'fit', contains: 'padding' },
    padding: 10,
    // A missing value (NaN) is a null row: it breaks the line there, as a gap.
    data: {
      values: series.flatMap((s) =>
        s.points.filter((p) => Number.isFinite(p.x)).map((p) => ({ epoch: p.x, metric: s.name, value: Number.isFinite(p.y) ? p.y : null })),
      ),
    },
    mark: { type: 'line', point: true, tooltip: true, strokeWidth: 2 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epochs', axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'value', type: 'quantitative', title: 'metric', scale: { zero: false } },
      color: { field: 'metric', type: 'nominal', title: null, sort: [...metrics] },
    },
    config: VEGA_LITE_CONFIG,
  };
  const svg = vegaSvg(vegaLite);
  return new HistoryFigure([...metrics], series, svg, vegaLite);
}
