import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { MimeBundle } from '../lib/notebook/display';
import { KERNEL_HOOK } from '../lib/notebook/kernel-hook';
import { defaultPlotFile, historyFigure, plotHistory, VEGA_LITE_MIME } from '../lib/plot';
import { niceTicks } from '../lib/plot/chart-style';
import { compileVegaLite, vegaSvg, vegaSvgAsync, vegaVersions } from '../lib/plot/vega-render';
import { desktopOpener } from '../lib/plot/open-window';

const PYTHON = '/usr/bin/python3';
const ROOT = path.join(__dirname, '..');

afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[KERNEL_HOOK];
});

/** A History shaped like the one fit() returns (7 epochs, early-stopped). */
const history = {
  epoch: [0, 1, 2, 3, 4, 5, 6],
  history: {
    loss: [2.1, 1.5, 1.2, 1.0, 0.9, 0.85, 0.8],
    accuracy: [0.25, 0.41, 0.52, 0.6, 0.63, 0.66, 0.7],
    val_loss: [1.8, 1.4, 1.3, 1.25, 1.3, 1.35, 1.4],
    val_accuracy: [0.33, 0.48, 0.55, 0.64, 0.62, 0.61, 0.6],
  },
};

interface SvgReport {
  tag: string;
  width: string;
  height: string;
  paths: { series: string; points: number; moves: number }[];
  lines: { stroke: string; points: number; moves: number }[];
  points: { fill: string; label: string }[];
  texts: string[];
  external: boolean;
}

function parseSvg(svg: string): SvgReport | string {
  if (spawnSync(PYTHON, ['-c', 'import xml.etree.ElementTree'], { encoding: 'utf8' }).status !== 0) return `${PYTHON} is not available`;
  const run = spawnSync(PYTHON, [path.join(__dirname, 'python', 'train_plot_check.py')], { input: svg, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`the SVG does not parse as XML: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

test('the Vega-Lite spec compiles with vega-lite without warnings, and the SVG is what vega renders from it', async () => {
  const figure = historyFigure(history, ['accuracy', 'val_accuracy'], { title: 'Training' });
  assert.match(vegaVersions().vega, /^5\./);
  assert.match(vegaVersions().vegaLite, /^5\./);
  const { vega, warnings } = compileVegaLite(figure.vegaLite);
  assert.deepEqual(warnings, []);
  assert.equal((vega as { $schema?: string }).$schema, 'https://vega.github.io/schema/vega/v5.json');
  // The synchronous rendering is exactly vega's own view.toSVG() of the spec.
  assert.equal(figure.svg, await vegaSvgAsync(figure.vegaLite));
  assert.equal(figure.svg, vegaSvg(figure.vegaLite));
  // The chart style's font, which resvg finds offline.
  assert.match(figure.svg, /font-family="DejaVu Sans, Verdana, Arial, sans-serif"/);
});

test('the SVG parses as XML and has one line per metric with one point per epoch, axes and legend', (t) => {
  const figure = historyFigure(history, ['accuracy', 'val_accuracy']);
  const report = parseSvg(figure.svg);
  if (typeof report === 'string') return t.skip(report);
  assert.equal(report.tag, '{http://www.w3.org/2000/svg}svg');
  assert.deepEqual([report.width, report.height], ['640', '400']);
  // Vega's rendering: one line per metric in tab10's first colours, 7 points each, no gap.
  assert.deepEqual(report.lines, [
    { stroke: '#1f77b4', points: 7, moves: 1 },
    { stroke: '#ff7f0e', points: 7, moves: 1 },
  ]);
  assert.equal(report.points.length, 14, 'a point per metric and epoch');
  assert.deepEqual(report.points.filter((p) => p.fill === '#ff7f0e').length, 7);
  assert.equal(report.points[3].label, 'epochs: 3; metric: 0.6');
  for (const label of ['epochs', 'metric', 'accuracy', 'val_accuracy', '0', '6'])
    assert.ok(report.texts.includes(label), `text "${label}" in ${report.texts}`);
  // y ticks cover 0.25..0.7 (vega's nice step of 0.05, two decimals).
  for (const tick of ['0.30', '0.40', '0.50', '0.60', '0.70']) assert.ok(report.texts.includes(tick), `y tick ${tick}`);
  assert.equal(report.external, false, 'self-contained: no scripts, images or links');
});

test('points sit where the values say: higher accuracy is drawn higher, epochs left to right', () => {
  const figure = historyFigure({ history: { accuracy: [0.2, 0.8, 0.5] } }, ['accuracy']);
  const d = /<g class="mark-line[^"]*"[^>]*><path [^>]*\bd="([^"]+)"/.exec(figure.svg)![1];
  const points = [...d.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
  assert.equal(points.length, 3);
  assert.ok(points[0][0] < points[1][0] && points[1][0] < points[2][0], 'x increases with the epoch');
  // SVG y grows downwards: 0.8 highest (smallest y), then 0.5, then 0.2; and y is linear in the value.
  assert.ok(points[1][1] < points[2][1] && points[2][1] < points[0][1]);
  const slope = (points[0][1] - points[1][1]) / (0.8 - 0.2);
  assert.ok(Math.abs(points[0][1] - points[2][1] - slope * 0.3) < 0.02);
});

test('a NaN value leaves a gap: the line starts a new sub-path after it, and has no point there', (t) => {
  const figure = historyFigure({ history: { loss: [1, 0.5, NaN, 0.4, 0.3] } }, ['loss']);
  assert.deepEqual((figure.vegaLite.data as { values: unknown[] }).values[2], { epoch: 2, metric: 'loss', value: null });
  const report = parseSvg(figure.svg);
  if (typeof report === 'string') return t.skip(report);
  assert.deepEqual(report.lines, [{ stroke: '#1f77b4', points: 4, moves: 2 }]);
  assert.equal(report.points.length, 4);
});

test('the Vega-Lite spec carries the data inline, one row per metric and epoch', () => {
  const spec = historyFigure(history, ['accuracy', 'val_accuracy']).vegaLite as {
    $schema: string;
    data: { values: { epoch: number; metric: string; value: number }[] };
    encoding: { x: { field: string; title: string }; y: { field: string }; color: { field: string } };
  };
  assert.match(spec.$schema, /vega-lite\/v5/);
  assert.equal(spec.data.values.length, 14);
  assert.deepEqual(spec.data.values[3], { epoch: 3, metric: 'accuracy', value: 0.6 });
  assert.deepEqual(spec.data.values[7 + 3], { epoch: 3, metric: 'val_accuracy', value: 0.64 });
  assert.deepEqual(
    [spec.encoding.x.field, spec.encoding.x.title, spec.encoding.y.field, spec.encoding.color.field],
    ['epoch', 'epochs', 'value', 'metric'],
  );
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(spec)));
});

test('in a notebook, plotHistory shows one bundle with SVG, Vega-Lite and text', () => {
  const shown: MimeBundle[] = [];
  (globalThis as Record<symbol, unknown>)[KERNEL_HOOK] = { interruptRequested: false, display: (data: MimeBundle) => shown.push(data) };
  const figure = plotHistory(history, ['accuracy', 'val_accuracy']);
  assert.equal(shown.length, 1);
  assert.deepEqual(Object.keys(shown[0]).sort(), ['application/vnd.vegalite.v5+json', 'image/svg+xml', 'text/plain']);
  assert.equal(shown[0]['image/svg+xml'], figure.svg);
  assert.deepEqual(shown[0][VEGA_LITE_MIME], figure.vegaLite);
  assert.match(String(shown[0]['text/plain']), /accuracy, val_accuracy over 7 epochs/);
  assert.equal((figure as unknown as Record<symbol, unknown>)[Symbol.for('tslab-dl.shown')], true, 'marked as shown, for the kernel');
  assert.equal((historyFigure(history) as unknown as Record<symbol, unknown>)[Symbol.for('tslab-dl.shown')], undefined);
});

test('file: saves SVG and PNG atomically; the PNG decodes to the figure size', () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-plot-'));
  try {
    const svgFile = path.join(folder, 'nested', 'history.svg');
    plotHistory(history, ['loss', 'val_loss'], { file: svgFile, show: false });
    assert.match(fs.readFileSync(svgFile, 'utf8'), /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    const pngFile = path.join(folder, 'history.png');
    plotHistory(history, ['accuracy', 'val_accuracy'], { file: pngFile, show: false, width: 500, height: 300, scale: 2 });
    const png = fs.readFileSync(pngFile);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
    assert.equal(png.toString('latin1', 12, 16), 'IHDR');
    const [width, height, bitDepth, colourType] = [png.readUInt32BE(16), png.readUInt32BE(20), png[24], png[25]];
    assert.deepEqual([width, height], [1000, 600]);
    // Inflate the image data: one filter byte plus width * channels bytes per row.
    const chunks: Buffer[] = [];
    for (let offset = 8; offset < png.length;) {
      const length = png.readUInt32BE(offset);
      if (png.toString('latin1', offset + 4, offset + 8) === 'IDAT') chunks.push(png.subarray(offset + 8, offset + 8 + length));
      offset += 12 + length;
    }
    const channels = { 2: 3, 6: 4 }[colourType as 2 | 6];
    assert.ok(bitDepth === 8 && channels, `8-bit RGB(A), got depth ${bitDepth} type ${colourType}`);
    assert.equal(zlib.inflateSync(Buffer.concat(chunks)).length, height * (1 + width * channels!));
    assert.deepEqual(fs.readdirSync(folder).sort(), ['history.png', 'nested'], 'no temporary files left');
    assert.throws(() => plotHistory(history, ['loss'], { file: path.join(folder, 'plot.jpg'), show: false }), /must end in \.svg or \.png/);
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
});

/** Runs a script calling plotHistory in a child process (a terminal, not a notebook). */
function runPlotScript(
  folder: string,
  body: string,
  env: NodeJS.ProcessEnv,
): { status: number | null; stdout: string; stderr: string; ms: number } {
  const script = path.join(folder, 'lesson.ts');
  fs.writeFileSync(
    script,
    `import { plotHistory } from ${JSON.stringify(path.join(ROOT, 'lib', 'plot'))};\nconst history = ${JSON.stringify(history)};\n${body}`,
  );
  const started = Date.now();
  const run = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, ms: Date.now() - started };
}

/** The environment of a terminal: no display unless given, PATH as given. */
function terminalEnv(pathDirs: string[], display?: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: pathDirs.join(path.delimiter) };
  delete env.DISPLAY;
  delete env.WAYLAND_DISPLAY;
  if (display !== undefined) env.DISPLAY = display;
  return env;
}

test('in a terminal, a script writes out/<metrics>.svg next to itself and prints the path; no window without a display', () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-script-'));
  try {
    const run = runPlotScript(
      folder,
      `plotHistory(history, ['accuracy', 'val_accuracy'], { show: 'window' });\n`,
      terminalEnv([process.env.PATH ?? '']),
    );
    assert.equal(run.status, 0, run.stderr);
    const expected = path.join(folder, 'out', 'accuracy-val_accuracy.svg');
    assert.ok(run.stdout.includes(`saved to ${expected}`), run.stdout);
    assert.match(run.stdout, /No display \(\$DISPLAY is not set\): open the file above instead of a window\./);
    assert.ok(fs.readFileSync(expected, 'utf8').includes('>val_accuracy</text>'));
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
});

test(
  "show: 'window' opens the saved file with xdg-open and does not wait for it (a fake xdg-open on PATH)",
  { skip: process.platform !== 'linux' && 'xdg-open is the Linux route' },
  async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-window-'));
    const bin = path.join(folder, 'bin');
    const record = path.join(folder, 'opened.txt');
    fs.mkdirSync(bin);
    // Records its argument and its pid, then stays open like a viewer that blocks until closed.
    fs.writeFileSync(path.join(bin, 'xdg-open'), `#!/bin/sh\necho "$$ $1" >> ${JSON.stringify(record)}\nexec sleep 60\n`, { mode: 0o755 });
    const pids: number[] = [];
    try {
      const png = path.join(folder, 'loss.png');
      const run = runPlotScript(
        folder,
        `plotHistory(history, ['accuracy', 'val_accuracy'], { show: 'window' });\n` +
          `plotHistory(history, ['loss'], { show: 'window', file: ${JSON.stringify(png)} });\n`,
        terminalEnv([bin, process.env.PATH ?? ''], ':99'),
      );
      assert.equal(run.status, 0, run.stderr);
      assert.ok(run.ms < 30_000, `the script waited for the opener (${run.ms} ms)`);
      const svg = path.join(folder, 'out', 'accuracy-val_accuracy.svg');
      assert.equal(run.stdout.match(/Opening it with xdg-open\./g)?.length, 2, run.stdout);
      assert.ok(run.stdout.includes(`saved to ${svg}`), run.stdout);
      const deadline = Date.now() + 15_000;
      let lines: string[] = [];
      while (Date.now() < deadline) {
        lines = fs.existsSync(record) ? fs.readFileSync(record, 'utf8').trim().split('\n') : [];
        if (lines.length === 2) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const opened = lines.map((line) => {
        const [pid, ...file] = line.split(' ');
        pids.push(Number(pid));
        return file.join(' ');
      });
      assert.deepEqual(opened.sort(), [png, svg].sort(), 'the opener got each saved file');
      assert.match(fs.readFileSync(svg, 'utf8'), /^<svg /);
      assert.deepEqual([...fs.readFileSync(png).subarray(1, 4)], [...Buffer.from('PNG')]);
    } finally {
      for (const pid of pids) {
        try {
          process.kill(pid);
        } catch {
          // already gone
        }
      }
      fs.rmSync(folder, { recursive: true, force: true });
    }
  },
);

test(
  "show: 'window' with a display but no xdg-open prints the path and why, and does not throw",
  { skip: process.platform !== 'linux' && 'xdg-open is the Linux route' },
  () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-window-'));
    const emptyBin = path.join(folder, 'bin');
    fs.mkdirSync(emptyBin);
    try {
      const run = runPlotScript(
        folder,
        `plotHistory(history, ['loss', 'val_loss'], { show: 'window' });\nconsole.log('after');\n`,
        terminalEnv([emptyBin], ':99'),
      );
      assert.equal(run.status, 0, run.stderr);
      assert.ok(run.stdout.includes(`saved to ${path.join(folder, 'out', 'loss-val_loss.svg')}`), run.stdout);
      assert.match(
        run.stdout,
        /No opener \(xdg-open is not on PATH; it comes with xdg-utils\): open the file above instead of a window\.\nafter\n/,
      );
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  },
);

test("show: 'window' uses open on macOS and start on Windows", () => {
  assert.deepEqual(desktopOpener('/tmp/a b.svg', { PATH: '' }, 'darwin'), { command: '/usr/bin/open', args: ['/tmp/a b.svg'] });
  assert.deepEqual(desktopOpener('C:\\out\\a b.svg', { ComSpec: 'C:\\Windows\\system32\\cmd.exe' }, 'win32'), {
    command: 'C:\\Windows\\system32\\cmd.exe',
    args: ['/d', '/s', '/c', 'start "" "C:\\out\\a b.svg"'],
    verbatim: true,
  });
  assert.deepEqual(desktopOpener('/tmp/a.svg', { PATH: '' }, 'linux'), { reason: 'No display ($DISPLAY is not set)' });
  assert.deepEqual(desktopOpener('/tmp/a.svg', { PATH: '', WAYLAND_DISPLAY: 'wayland-0' }, 'linux'), {
    reason: 'No opener (xdg-open is not on PATH; it comes with xdg-utils)',
  });
});

test('missing metrics and bad arguments are explained', () => {
  assert.throws(
    () => historyFigure({ history: { loss: [1], acc: [0.5] } }, ['accuracy']),
    /no "accuracy". It has: loss, acc\. The history has "acc"/,
  );
  assert.throws(() => historyFigure({ history: { loss: [1] } }, ['val_loss']), /no "val_loss".*validationData/);
  assert.throws(() => historyFigure(history, []), /non-empty array/);
  assert.throws(() => historyFigure(history, ['loss'], { width: 20 }), /width.*between 100 and 10000.*20/);
  assert.throws(() => plotHistory(history, ['loss'], { show: 'popup' as never }), /show.*'inline', 'file', 'window' or false/);
  assert.match(defaultPlotFile(['accuracy', 'val_accuracy']), /out[\\/]accuracy-val_accuracy\.svg$/);
});

test('nice ticks: steps of 1, 2 or 5 times a power of ten, whole numbers for epochs', () => {
  assert.deepEqual(niceTicks(0.2275, 0.7225).ticks, [0.3, 0.4, 0.5, 0.6, 0.7]);
  assert.deepEqual(niceTicks(0.2275, 0.7225, 10).ticks, [0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7]);
  assert.deepEqual(niceTicks(1200, 5300).ticks, [1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000]);
  assert.deepEqual(niceTicks(-0.3, 6.3, 8, true).ticks, [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(niceTicks(-1.45, 30.45, 8, true).ticks, [0, 5, 10, 15, 20, 25, 30]);
});
