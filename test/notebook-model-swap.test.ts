/**
 * notebooks/02-model-swap.ipynb end to end, small: executed through the real tslab-dl kernel by
 * nbclient on a small synthetic twin (45 training images, 3 epochs, stand-in weights), asserting on
 * what a learner would read: the swapped model's parameters, the comparison table and chart of
 * three networks, the validation-accuracy curves and the closing line.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jupyterMissing, jupyterSandbox, JUPYTER_PYTHON, ROOT } from './support/jupyter';
import { codeCells, joinText, textOf } from './support/notebook-output';

const NOTEBOOK = path.join(ROOT, 'notebooks', '02-model-swap.ipynb');

/** Why the built package cannot run the notebook, or undefined. */
function packageMissing(): string | undefined {
  const typings = path.join(ROOT, 'dist', 'lib', 'index.d.ts');
  if (!fs.existsSync(typings)) return 'dist/lib is not built: run `npm run build` (npm test does)';
  if (!/\bcompareModels\b/.test(fs.readFileSync(typings, 'utf8'))) {
    return "'tslab-dl' does not export compareModels yet (lib/index.ts: export { compareModels, ... } from './compare'; then npm run build)";
  }
  return undefined;
}

test('02-model-swap.ipynb runs through the kernel on the synthetic twin and shows the comparison', { timeout: 900_000 }, (t) => {
  const missing = jupyterMissing() ?? packageMissing();
  if (missing) {
    t.skip(missing);
    return;
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-model-swap-'));
  const sandbox = jupyterSandbox({
    TSLAB_DL_DATA: path.join(work, 'data', 'dataset_dollarstreet'),
    TSLAB_DL_SAMPLES: '45',
    TSLAB_DL_EPOCHS: '3',
    TSLAB_DL_CACHE: path.join(work, 'cache'),
    TSLAB_DL_FEATURE_CACHE: 'memory',
  });
  try {
    const executed = path.join(work, '02-model-swap.ipynb');
    const started = Date.now();
    const run = spawnSync(
      JUPYTER_PYTHON,
      [path.join(ROOT, 'scripts', 'python', 'run_notebook.py'), NOTEBOOK, executed, '--timeout', '600'],
      {
        env: sandbox.env,
        encoding: 'utf8',
      },
    );
    t.diagnostic(`notebook run: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.ok(fs.existsSync(executed), `the notebook did not run: ${run.stderr}`);
    const cells = codeCells(executed);
    const errors = cells.flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === 'error');
    assert.deepEqual(
      errors.map((e) => `${e.ename}: ${e.evalue}`),
      [],
      run.stderr,
    );
    assert.equal(run.status, 0, run.stderr);

    const all = cells.map(textOf).join('\n');
    assert.match(all, /USING SYNTHETIC STAND-IN DATA/, 'the synthetic data is announced');
    assert.match(all, /train images \[ 45, 64, 64, 3 \] validation images \[ 15, 64, 64, 3 \]/);
    assert.match(all, /Stand-in weights for every network/);
    // The swapped base, MobileNetV2 (alpha 1, 160x160), under the lesson's head: 2,257,984 + 69,680
    // parameters (BN 4 x 1280, Dense 1280 x 50 + 50, Dense 50 x 10 + 10), 67,120 of them trainable.
    assert.match(all, /Total params: 2,?327,?664/);
    assert.match(all, /Trainable params: 67,?120/);
    assert.match(all, /mobilenetv2_1\.00_160: best validation accuracy \d+\.\d% after [1-3] epochs/);

    // The comparison: a text table (text/plain) and an HTML table with the bar chart.
    const outputs = cells.flatMap((c) => c.outputs ?? []);
    const html = outputs
      .map((o) => joinText(o.data?.['text/html']))
      .filter((h) => h.includes('<table'))
      .join('\n');
    for (const name of ['DenseNet121', 'MobileNetV2', 'ResNet50'])
      assert.match(html, new RegExp(`<td[^>]*>${name}</td>`), `${name} in the table`);
    assert.match(html, /<svg[\s\S]*Best validation accuracy \(%\)[\s\S]*Feature extraction \(images\/s\)[\s\S]*<\/svg>/);
    assert.match(all, /Model comparison: 45 training \/ 15 validation images, upscaled to 160x160, max pooling/);
    // The lesson's DenseNet121 figures in its row.
    assert.match(all, /DenseNet121\s+stand-in\s+7,093,360 \/ 53,808\s+1024/);
    assert.match(all, /ResNet50\s+stand-in\s+23,698,864 \/ 107,056\s+2048/);
    // The curves: one SVG plot with a series per network.
    // (Figures are Vega-Lite specs with the SVG rendered from them; the comparison's bar chart is the other one.)
    const plots = outputs
      .filter((o) => o.data?.['application/vnd.vegalite.v5+json'] !== undefined)
      .map((o) => joinText(o.data?.['image/svg+xml']))
      .filter((svg) => !svg.includes('Best validation accuracy (%)'));
    assert.equal(plots.length, 1, 'one validation-accuracy plot');
    for (const name of ['DenseNet121', 'MobileNetV2', 'ResNet50'])
      assert.match(plots[0], new RegExp(`>${name}</text>`), `${name} in the legend`);
    // One line per network in the form `npm run lesson -- --notebook notebooks/02-model-swap.ipynb` reports.
    for (const name of ['DenseNet121', 'MobileNetV2', 'ResNet50']) {
      assert.match(all, new RegExp(`\\nFinal validation accuracy of ${name}: \\d+\\.\\d% \\(best \\d+\\.\\d%\\) after [1-3] epochs`));
    }
    assert.match(
      all,
      /Best network: (DenseNet121|MobileNetV2|ResNet50) with \d+\.\d% validation accuracy \(3 compared; data: synthetic stand-in[^;]*; weights: stand-in\)/,
    );
  } finally {
    sandbox.dispose();
    fs.rmSync(work, { recursive: true, force: true });
  }
});
