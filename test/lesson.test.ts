/**
 * `npm run lesson` end to end, small: the lesson notebook executed through the real tslab-dl
 * kernel by nbclient on a small synthetic set, asserting on what a learner would read in it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jupyterMissing, ROOT } from './support/jupyter';
import { codeCells, joinText, textOf } from './support/notebook-output';

test('npm run lesson runs the notebook through the kernel and reports the result', { timeout: 900_000 }, (t) => {
  const missing = jupyterMissing();
  if (missing) {
    t.skip(missing);
    return;
  }
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-lesson-'));
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-lesson-data-'));
  try {
    const run = spawnSync(
      process.execPath,
      // Default weights: without ImageNet's, the stand-in calibrated on the training images.
      [path.join(ROOT, 'scripts', 'lesson.mjs'), '--samples', '200', '--epochs', '10', '--cache', 'memory',
        '--data', path.join(data, 'dataset_dollarstreet'), '--out', out],
      { encoding: 'utf8', cwd: ROOT, env: { ...process.env, TSLAB_DL_CACHE: path.join(out, 'cache') } },
    );
    const printed = run.stdout + run.stderr;
    assert.equal(run.status, 0, printed);
    // The runner's report: final accuracy, epochs, data and weights.
    const final = /Final validation accuracy: (\d+\.\d)% \(best (\d+\.\d)%\) after (\d+) epochs; data: synthetic stand-in/.exec(printed);
    assert.ok(final, printed);
    assert.match(printed, /weights: stand-in \(random kernels, BatchNormalization statistics from the training images/);
    // The head learns on the synthetic twin: clearly above chance (10 classes: 10%).
    assert.ok(Number(final[2]) > 30, `best validation accuracy ${final[2]}%`);
    assert.ok(Number(final[3]) >= 1 && Number(final[3]) <= 10);

    const cells = codeCells(path.join(out, '01-transfer-learning.ipynb'));
    const errors = cells.flatMap((c) => c.outputs ?? []).filter((o) => o.output_type === 'error');
    assert.deepEqual(errors.map((e) => `${e.ename}: ${e.evalue}`), []);
    const all = cells.map(textOf).join('\n');
    assert.match(all, /USING SYNTHETIC STAND-IN DATA/, 'the synthetic data is announced');
    assert.match(all, /USING STAND-IN WEIGHTS/, 'the stand-in weights are announced');
    assert.match(all, /Frozen prefix \(429 layers\) computed once/, 'the frozen base ran once, not every epoch');
    // model.summary(): the lesson's parameter counts.
    assert.match(all, /Total params: 7,?093,?360/);
    assert.match(all, /Trainable params: 53,?808/);
    assert.match(all, /Non-trainable params: 7,?039,?552/);
    // The history plot as an inline SVG.
    const svg = cells.flatMap((c) => c.outputs ?? []).map((o) => joinText(o.data?.['image/svg+xml'])).filter(Boolean);
    assert.equal(svg.length, 1, 'one history plot');
    assert.match(svg[0], /^<svg[\s\S]*val_accuracy[\s\S]*<\/svg>\s*$/);
    assert.ok(fs.existsSync(path.join(out, 'history.svg')));
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
    fs.rmSync(data, { recursive: true, force: true });
  }
});
