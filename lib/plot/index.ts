/**
 * `plotHistory(history, metrics)`: the lesson's `plot_history`, shown where the code runs.
 *
 * The figure itself is pure data (./history-figure.ts: a Vega-Lite spec and the SVG Vega renders
 * from it); this is the thin "show it" step:
 * - in a notebook: one output with image/svg+xml, application/vnd.vegalite.v5+json and text/plain;
 * - in a terminal: the SVG is written next to the script (out/<metrics>.svg) and its path printed;
 *   with `show: 'window'` the desktop's opener (xdg-open, open, start) shows that file too, offline
 *   (./open-window.ts);
 * - `file` saves an SVG or PNG copy in any case.
 */
import * as path from 'path';
import { display, inNotebook, markShown } from '../notebook/display';
import { ValueError } from '../core/errors';
import { FigureOptions, historyFigure, HistoryFigure, HistoryLike } from './history-figure';
import { openInWindow } from './open-window';

export { historyFigure, HistoryFigure, VEGA_LITE_MIME } from './history-figure';
export type { HistoryLike, FigureOptions, VegaLiteSpec, Series } from './history-figure';

/** Options of {@link plotHistory}: the figure's title and size, where to show it, and a file to save. */
export interface PlotOptions extends FigureOptions {
  /** Also save the figure here (.svg or .png), atomically. Defaults to none (a terminal saves an SVG anyway, see `show`). */
  file?: string;
  /**
   * 'inline' (notebook default): show in the output; 'file' (terminal default): write
   * out/<metrics>.svg next to the script and print the path; 'window': also open that file (or
   * `file`) with the desktop's opener (xdg-open, open, start) when there is one, else say why not;
   * false: show nothing.
   */
  show?: 'inline' | 'file' | 'window' | false;
  /** PNG resolution, as a multiple of width x height. Defaults to 1. */
  scale?: number;
}

/** The folder of the running script (or the working folder in a REPL). */
function scriptFolder(): string {
  const script = require.main?.filename ?? process.argv[1];
  return script ? path.dirname(path.resolve(script)) : process.cwd();
}

/** out/<metrics or title>.svg next to the running script. */
export function defaultPlotFile(metrics: readonly string[], title?: string): string {
  const stem = (title ?? metrics.join('-')).replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^_+|_+$/g, '') || 'history';
  return path.join(scriptFolder(), 'out', `${stem}.svg`);
}

/**
 * Plots metrics of a training history against the epoch, like the lesson's
 * `plot_history(history, ['accuracy', 'val_accuracy'])`, and returns the figure
 * (`.svg`, `.vegaLite`, `.save(file)`; notebooks can display it again).
 * In a notebook it is shown inline; in a terminal it is saved as out/<metrics>.svg next to the
 * script and the path printed.
 *
 * @param history - The History returned by `model.fit` or {@link fit} (or its `history` dictionary).
 * @param metrics - The metrics to plot. Defaults to ['accuracy', 'val_accuracy'].
 * @param options - `title`, `width` and `height` in pixels (default 640 x 400), `show` ('inline',
 *   'file', 'window' or false), `file` to save an .svg or .png copy, and `scale` for the PNG.
 * @returns The {@link HistoryFigure}.
 * @throws A {@link ValueError} when `history` is not a history, `metrics` is empty or names a metric
 *   the history lacks, a size, `show`, `scale` or `file` is invalid.
 *
 * @example
 * ```ts
 * import { plotHistory } from 'tslab-dl';
 *
 * plotHistory(history, ['accuracy', 'val_accuracy']);
 * ```
 */
export function plotHistory(
  history: HistoryLike,
  metrics: readonly string[] = ['accuracy', 'val_accuracy'],
  options: PlotOptions = {},
): HistoryFigure {
  const { file, title, width, height, scale = 1 } = options;
  const notebook = inNotebook();
  const show = options.show ?? (notebook ? 'inline' : 'file');
  if (![false, 'inline', 'file', 'window'].includes(show)) {
    throw new ValueError(`plotHistory(..., { show }): expected 'inline', 'file', 'window' or false. Received ${JSON.stringify(show)}.`);
  }
  if (!(typeof scale === 'number' && scale > 0 && scale <= 8)) {
    throw new ValueError(`plotHistory(..., { scale }): expected a number in (0, 8]. Received ${JSON.stringify(scale)}.`);
  }
  const figure = historyFigure(history, metrics, { title, width, height });
  const saved = file !== undefined ? figure.save(file, { scale }) : undefined;
  if (show === false) return figure;
  if (notebook && show !== 'file') {
    display(figure);
    return markShown(figure);
  }
  const written = saved ?? figure.save(defaultPlotFile(metrics, title));
  console.log(`${figure.text()}: saved to ${written}`);
  if (show === 'window') openInWindow(path.resolve(written));
  return figure;
}
