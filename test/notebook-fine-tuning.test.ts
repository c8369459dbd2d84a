/**
 * notebooks/04-fine-tuning.ipynb end to end, small and offline: the lesson's head on a frozen
 * DenseNet121 (stand-in weights), then Keras' fine-tuning (setTrainable from conv5_block1_0_bn,
 * Adam at 1e-5, 10 more epochs continuing the count with initialEpoch), executed through the
 * real tslab-dl kernel by nbclient (scripts/lesson.mjs) on a synthetic twin of 100 training
 * images, the download hosts pointed at a closed port. Asserts that both phases ran and say so
 * (epochs, validation accuracy, time per epoch), the plot of both phases, and both results
 * recorded in a results folder of the test's own.
 *
 * No TSLAB_DL_EPOCHS here: lesson mode caps the `epochs` argument of a fit, which for a fit that
 * continues with initialEpoch counts the head's epochs too; capped, the fine-tuning fit would
 * have no epoch left to run.
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

const NOTEBOOK = path.join(ROOT, 'notebooks', '04-fine-tuning.ipynb');
const HEAD = 'Head only (DenseNet121)';
const FINE = 'Fine-tuned (DenseNet121, conv5)';

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

/** Everything a cell shows as text, display updates included (the training display redraws in place). */
function shownText(cell: Cell): string {
  return (cell.outputs ?? []).map((o) => (o.output_type === 'stream' ? joinText(o.text) : joinText(o.data?.['text/plain']))).join('\n');
}

describe('04-fine-tuning.ipynb', { timeout: 600_000 }, () => {
  test('reads like the lesson, then fine-tunes the Keras way', () => {
    const source = codeCells(NOTEBOOK)
      .map((c) => joinText(c.source))
      .join('\n');
    assert.match(source, /^await lessonMode\(\);$/m);
    assert.match(source, /const DATA_FOLDER = 'data\/dataset_dollarstreet\/';/);
    assert.match(source, /weights: 'imagenet'/);
    assert.match(source, /baseModel\.trainable = false;/);
    for (const layer of ['Flatten()', 'BatchNormalization()', "Dense(50, { activation: 'relu' })", 'Dropout(0.5)', 'Dense(10)']) {
      assert.ok(source.includes(`out = keras.layers.${layer}.apply(out);`), `the head's ${layer} written out`);
    }
    assert.match(source, /keras\.callbacks\.EarlyStopping\(\{ monitor: 'val_accuracy', patience: 5 \}\)/);
    assert.match(source, /setTrainable\(model, \{ from: 'conv5_block1_0_bn' \}\);/);
    assert.match(source, /optimizer: keras\.optimizers\.Adam\(\{ learningRate: 1e-5 \}\),/);
    assert.match(source, /epochs: history\.epoch\.length \+ fineTuneEpochs,\n  initialEpoch: history\.epoch\.length,/);
    assert.match(source, new RegExp(`recordResult\\('${HEAD.replace(/[()]/g, '\\$&')}', history, \\{ seconds: headSeconds \\}\\);`));
    assert.match(source, new RegExp(`recordResult\\('${FINE.replace(/[()]/g, '\\$&')}', historyFine, \\{ seconds: fineSeconds \\}\\);`));
    assert.doesNotMatch(source, /settings|TSLAB_DL|buildHead|lessonSettings/);
  });

  test('offline on the synthetic twin: the head, then 10 fine-tuning epochs counted on from it, both recorded', async (t) => {
    const missing = jupyterMissing() ?? packageMissing();
    if (missing) return t.skip(missing);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-fine-tuning-'));
    const results = path.join(work, 'results');
    const closed = await closedUrl();
    try {
      const started = Date.now();
      const run = await runLesson(
        [
          '--notebook',
          NOTEBOOK,
          '--samples',
          '100',
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
      const cells = codeCells(path.join(work, 'out', '04-fine-tuning.ipynb'));
      assert.deepEqual(errorsOf(cells), [], run.printed);
      assert.equal(run.status, 0, run.printed);
      assert.match(run.printed, /Data: the synthetic twin of Dollar Street 10; weights: stand-in weights/);

      // Both phases' lines, as the runner reports them.
      const head = /Final validation accuracy \(head only\): (\d+\.\d)% \(best (\d+\.\d)%\) after (\d+) epochs, (\d+\.\d) s per epoch/.exec(
        run.printed,
      );
      const fine =
        /Final validation accuracy \(fine-tuned\): (\d+\.\d)% \(best (\d+\.\d)%\) after 10 more epochs, (\d+\.\d) s per epoch/.exec(
          run.printed,
        );
      assert.ok(head && fine, run.printed);
      t.diagnostic(`${head[0]}; ${fine[0]}`);
      const headEpochs = Number(head[3]);
      assert.ok(headEpochs >= 6 && headEpochs <= 30, `the head trained ${headEpochs} epochs (early stopping: patience 5, at most 30)`);
      assert.ok(Number(head[2]) > 25, `the head learns: best ${head[2]}%`);

      // The unfrozen block, and the fine-tuning epochs numbered on from the head's.
      const all = cells.map(shownText).join('\n');
      assert.match(all, /Training 68 layers from conv5_block1_0_bn on \(2,213,936 parameters\); 176 layers before it stay frozen\./);
      const fitCell = cells.find((c) => joinText(c.source).includes('initialEpoch: history.epoch.length'))!;
      const epochs = [...shownText(fitCell).matchAll(/Epoch (\d+)\/(\d+) - /g)].map((m) => [Number(m[1]), Number(m[2])]);
      assert.ok(epochs.length > 0, shownText(fitCell));
      assert.deepEqual(epochs[0], [headEpochs + 1, headEpochs + 10], 'the first fine-tuning epoch continues the count');
      assert.deepEqual(epochs[epochs.length - 1], [headEpochs + 10, headEpochs + 10]);

      // One plot of both phases.
      const plots = cells.flatMap((c) => c.outputs ?? []).filter((o) => o.data?.['image/svg+xml']);
      assert.equal(plots.length, 1, 'one history plot');
      assert.match(joinText(plots[0].data?.['text/plain']), new RegExp(`over ${headEpochs + 10} epochs`));
      assert.match(joinText(plots[0].data?.['image/svg+xml']), new RegExp(`Head, then fine-tuning from epoch ${headEpochs + 1}`));

      // Both results, in the test's own results folder.
      const headRecord = JSON.parse(fs.readFileSync(path.join(results, 'head-only-densenet121.json'), 'utf8'));
      const fineRecord = JSON.parse(fs.readFileSync(path.join(results, 'fine-tuned-densenet121-conv5.json'), 'utf8'));
      assert.deepEqual([headRecord.name, headRecord.epochs, headRecord.firstEpoch], [HEAD, headEpochs, 1]);
      assert.deepEqual([fineRecord.name, fineRecord.epochs, fineRecord.firstEpoch], [FINE, 10, headEpochs + 1]);
      assert.equal((fineRecord.bestValAccuracy * 100).toFixed(1), fine[2]);
      assert.ok(headRecord.seconds > 0 && fineRecord.seconds > 0);
      for (const r of [headRecord, fineRecord]) {
        assert.equal(r.weights, 'DenseNet121, stand-in (ImageNet weights not reachable)');
        assert.equal(r.data, 'synthetic twin of Dollar Street 10, 100 training images');
      }

      // The comparison: both phases side by side, with their time per epoch.
      const compare = cells.find((c) => joinText(c.source).includes('compareResults('))!;
      const html = (compare.outputs ?? []).map((o) => joinText(o.data?.['text/html'])).join('');
      const rows = [...html.matchAll(/<tr><td style="text-align:left">([^<]+)<\/td>/g)].map((m) => m[1]);
      assert.deepEqual(rows, [HEAD, FINE]);
      assert.match(
        textOf(compare),
        new RegExp(
          `Fine-tuned \\(DenseNet121, conv5\\)\\s+${fine[2]}% \\(epoch \\d+\\)\\s+${fine[1]}%\\s+${headEpochs + 1}-${headEpochs + 10}\\s+${fine[3]}`,
        ),
      );
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
