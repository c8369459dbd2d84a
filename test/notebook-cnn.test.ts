/**
 * notebooks/03-cnn-from-scratch.ipynb end to end, small and offline: the lesson's network of
 * episode 4 (Conv2D/MaxPooling2D twice, Dense(50), Dense(10)), executed through the real tslab-dl
 * kernel by nbclient (scripts/lesson.mjs) on a synthetic twin of 200 training images, with the
 * download hosts pointed at a closed port. Asserts on what a learner reads: no errors, the network
 * learns above chance, its history plot, its result recorded (in a results folder of the test's
 * own, never the project's out/), and the closing comparison with the transfer-learning
 * notebook's result, written here by hand in the format recordResult writes.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closedUrl } from './support/closed-url';
import { jupyterMissing, ROOT } from './support/jupyter';
import { Cell, codeCells, joinText, textOf } from './support/notebook-output';

const NOTEBOOK = path.join(ROOT, 'notebooks', '03-cnn-from-scratch.ipynb');
const TRANSFER = 'Transfer learning (DenseNet121)';

/** Runs scripts/lesson.mjs without blocking this process. */
function runLesson(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; printed: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'lesson.mjs'), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    let printed = '';
    child.stdout.on('data', (d) => (printed += d));
    child.stderr.on('data', (d) => (printed += d));
    child.on('close', (status) => resolve({ status, printed }));
  });
}

/** Why the built package cannot run the notebook, or undefined. */
function packageMissing(): string | undefined {
  const typings = path.join(ROOT, 'dist', 'lib', 'index.d.ts');
  if (!fs.existsSync(typings)) return 'dist/lib is not built: run `npm run build` (npm test does)';
  if (!/\bcompareResults\b/.test(fs.readFileSync(typings, 'utf8'))) {
    return "'tslab-dl' does not export recordResult / compareResults yet (lib/index.ts: export { recordResult, compareResults, ... } from './lesson/results'; then npm run build)";
  }
  return undefined;
}

function errorsOf(cells: Cell[]): string[] {
  return cells
    .flatMap((c) => c.outputs ?? [])
    .filter((o) => o.output_type === 'error')
    .map((o) => `${o.ename}: ${o.evalue}`);
}

/** mtime of the project's own results file for `slug`, or undefined: the test must not touch it. */
function projectResult(slug: string): number | undefined {
  const file = path.join(ROOT, 'out', 'results', `${slug}.json`);
  return fs.existsSync(file) ? fs.statSync(file).mtimeMs : undefined;
}

describe('03-cnn-from-scratch.ipynb', { timeout: 600_000 }, () => {
  test('reads like the lesson: the episode-4 network, model.fit for 10 epochs, no settings in its cells', () => {
    const source = codeCells(NOTEBOOK)
      .map((c) => joinText(c.source))
      .join('\n');
    assert.match(source, /^await lessonMode\(\);$/m);
    assert.match(source, /const DATA_FOLDER = 'data\/dataset_dollarstreet\/';/);
    assert.match(source, /trainImages = trainImages\.div\(255\);/);
    assert.match(source, /const inputs = keras\.Input\(trainImages\.shape\.slice\(1\)\);/);
    const layers = [
      "let x = keras.layers.Conv2D(50, [3, 3], { activation: 'relu' }).apply(inputs);",
      'x = keras.layers.MaxPooling2D([2, 2]).apply(x);',
      "x = keras.layers.Conv2D(50, [3, 3], { activation: 'relu' }).apply(x);",
      'x = keras.layers.MaxPooling2D([2, 2]).apply(x);',
      'x = keras.layers.Flatten().apply(x);',
      "x = keras.layers.Dense(50, { activation: 'relu' }).apply(x);",
      'const outputs = keras.layers.Dense(10).apply(x);',
    ];
    assert.ok(source.includes(layers.join('\n')), "the layers in the lesson's order");
    assert.match(source, /keras\.losses\.SparseCategoricalCrossentropy\(\{ fromLogits: true \}\)/);
    assert.match(
      source,
      /await model\.fit\(trainImages, trainLabels, \{\n  batchSize: 32,\n  epochs: 10,\n  validationData: \[valImages, valLabels\],\n\}\);/,
    );
    assert.match(source, /recordResult\('CNN from scratch', history\);/);
    assert.match(source, new RegExp(`compareResults\\(\\['${TRANSFER.replace(/[()]/g, '\\$&')}', 'CNN from scratch'\\]\\);`));
    assert.doesNotMatch(source, /settings|TSLAB_DL|buildHead|lessonSettings/);
  });

  test('offline on the synthetic twin: it learns, plots, records its result and shows it next to transfer learning', async (t) => {
    const missing = jupyterMissing() ?? packageMissing();
    if (missing) return t.skip(missing);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-cnn-'));
    const results = path.join(work, 'results');
    const before = projectResult('cnn-from-scratch');
    // The transfer-learning notebook's result, as recordResult writes it (lib/lesson/results.ts).
    fs.mkdirSync(results);
    fs.writeFileSync(
      path.join(results, 'transfer-learning-densenet121.json'),
      JSON.stringify({
        format: 'tslab-dl result 1',
        name: TRANSFER,
        finalValAccuracy: 0.64,
        bestValAccuracy: 0.655,
        bestEpoch: 12,
        epochs: 17,
        firstEpoch: 1,
        data: 'synthetic twin of Dollar Street 10, 200 training images',
        weights: 'DenseNet121, stand-in (ImageNet weights not reachable)',
        date: '2026-01-02T03:04:05.000Z',
      }),
    );
    const closed = await closedUrl();
    try {
      const started = Date.now();
      const run = await runLesson(
        [
          '--notebook',
          NOTEBOOK,
          '--samples',
          '200',
          '--epochs',
          '5',
          '--cache',
          'memory',
          '--data',
          path.join(work, 'data', 'dataset_dollarstreet'),
          '--out',
          path.join(work, 'out'),
        ],
        {
          TSLAB_DL_CACHE: path.join(work, 'cache'),
          TSLAB_DL_RESULTS: results,
          TSLAB_DL_ZENODO_URL: closed,
          TSLAB_DL_WEIGHTS_BASE_URL: `${closed}/`,
          KERAS_HOME: path.join(work, 'keras'),
        },
      );
      t.diagnostic(`notebook run: ${((Date.now() - started) / 1000).toFixed(1)} s`);
      const cells = codeCells(path.join(work, 'out', '03-cnn-from-scratch.ipynb'));
      assert.deepEqual(errorsOf(cells), [], run.printed);
      assert.equal(run.status, 0, run.printed);

      // The runner's report: the network learns clearly above chance (10 classes: 10%). On this
      // twin (seed 2) it reaches about 27% after 5 epochs and 46% after 10.
      const final = /Final validation accuracy: (\d+\.\d)% \(best (\d+\.\d)%\) after (\d+) epochs/.exec(run.printed);
      assert.ok(final, run.printed);
      t.diagnostic(final[0]);
      assert.ok(Number(final[2]) > 20, `best validation accuracy ${final[2]}%`);
      assert.ok(Number(final[3]) >= 1 && Number(final[3]) <= 10, 'at most the 10 epochs of the cell');
      assert.match(run.printed, /Data: the synthetic twin of Dollar Street 10; weights: none \(trained from scratch\)/);

      const all = cells.map(textOf).join('\n');
      assert.match(all, /USING SYNTHETIC STAND-IN DATA/);
      assert.match(all, /train images \[ 200, 64, 64, 3 \] validation images \[ 67, 64, 64, 3 \]/);
      // The lesson's parameter counts (episode 4: 514,510, all trainable).
      assert.match(all, /Total params: 514,510 \(1\.96 MB\)\nTrainable params: 514,510/);
      // The history, plotted inline as SVG.
      const svg = cells
        .flatMap((c) => c.outputs ?? [])
        .map((o) => joinText(o.data?.['image/svg+xml']))
        .filter(Boolean);
      assert.equal(svg.length, 1, 'one history plot');
      assert.match(svg[0], /^<svg[\s\S]*val_accuracy[\s\S]*<\/svg>\s*$/);

      // The result, in the test's results folder, with what the run printed.
      const file = path.join(results, 'cnn-from-scratch.json');
      assert.ok(fs.existsSync(file), `${file} written`);
      const record = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.equal(record.name, 'CNN from scratch');
      assert.equal((record.bestValAccuracy * 100).toFixed(1), final[2]);
      assert.equal((record.finalValAccuracy * 100).toFixed(1), final[1]);
      assert.equal(record.epochs, Number(final[3]));
      assert.equal(record.data, 'synthetic twin of Dollar Street 10, 200 training images');
      assert.match(all, /Saved "CNN from scratch" \(best validation accuracy \d+\.\d%\) to .*cnn-from-scratch\.json\./);
      assert.equal(projectResult('cnn-from-scratch'), before, "the project's out/results/ is left alone");

      // The comparison: both networks in one table, transfer learning first.
      const compare = cells.find((c) => joinText(c.source).includes('compareResults('))!;
      const html = (compare.outputs ?? []).map((o) => joinText(o.data?.['text/html'])).join('');
      const rows = [...html.matchAll(/<tr><td style="text-align:left">([^<]+)<\/td>/g)].map((m) => m[1]);
      assert.deepEqual(rows, [TRANSFER, 'CNN from scratch']);
      assert.match(html, /65\.5% \(epoch 12\)/, "transfer learning's best from its file");
      assert.doesNotMatch(textOf(compare), /No result named/);
      assert.match(textOf(compare), /CNN from scratch\s+\d+\.\d% \(epoch \d+\)/);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
