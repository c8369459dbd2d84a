/**
 * Horizontal bar charts as a self-contained SVG string: one panel per measure, side by side, a
 * row per category (a model of `compareModels`), each with its bar, its value label and a value
 * axis from 0. Static, like the line chart (./line_chart.ts), and in the same style
 * (./chart-style.ts); each bar is a <rect class="bar"> carrying its category and value, which
 * keeps the drawing easy to check.
 */
import { escapeXml } from '../notebook/display';
import { CHAR_WIDTH, COLOURS, fmt, GRID_COLOUR, INK, niceTicks, PANEL_TITLE_FONT_SIZE, svgStart } from './chart-style';

/** One measure: a value per category (NaN: no bar) and the label shown at the end of its bar. */
export interface BarPanel {
  title: string;
  values: readonly number[];
  labels: readonly string[];
}

export interface BarChartOptions {
  /** The chart's <title> (read by screen readers). */
  title: string;
  /** The categories, top to bottom; a row's bars take its colour in every panel. */
  names: readonly string[];
  /** The panels, left to right, sharing the width equally. */
  panels: readonly BarPanel[];
  /** Defaults to 900. */
  width?: number;
}

/** Where one panel goes in the chart. */
interface PanelLayout extends BarPanel {
  names: readonly string[];
  /** Left edge and width of the panel. */
  x: number;
  width: number;
  /** Top of the first row, and the height of each. */
  top: number;
  rowHeight: number;
  /** Room for the category names left of the bars. */
  labelWidth: number;
}

/** One panel: its title, grid lines and ticks, and a bar with its label per category. */
function barPanelSvg(panel: PanelLayout): string[] {
  const { title, names, values, labels, x, width, top, rowHeight, labelWidth } = panel;
  const max = Math.max(0, ...values.filter(Number.isFinite));
  const { ticks } = niceTicks(0, max > 0 ? max : 1, 4);
  const axisMax = ticks[ticks.length - 1];
  const left = x + labelWidth;
  const right = x + width - 60;
  const sx = (v: number) => left + (v / axisMax) * (right - left);
  const bottom = top + rowHeight * names.length;
  const parts = [`<g class="panel" data-title="${escapeXml(title)}">`];
  parts.push(`<text x="${fmt((left + right) / 2)}" y="${fmt(top - 12)}" text-anchor="middle" font-size="${PANEL_TITLE_FONT_SIZE}">${escapeXml(title)}</text>`);
  for (const t of ticks) {
    parts.push(`<line x1="${fmt(sx(t))}" y1="${fmt(top)}" x2="${fmt(sx(t))}" y2="${fmt(bottom)}" stroke="${GRID_COLOUR}"/>`);
    parts.push(`<text x="${fmt(sx(t))}" y="${fmt(bottom + 16)}" text-anchor="middle" fill="${INK}">${Number(t.toPrecision(6))}</text>`);
  }
  names.forEach((name, i) => {
    const y = top + i * rowHeight;
    parts.push(`<text x="${fmt(left - 8)}" y="${fmt(y + rowHeight / 2 + 4)}" text-anchor="end" fill="${INK}">${escapeXml(name)}</text>`);
    if (!Number.isFinite(values[i])) return;
    const w = sx(values[i]) - left;
    parts.push(
      `<rect class="bar" data-model="${escapeXml(name)}" data-value="${values[i]}" x="${fmt(left)}" y="${fmt(y + 4)}" width="${fmt(w)}" height="${fmt(rowHeight - 8)}" fill="${COLOURS[i % COLOURS.length]}"/>`,
    );
    parts.push(`<text x="${fmt(left + w + 4)}" y="${fmt(y + rowHeight / 2 + 4)}" fill="${INK}">${escapeXml(labels[i])}</text>`);
  });
  parts.push(`<line x1="${fmt(left)}" y1="${fmt(top)}" x2="${fmt(left)}" y2="${fmt(bottom)}" stroke="${INK}"/>`);
  parts.push('</g>');
  return parts;
}

/** The panels of `options` side by side, as one SVG. Pure: values in, SVG text out. */
export function barChartSvg(options: BarChartOptions): string {
  const { title, names, panels, width = 900 } = options;
  const rowHeight = 28;
  const top = 40;
  const height = top + rowHeight * Math.max(1, names.length) + 34;
  const labelWidth = 16 + CHAR_WIDTH * Math.max(4, ...names.map((n) => n.length));
  const panelWidth = width / Math.max(1, panels.length);
  const parts = svgStart(width, height, title);
  panels.forEach((panel, i) => parts.push(...barPanelSvg({ ...panel, names, x: i * panelWidth, width: panelWidth, top, rowHeight, labelWidth })));
  parts.push('</svg>');
  return parts.join('\n');
}
