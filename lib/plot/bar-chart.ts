/**
 * Horizontal bar charts as a Vega-Lite spec: one panel per measure, side by side (hconcat), a row
 * per category (a model of `compareModels`), each with its bar and its value label (a text layer)
 * and a value axis from 0. The spec is the figure source, as for the history plot: the static SVG
 * is what Vega renders from it (./vega-render.ts `vegaSvg`), in the shared style (VEGA_LITE_CONFIG).
 */
import { VEGA_LITE_CONFIG, VEGA_LITE_SCHEMA, VegaLiteSpec } from './vega-render';

/** One measure: a value per category (NaN: no bar) and the label shown at the end of its bar. */
export interface BarPanel {
  title: string;
  values: readonly number[];
  labels: readonly string[];
}

/** What {@link barChartSpec} draws: a title, the categories and a panel per measure. */
export interface BarChartOptions {
  /** The chart's title, above the panels. */
  title: string;
  /** The categories, top to bottom; a row's bars take its colour in every panel. */
  names: readonly string[];
  /** The panels, left to right, sharing the width equally. */
  panels: readonly BarPanel[];
  /** Defaults to 900. */
  width?: number;
}

/** The panels of `options` side by side, as one Vega-Lite spec (data inline). Pure: values in, spec out. */
export function barChartSpec(options: BarChartOptions): VegaLiteSpec {
  const { title, names, panels, width = 900 } = options;
  const domain = [...names];
  const panelWidth = Math.max(60, Math.round(width / Math.max(1, panels.length)) - 160);
  const rowHeight = 28;
  return {
    $schema: VEGA_LITE_SCHEMA,
    description: title,
    title,
    padding: 10,
    hconcat: panels.map((panel) => panelSpec(panel)),
    config: VEGA_LITE_CONFIG,
  };

  function panelSpec(panel: BarPanel): Record<string, unknown> {
    const finite = panel.values.some(Number.isFinite);
    return {
      title: panel.title,
      width: panelWidth,
      height: rowHeight * Math.max(1, names.length),
      // A NaN value has no row: its category keeps its place (the y domain), without a bar.
      data: {
        values: names.flatMap((name, i) =>
          Number.isFinite(panel.values[i]) ? [{ category: name, value: panel.values[i], label: panel.labels[i] ?? '' }] : [],
        ),
      },
      encoding: {
        y: { field: 'category', type: 'nominal', title: null, sort: domain, scale: { domain } },
        // With no value at all the scale gets a domain of its own (Vega warns on an empty extent).
        x: { field: 'value', type: 'quantitative', title: null, scale: finite ? { zero: true } : { domain: [0, 1] } },
      },
      layer: [
        {
          mark: { type: 'bar', tooltip: true },
          encoding: { color: { field: 'category', type: 'nominal', scale: { domain }, legend: null } },
        },
        { mark: { type: 'text', align: 'left', baseline: 'middle', dx: 4 }, encoding: { text: { field: 'label', type: 'nominal' } } },
      ],
    };
  }
}
