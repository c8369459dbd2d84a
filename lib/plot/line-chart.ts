/**
 * A static line chart as a self-contained SVG string: axes, ticks, grid lines, legend, axis
 * titles. No scripts, no external fonts or styles, so it renders the same in classic Notebook,
 * JupyterLab, an nbconvert HTML export, a browser or resvg (PNG).
 *
 * Only the data lines are <path> elements (one per series); everything else is <line>, <rect>,
 * <circle> or <text>, which keeps the drawing easy to check. Font, colours and ticks are those of
 * every chart of the library (./chart-style.ts).
 */
import { escapeXml } from '../notebook/display';
import { CHAR_WIDTH, COLOURS, fmt, GRID_COLOUR, INK, niceTicks, svgStart, TITLE_FONT_SIZE } from './chart-style';

export { COLOURS, niceTicks } from './chart-style';

/** One line of a chart: its name (in the legend) and its points. */
export interface Series {
  /** The name shown in the legend, e.g. 'val_accuracy'. */
  name: string;
  /** x and y of each point; a NaN/infinite y leaves a gap in the line. */
  points: { x: number; y: number }[];
}

/** Options of {@link lineChartSvg}: size, title and axis titles. */
export interface LineChartOptions {
  /** Width in pixels. Defaults to 640. */
  width?: number;
  /** Height in pixels. Defaults to 400. */
  height?: number;
  /** Title above the chart. Defaults to none. */
  title?: string;
  /** Title of the x axis. Defaults to none. */
  xLabel?: string;
  /** Title of the y axis. Defaults to none. */
  yLabel?: string;
  /** Only whole numbers on the x axis (epochs). Defaults to false. */
  integerX?: boolean;
}

function decimalsFor(step: number): number {
  return Math.max(0, Math.min(10, -Math.floor(Math.log10(step) + 1e-9)));
}

/** The data range padded by 5% on each side, as matplotlib's default margins. */
function paddedDomain(values: number[], integer: boolean): [number, number] {
  let min = Math.min(...values);
  let max = Math.max(...values);
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (min === max) {
    const half = integer ? 1 : Math.abs(min) > 0 ? Math.abs(min) * 0.1 : 0.5;
    return [min - half, max + half];
  }
  const pad = (max - min) * 0.05;
  min -= pad;
  max += pad;
  return [min, max];
}

/**
 * A static line chart of `series` as a self-contained SVG document (axes, ticks, grid lines,
 * legend, axis titles; no scripts or external fonts), the drawing behind {@link plotHistory}.
 * The axes span the data with 5% margins; a NaN or infinite y leaves a gap in its line.
 */
export function lineChartSvg(series: Series[], options: LineChartOptions = {}): string {
  const { width = 640, height = 400, title, xLabel = '', yLabel = '', integerX = false } = options;
  const finite = (s: Series) => s.points.filter((p) => Number.isFinite(p.y) && Number.isFinite(p.x));
  const xs = series.flatMap((s) => finite(s).map((p) => p.x));
  const ys = series.flatMap((s) => finite(s).map((p) => p.y));
  const [x0, x1] = paddedDomain(xs, integerX);
  const [y0, y1] = paddedDomain(ys, false);
  const xTicks = niceTicks(x0, x1, 8, integerX);
  const yTicks = niceTicks(y0, y1, 6);
  const yDecimals = decimalsFor(yTicks.step);
  const xDecimals = integerX ? 0 : decimalsFor(xTicks.step);
  const yTickLabels = yTicks.ticks.map((t) => t.toFixed(yDecimals));

  // Layout: room for y tick labels and title on the left, legend on the right.
  const legendWidth = 30 + CHAR_WIDTH * Math.max(0, ...series.map((s) => s.name.length)) + 16;
  const left = 22 + (yLabel ? 18 : 0) + CHAR_WIDTH * Math.max(1, ...yTickLabels.map((l) => l.length));
  const right = width - legendWidth;
  const top = title ? 36 : 14;
  const bottom = height - (xLabel ? 48 : 30);
  const sx = (x: number) => left + ((x - x0) / (x1 - x0)) * (right - left);
  const sy = (y: number) => bottom - ((y - y0) / (y1 - y0)) * (bottom - top);

  const parts = svgStart(width, height, title ?? `${yLabel || 'value'} by ${xLabel || 'x'}: ${series.map((s) => s.name).join(', ')}`);
  if (title) parts.push(`<text x="${fmt((left + right) / 2)}" y="22" text-anchor="middle" font-size="${TITLE_FONT_SIZE}">${escapeXml(title)}</text>`);

  // Grid lines and tick labels.
  parts.push(`<g class="grid" stroke="${GRID_COLOUR}" stroke-width="1">`);
  for (const t of yTicks.ticks) parts.push(`<line x1="${fmt(left)}" y1="${fmt(sy(t))}" x2="${fmt(right)}" y2="${fmt(sy(t))}"/>`);
  for (const t of xTicks.ticks) parts.push(`<line x1="${fmt(sx(t))}" y1="${fmt(top)}" x2="${fmt(sx(t))}" y2="${fmt(bottom)}"/>`);
  parts.push('</g>');
  parts.push(`<g class="axes" stroke="${INK}" stroke-width="1">`);
  parts.push(`<line x1="${fmt(left)}" y1="${fmt(bottom)}" x2="${fmt(right)}" y2="${fmt(bottom)}"/>`);
  parts.push(`<line x1="${fmt(left)}" y1="${fmt(top)}" x2="${fmt(left)}" y2="${fmt(bottom)}"/>`);
  for (const t of yTicks.ticks) parts.push(`<line x1="${fmt(left - 5)}" y1="${fmt(sy(t))}" x2="${fmt(left)}" y2="${fmt(sy(t))}"/>`);
  for (const t of xTicks.ticks) parts.push(`<line x1="${fmt(sx(t))}" y1="${fmt(bottom)}" x2="${fmt(sx(t))}" y2="${fmt(bottom + 5)}"/>`);
  parts.push('</g>');
  parts.push(`<g class="tick-labels" fill="${INK}">`);
  yTicks.ticks.forEach((t, i) => parts.push(`<text x="${fmt(left - 8)}" y="${fmt(sy(t) + 4)}" text-anchor="end">${yTickLabels[i]}</text>`));
  for (const t of xTicks.ticks) parts.push(`<text x="${fmt(sx(t))}" y="${fmt(bottom + 18)}" text-anchor="middle">${t.toFixed(xDecimals)}</text>`);
  parts.push('</g>');
  if (xLabel) parts.push(`<text x="${fmt((left + right) / 2)}" y="${fmt(height - 10)}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  if (yLabel) {
    const cy = (top + bottom) / 2;
    parts.push(`<text x="16" y="${fmt(cy)}" text-anchor="middle" transform="rotate(-90 16 ${fmt(cy)})">${escapeXml(yLabel)}</text>`);
  }

  // Data: one path per series; a gap (NaN) starts a new sub-path; isolated points get a dot.
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    let d = '';
    let penDown = false;
    const dots: string[] = [];
    s.points.forEach((p, j) => {
      if (!(Number.isFinite(p.y) && Number.isFinite(p.x))) {
        penDown = false;
        return;
      }
      d += `${penDown ? 'L' : 'M'}${fmt(sx(p.x))},${fmt(sy(p.y))} `;
      const next = s.points[j + 1];
      if (!penDown && !(next && Number.isFinite(next.y))) dots.push(`<circle cx="${fmt(sx(p.x))}" cy="${fmt(sy(p.y))}" r="3" fill="${colour}"/>`);
      penDown = true;
    });
    parts.push(
      `<path class="series" data-series="${escapeXml(s.name)}" d="${d.trim()}" fill="none" stroke="${colour}" stroke-width="2" stroke-linejoin="round"/>`,
    );
    parts.push(...dots);
  });

  // Legend, to the right of the plot area.
  parts.push('<g class="legend">');
  series.forEach((s, i) => {
    const y = top + 10 + i * 20;
    const colour = COLOURS[i % COLOURS.length];
    parts.push(`<line x1="${fmt(right + 14)}" y1="${y}" x2="${fmt(right + 38)}" y2="${y}" stroke="${colour}" stroke-width="2"/>`);
    parts.push(`<text x="${fmt(right + 44)}" y="${y + 4}" fill="${INK}">${escapeXml(s.name)}</text>`);
  });
  parts.push('</g>');
  parts.push('</svg>');
  return parts.join('\n');
}
