/**
 * `npm run lesson` end to end, small: the lesson notebook, written as the Python lesson reads
 * (model.fit, the head layer by layer, weights: 'imagenet', 30 epochs), executed through the real
 * tslab-dl kernel by nbclient, asserting on what a learner would read in it. Offline, it runs on
 * the synthetic twin and stand-in weights; with Zenodo answering (a local stand-in), it downloads
 * the data into the notebook's data folder and uses it.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeSyntheticDollarStreet, SYNTHETIC_MANIFEST } from '../lib/data';
import { closedUrl } from './support/closed-url';
import { jupyterMissing, ROOT } from './support/jupyter';
import { Cell, codeCells, joinText, textOf } from './support/notebook-output';
import { startZenodoServer } from './support/zenodo-server';

const NOTEBOOK = path.join(ROOT, 'notebooks', '01-transfer-learning.ipynb');
/** Runs scripts/lesson.mjs without blocking this process (a test server may have to answer it). */
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

function errorsOf(cells: Cell[]): string[] {
  return cells
    .flatMap((c) => c.outputs ?? [])
    .filter((o) => o.output_type === 'error')
    .map((o) => `${o.ename}: ${o.evalue}`);
}

describe('npm run lesson', { timeout: 900_000 }, () => {
  test('the notebook reads like the Python lesson: no settings in its cells', () => {
    const source = codeCells(NOTEBOOK)
      .map((c) => joinText(c.source))
      .join('\n');
    assert.match(source, /const DATA_FOLDER = 'data\/dataset_dollarstreet\/';/);
    assert.match(source, /weights: 'imagenet'/);
    assert.match(source, /epochs: 30,/);
    assert.match(source, /await model\.fit\(trainImages, trainLabels, \{/);
    for (const layer of ['Flatten()', 'BatchNormalization()', "Dense(50, { activation: 'relu' })", 'Dropout(0.5)', 'Dense(10)']) {
      assert.ok(source.includes(`out = keras.layers.${layer}.apply(out);`), `the head's ${layer} written out`);
    }
    assert.doesNotMatch(source, /settings|TSLAB_DL|buildHead|lessonSettings/);
  });

  test("offline: the synthetic twin and stand-in weights, announced; the lesson's counts; model.fit trains the head on features computed once", async (t) => {
    const missing = jupyterMissing();
    if (missing) return t.skip(missing);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-lesson-'));
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-lesson-data-'));
    const closed = await closedUrl();
    try {
      const run = await runLesson(
        ['--samples', '200', '--epochs', '10', '--cache', 'memory', '--data', path.join(data, 'dataset_dollarstreet'), '--out', out],
        {
          TSLAB_DL_CACHE: path.join(out, 'cache'),
          TSLAB_DL_ZENODO_URL: closed,
          TSLAB_DL_WEIGHTS_BASE_URL: `${closed}/`,
          KERAS_HOME: path.join(out, 'keras'),
        },
      );
      assert.equal(run.status, 0, run.printed);
      // The runner's report: final accuracy and epochs, and what the run used.
      const final = /Final validation accuracy: (\d+\.\d)% \(best (\d+\.\d)%\) after (\d+) epochs/.exec(run.printed);
      assert.ok(final, run.printed);
      assert.match(run.printed, /Data: the synthetic twin of Dollar Street 10; weights: stand-in weights/);
      // The head learns on the synthetic twin: clearly above chance (10 classes: 10%).
      assert.ok(Number(final[2]) > 25, `best validation accuracy ${final[2]}%`);
      assert.ok(Number(final[3]) >= 1 && Number(final[3]) <= 10, 'TSLAB_DL_EPOCHS caps the 30 epochs of the cell');

      const cells = codeCells(path.join(out, '01-transfer-learning.ipynb'));
      assert.deepEqual(errorsOf(cells), []);
      const all = cells.map(textOf).join('\n');
      // The first cell: one short line on where it runs, and the run's settings once.
      const first = textOf(cells[0]).trim().split('\n');
      assert.match(first[0], /^tslab-dl: TensorFlow\.js 4\.22\.0 on \w+; frozen layers on [\w .]+\.$/);
      assert.ok(first[0].length < 100, first[0]);
      assert.match(first[1], /^Run settings from the environment: at most 10 epochs per fit \(TSLAB_DL_EPOCHS\)/);
      assert.match(
        all,
        /USING SYNTHETIC STAND-IN DATA: the Dollar Street 10 files are not in .*, and Zenodo cannot be reached \(.*ECONNREFUSED/,
      );
      assert.match(all, /USING STAND-IN WEIGHTS: the ImageNet weights of DenseNet121 are not cached and cannot be downloaded/);
      assert.match(all, /Frozen prefix \(429 layers\) computed once/, 'the frozen base ran once, not every epoch');
      // model.summary(): one output, Keras' layout and the lesson's parameter counts, the layers folded in HTML.
      const summaryCell = cells.find((c) => /^model\.summary\(\);/.test(joinText(c.source)))!;
      assert.equal(summaryCell.outputs!.length, 1, 'one output, not a stream line per layer');
      const summary = summaryCell.outputs![0];
      assert.match(
        joinText(summary.data?.['text/plain']),
        /Total params: 7,093,360 \(27\.06 MB\)\nTrainable params: 53,808 \(210\.19 KB\)\nNon-trainable params: 7,039,552 \(26\.85 MB\)/,
      );
      assert.match(
        joinText(summary.data?.['text/plain']),
        /conv5_block16_concat \(Concatenate\) +\(None, 5, 5, 1024\) +0 +conv5_block15_concat\[0\]\[0\], conv5_block16_2_conv\[0\]\[0\]/,
      );
      assert.match(joinText(summary.data?.['text/html']), /<details><summary>434 layers \(\d+ frozen, in grey\)/);
      // The history: val_accuracy logged (the final line reads it) and plotted inline as SVG.
      const svg = cells
        .flatMap((c) => c.outputs ?? [])
        .map((o) => joinText(o.data?.['image/svg+xml']))
        .filter(Boolean);
      assert.equal(svg.length, 1, 'one history plot');
      assert.match(svg[0], /^<svg[\s\S]*val_accuracy[\s\S]*<\/svg>\s*$/);
      assert.ok(fs.existsSync(path.join(out, 'history.svg')));
      // Cells ending in an assignment show nothing, as in IPython.
      const head = cells.find((c) => joinText(c.source).includes('keras.layers.Flatten()'))!;
      assert.deepEqual(head.outputs, []);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
      fs.rmSync(data, { recursive: true, force: true });
    }
  });

  test('online: the data folder is filled from Zenodo (md5-checked) and the real data is used', async (t) => {
    const missing = jupyterMissing();
    if (missing) return t.skip(missing);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-lesson-online-'));
    // Zenodo's files: a small synthetic set without its manifest, so the library takes it as real.
    const published = path.join(work, 'published');
    await makeSyntheticDollarStreet(published, { train: 60, test: 20 });
    fs.rmSync(path.join(published, SYNTHETIC_MANIFEST));
    const zenodo = await startZenodoServer(published);
    try {
      const folder = path.join(work, 'data', 'dataset_dollarstreet');
      const run = await runLesson(
        ['--epochs', '2', '--cache', 'memory', '--weights', 'stand-in', '--data', folder, '--out', path.join(work, 'out')],
        {
          TSLAB_DL_CACHE: path.join(work, 'cache'),
          TSLAB_DL_ZENODO_URL: zenodo.url,
          KERAS_HOME: path.join(work, 'keras'),
        },
      );
      assert.equal(run.status, 0, run.printed);
      assert.match(run.printed, /Data: the real Dollar Street 10; weights: stand-in weights/);
      for (const name of ['train_images.npy', 'train_labels.npy', 'test_images.npy', 'test_labels.npy']) {
        assert.deepEqual(fs.readFileSync(path.join(folder, name)), fs.readFileSync(path.join(published, name)), `${name} downloaded whole`);
      }
      assert.ok(zenodo.requests.includes('/api/records/10970014'), 'the record (with the md5s) was read');
      const cells = codeCells(path.join(work, 'out', '01-transfer-learning.ipynb'));
      assert.deepEqual(errorsOf(cells), []);
      const all = cells.map(textOf).join('\n');
      assert.match(all, /train images \[ 60, 64, 64, 3 \] validation images \[ 20, 64, 64, 3 \]/);
      assert.doesNotMatch(all, /USING SYNTHETIC STAND-IN DATA/);
    } finally {
      await zenodo.close();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
