/**
 * One figure source: a Vega-Lite spec is the figure, and the static SVG (and through it the PNG)
 * is what Vega itself renders from that spec. Classic Notebook and nbconvert show that SVG,
 * JupyterLab renders the same spec interactively, so every front end shows the same figure.
 *
 * vega 5 and vega-lite 5 ship CommonJS builds (vega 6 / vega-lite 6 are ESM-only), so they load
 * with require(), lazily: only when a figure is drawn. Rendering is synchronous: with inline data
 * and no images, Vega's dataflow and its SVG string renderer finish without waiting on anything
 * (`vegaSvg` checks that they did, and `vegaSvgAsync` is Vega's own `view.toSVG()` for
 * comparison). No canvas is needed: the 'none' renderer measures text by estimate.
 */
import type * as VegaModule from 'vega';
import type * as VegaLiteModule from 'vega-lite';
import { BACKGROUND, COLOURS, FONT_FAMILY, FONT_SIZE, GRID_COLOUR, INK, TITLE_FONT_SIZE } from './chart-style';

/** A Vega-Lite 5 specification (https://vega.github.io/vega-lite/), with its data inline. */
export interface VegaLiteSpec {
  /** The schema URL, 'https://vega.github.io/schema/vega-lite/v5.json'. */
  $schema: string;
  [key: string]: unknown;
}

/** The schema of the specs this library writes. */
export const VEGA_LITE_SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

/** The MIME type of a Vega-Lite 5 spec in a notebook output (JupyterLab renders it interactively). */
export const VEGA_LITE_MIME = 'application/vnd.vegalite.v5+json';

/**
 * The chart style (./chart-style.ts) as a Vega-Lite config: the font every renderer has (resvg
 * finds DejaVu Sans), matplotlib's tab10 colours, light grid lines, dark ink. Part of every spec,
 * so JupyterLab draws it like the static SVG.
 */
export const VEGA_LITE_CONFIG = {
  font: FONT_FAMILY,
  background: BACKGROUND,
  range: { category: [...COLOURS] },
  view: { stroke: null },
  axis: {
    labelFontSize: FONT_SIZE,
    titleFontSize: FONT_SIZE,
    labelColor: INK,
    titleColor: INK,
    domainColor: INK,
    tickColor: INK,
    gridColor: GRID_COLOUR,
    titleFontWeight: 'normal',
  },
  legend: { labelFontSize: FONT_SIZE, titleFontSize: FONT_SIZE, labelColor: INK, titleColor: INK, labelLimit: 400 },
  title: { fontSize: TITLE_FONT_SIZE, color: INK, fontWeight: 'normal' },
  header: { labelFontSize: FONT_SIZE + 1, labelColor: INK, titleFontSize: TITLE_FONT_SIZE, titleColor: INK },
} as const;

let modules: { vega: typeof VegaModule; vegaLite: typeof VegaLiteModule } | undefined;

function load(): { vega: typeof VegaModule; vegaLite: typeof VegaLiteModule } {
  modules ??= { vega: require('vega') as typeof VegaModule, vegaLite: require('vega-lite') as typeof VegaLiteModule };
  return modules;
}

/** The installed versions of vega and vega-lite (for reports and tests). */
export function vegaVersions(): { vega: string; vegaLite: string } {
  const { vega, vegaLite } = load();
  return { vega: vega.version, vegaLite: vegaLite.version };
}

/**
 * A Vega specification (https://vega.github.io/vega/docs/specification/), as JSON. Declared here
 * rather than as vega's own type so that this module's declarations do not pull vega's typings
 * into every notebook's TypeScript program (the kernel parses them for each kernel).
 */
export type VegaSpec = { $schema?: string; [key: string]: unknown };

/**
 * Compiles a Vega-Lite spec to a Vega spec, collecting Vega-Lite's warnings instead of printing
 * them. Throws when Vega-Lite rejects the spec.
 */
export function compileVegaLite(spec: VegaLiteSpec): { vega: VegaSpec; warnings: string[] } {
  const { vegaLite } = load();
  const warnings: string[] = [];
  let level = 0;
  const logger = {
    level(value?: number) {
      if (value === undefined) return level as never;
      level = value;
      return logger as never;
    },
    error: (...message: unknown[]) => warnings.push(`error: ${message.join(' ')}`) as never,
    warn: (...message: unknown[]) => warnings.push(message.join(' ')) as never,
    info: () => logger as never,
    debug: () => logger as never,
  };
  // A copy: Vega tags the rows of inline data it reads (a symbol key on each), and the caller's
  // spec must stay plain JSON.
  const copy = JSON.parse(JSON.stringify(spec)) as VegaLiteModule.TopLevelSpec;
  const compiled = vegaLite.compile(copy, { logger: logger as never });
  return { vega: compiled.spec as unknown as VegaSpec, warnings };
}

function view(spec: VegaLiteSpec, warnings: string[]): VegaModule.View {
  const { vega } = load();
  const compiled = compileVegaLite(spec);
  warnings.push(...compiled.warnings);
  const logger = vega.logger(vega.Warn);
  (logger as { warn: (...m: unknown[]) => void }).warn = (...m: unknown[]) => warnings.push(m.join(' '));
  (logger as { error: (...m: unknown[]) => void }).error = (...m: unknown[]) => {
    throw m[0] instanceof Error ? m[0] : new Error(m.join(' '));
  };
  return new vega.View(vega.parse(compiled.vega as unknown as VegaModule.Spec), { renderer: 'none', logger });
}

/** Vega's private view state that its own headless rendering (view.toSVG) reads. */
interface ViewInternals {
  _pulse: unknown;
  _touched: { length: number };
  _postrun: { length: number };
  _viewWidth: number;
  _viewHeight: number;
  _origin: [number, number];
  _scenegraph: { root: unknown };
}

/**
 * The SVG Vega renders from the Vega-Lite `spec` (the same as its `view.toSVG()`), synchronously.
 * Throws if Vega warns or if its dataflow did not finish synchronously (data to load, images).
 */
export function vegaSvg(spec: VegaLiteSpec): string {
  const { vega } = load();
  const warnings: string[] = [];
  const v = view(spec, warnings);
  v.run();
  const internals = v as unknown as ViewInternals;
  if (internals._pulse || internals._touched.length || internals._postrun.length) {
    throw new Error('vegaSvg: the Vega dataflow did not finish synchronously (the spec needs data or images to load).');
  }
  // What view.toSVG() does (vega-view's renderHeadless), without its awaits.
  const padding = v.padding() as { left: number; right: number; top: number; bottom: number };
  const width = Math.max(0, internals._viewWidth + padding.left + padding.right);
  const height = Math.max(0, internals._viewHeight + padding.top + padding.bottom);
  const origin = [padding.left + internals._origin[0], padding.top + internals._origin[1]];
  const SvgRenderer = (
    vega as unknown as { renderModule(type: string): { headless: new (loader: unknown) => SvgStringRenderer } }
  ).renderModule('svg').headless;
  const renderer = new SvgRenderer(v.loader()).initialize(null, width, height, origin, 1).background(v.background());
  renderer.render(internals._scenegraph.root);
  if (renderer._ready) throw new Error('vegaSvg: the figure loads images, which cannot be rendered synchronously.');
  v.finalize();
  if (warnings.length) throw new Error(`vegaSvg: Vega warned: ${warnings.join('; ')}`);
  return renderer.svg();
}

interface SvgStringRenderer {
  initialize(el: null, width: number, height: number, origin: number[], scale: number): SvgStringRenderer;
  background(colour: unknown): SvgStringRenderer;
  render(scene: unknown): SvgStringRenderer;
  svg(): string;
  _ready?: unknown;
}

/** Vega's own asynchronous `view.toSVG()` of the Vega-Lite `spec` (what {@link vegaSvg} must equal). */
export async function vegaSvgAsync(spec: VegaLiteSpec): Promise<string> {
  const warnings: string[] = [];
  const v = view(spec, warnings);
  try {
    return await v.toSVG();
  } finally {
    v.finalize();
  }
}

/** The PNG of an SVG (resvg, system fonts, DejaVu Sans by default), at `scale` times its size, on white. */
export function svgToPng(svg: string, scale = 1): Buffer {
  const { Resvg } = require('@resvg/resvg-js') as typeof import('@resvg/resvg-js');
  const renderer = new Resvg(svg, {
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
    fitTo: scale === 1 ? { mode: 'original' } : { mode: 'zoom', value: scale },
    background: BACKGROUND,
  });
  return renderer.render().asPng();
}
