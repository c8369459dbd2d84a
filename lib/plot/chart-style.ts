/**
 * The look the library's charts share (the history plot, as a Vega-Lite config in
 * lib/plot/vega-render.ts, which the model comparison's bars, lib/plot/bar-chart.ts, use too): font, sizes, colours,
 * tick values and number formatting, so that the charts of one notebook look alike. matplotlib's defaults where it has
 * one (its "tab10" colour cycle, ticks at steps of 1, 2 or 5).
 */

/** matplotlib's and seaborn's default colour cycle ("tab10"). */
export const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** Fonts installed nearly everywhere (resvg finds DejaVu Sans on Linux), so every renderer lays the text out alike. */
export const FONT_FAMILY = 'DejaVu Sans, Verdana, Arial, sans-serif';
/** Labels, ticks and legends. */
export const FONT_SIZE = 12;
/** A chart's title. */
export const TITLE_FONT_SIZE = 14;

/** The page behind the chart. */
export const BACKGROUND = '#ffffff';
/** Grid lines. */
export const GRID_COLOUR = '#e0e0e0';
/** Axes, tick labels and legend text. */
export const INK = '#333333';

/** "Nice" tick values (steps of 1, 2 or 5 times a power of ten) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 6, integer = false): { ticks: number[]; step: number } {
  const span = max - min;
  const raw = span > 0 ? span / count : 1;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const normalised = raw / magnitude;
  let step = (normalised < 1.5 ? 1 : normalised < 3 ? 2 : normalised < 7 ? 5 : 10) * magnitude;
  if (integer) step = Math.max(1, Math.round(step));
  const ticks: number[] = [];
  // toPrecision drops float noise (0.30000000000000004); + 0 turns -0 into 0.
  for (let i = Math.ceil(min / step - 1e-9); i * step <= max + step * 1e-9; i++) ticks.push(Number((i * step).toPrecision(12)) + 0);
  return { ticks, step };
}
