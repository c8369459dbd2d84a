#!/usr/bin/env node
// `npm run lesson`: runs notebooks/01-transfer-learning.ipynb headlessly through the tslab-dl
// kernel (nbclient), writes the executed notebook and the history plot under out/, and prints
// the final validation accuracy, the epochs run, and the data and weights used. `--notebook`
// runs another one (02-model-swap, 03-cnn-from-scratch, 04-fine-tuning); the results the
// notebooks record (recordResult) go to <out>/results/, where the others compare with them.
//
//   npm run lesson -- [--data DIR] [--weights imagenet|stand-in|none|FILE.h5] [--samples N] [--epochs N]
//                     [--notebook FILE] [--out DIR] [--cache MODE] [--timeout S]
//
// The notebook's cells are the lesson's (30 epochs, the real data folder, ImageNet weights); these
// options reach it through the environment (TSLAB_DL_*), which the library applies in lesson mode.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandLine } from './command-line.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Every option of the lesson takes a value: `--name <valueName>`. */
const valued = (valueName, description) => ({ type: 'string', valueName, description });

const SPEC = {
  command: 'lesson',
  usage: 'Usage: npm run lesson -- [options]',
  options: {
    data: valued(
      'DIR',
      "Dollar Street folder (default: the notebook's data/dataset_dollarstreet/: downloaded\nfrom Zenodo when missing, the synthetic twin when offline)",
    ),
    weights: valued(
      'W',
      "imagenet (default: Keras' cache, else a download, else stand-in weights when\noffline), stand-in, none (random), or an .h5 path",
    ),
    samples: valued('N', 'size of the synthetic training set (validation: a third of it); default 878/293'),
    epochs: valued('N', 'maximum epochs (default 30, early stopping may end sooner)'),
    cache: valued(
      'MODE',
      'frozen-base feature cache: disk (default: re-runs skip the base), memory, or off\n(off runs the whole model every epoch, as Keras does: much slower)',
    ),
    notebook: valued(
      'FILE',
      'notebook to run (default notebooks/01-transfer-learning.ipynb; also\n02-model-swap, 03-cnn-from-scratch, 04-fine-tuning)',
    ),
    out: valued('DIR', 'where the executed notebook, the plot and the recorded results (results/) go\n(default out/)'),
    timeout: valued('S', 'seconds each cell may run (default 3600)'),
  },
};

/** The options, or exits: 0 after --help, 2 after a mistake in them. */
function parseArguments(argv) {
  const line = parseCommandLine(SPEC, argv);
  if (line.exit !== undefined) process.exit(line.exit);
  /** @type {{ notebook: string, out: string, data?: string, weights?: string, samples?: string, epochs?: string, cache?: string, timeout?: string }} */
  const options = { notebook: path.join(root, 'notebooks', '01-transfer-learning.ipynb'), out: path.join(root, 'out'), ...line.values };
  for (const key of ['samples', 'epochs', 'timeout']) {
    if (options[key] !== undefined && !(Number.isInteger(Number(options[key])) && Number(options[key]) > 0)) {
      fail(`--${key} must be a positive integer. Received ${JSON.stringify(options[key])}.`);
    }
  }
  options.cache ??= 'disk';
  if (!['disk', 'memory', 'off'].includes(options.cache))
    fail(`--cache must be disk, memory or off. Received ${JSON.stringify(options.cache)}.`);
  return options;
}

function fail(message) {
  process.stderr.write(`lesson: ${message}\n`);
  process.exit(2);
}

/** The Python that has nbclient: $TSLAB_DL_PYTHON, Debian's /usr/bin/python3, or python3 on PATH. */
function findJupyterPython() {
  const candidates = [process.env.TSLAB_DL_PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean);
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import nbclient, jupyter_client'], { stdio: 'ignore' });
    if (probe.status === 0) return python;
  }
  fail(
    "Jupyter's nbclient was not found (tried " +
      candidates.join(', ') +
      ').\n' +
      'Install it: `pip install jupyterlab nbclient`, or on Debian/Ubuntu `apt-get install jupyter-notebook python3-nbclient`.',
  );
}

function installKernelspec(python) {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-kernel-'));
  const result = spawnSync(process.execPath, [path.join(root, 'bin', 'tslab-dl.js'), 'install', '--prefix', prefix, '--python', python], {
    encoding: 'utf8',
  });
  if (result.status !== 0) fail(`could not install the kernelspec:\n${result.stdout}${result.stderr}`);
  return path.join(prefix, 'share', 'jupyter');
}

function outputsText(cell) {
  return (cell.outputs ?? []).map((o) => (o.output_type === 'stream' ? [].concat(o.text).join('') : '')).join('');
}

function main() {
  const options = parseArguments(process.argv.slice(2));
  if (!fs.existsSync(path.join(root, 'dist', 'lib', 'index.js'))) {
    const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
    if (build.status !== 0) fail('the build failed (npm run build).');
  }
  const python = findJupyterPython();
  const jupyterPath = installKernelspec(python);
  /** @type {NodeJS.ProcessEnv} */
  const env = { ...process.env, JUPYTER_PATH: [jupyterPath, process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter) };
  if (options.data) env.TSLAB_DL_DATA = path.resolve(options.data);
  if (options.weights)
    env.TSLAB_DL_WEIGHTS = ['imagenet', 'stand-in', 'none'].includes(options.weights) ? options.weights : path.resolve(options.weights);
  if (options.samples) env.TSLAB_DL_SAMPLES = options.samples;
  if (options.epochs) env.TSLAB_DL_EPOCHS = options.epochs;
  env.TSLAB_DL_FEATURE_CACHE = options.cache;
  // recordResult / compareResults (lib/lesson/results.ts): next to the executed notebooks.
  env.TSLAB_DL_RESULTS ??= path.join(path.resolve(options.out), 'results');

  fs.mkdirSync(options.out, { recursive: true });
  const executed = path.join(options.out, path.basename(options.notebook));
  console.log(`Running ${path.relative(root, options.notebook)} with the tslab-dl kernel ...`);
  const started = Date.now();
  const run = spawnSync(
    python,
    [path.join(root, 'scripts', 'python', 'run_notebook.py'), options.notebook, executed, '--timeout', options.timeout ?? '3600'],
    { env, stdio: 'inherit' },
  );
  const seconds = (Date.now() - started) / 1000;
  fs.rmSync(path.dirname(path.dirname(jupyterPath)), { recursive: true, force: true });
  if (!fs.existsSync(executed)) fail('the notebook did not run (see the error above).');

  const nb = JSON.parse(fs.readFileSync(executed, 'utf8'));
  const svg = nb.cells
    .flatMap((c) => c.outputs ?? [])
    .map((o) => o.data?.['image/svg+xml'])
    .filter(Boolean)
    .pop();
  if (svg) fs.writeFileSync(path.join(options.out, 'history.svg'), [].concat(svg).join(''));
  const printed = nb.cells.map(outputsText).join('');
  const summary = printed.split('\n').filter((l) => l.startsWith('Final validation accuracy'));
  // What the run used, from the notebook's own notices (lib/lesson/).
  const shown = nb.cells
    .flatMap((c) => c.outputs ?? [])
    .map((o) => [].concat(o.data?.['text/plain'] ?? o.text ?? '').join(''))
    .join('\n');
  const data = /USING SYNTHETIC STAND-IN DATA/.test(shown) ? 'the synthetic twin of Dollar Street 10' : 'the real Dollar Street 10';
  const pretrained = nb.cells.some((c) => c.cell_type === 'code' && /weights: 'imagenet'/.test([].concat(c.source).join('')));
  const weights = !pretrained
    ? 'none (trained from scratch)'
    : /USING STAND-IN WEIGHTS/.test(shown)
      ? 'stand-in weights (random kernels, BatchNormalization statistics from the training images)'
      : /weights: 'imagenet' -> random initialisation/.test(shown)
        ? 'random initialisation'
        : /weights: 'imagenet' -> /.test(shown)
          ? `the file ${env.TSLAB_DL_WEIGHTS}`
          : "ImageNet's";

  console.log(`\nExecuted notebook: ${path.relative(process.cwd(), executed)}`);
  if (svg) console.log(`History plot:      ${path.relative(process.cwd(), path.join(options.out, 'history.svg'))}`);
  for (const line of summary) console.log(line);
  console.log(`Data: ${data}; weights: ${weights}`);
  const saved = printed.split('\n').filter((l) => l.startsWith('Saved "'));
  if (saved.length)
    console.log(`Results recorded in ${path.relative(process.cwd(), env.TSLAB_DL_RESULTS) || '.'} (compareResults() shows them)`);
  console.log(`Lesson run time: ${seconds.toFixed(1)} s`);
  if (run.status !== 0) {
    console.error('The notebook stopped with an error (above); the executed notebook shows where.');
    process.exit(1);
  }
  if (summary.length === 0) {
    console.error('The notebook ran but printed no "Final validation accuracy" line.');
    process.exit(1);
  }
}

main();
