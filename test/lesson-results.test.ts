/**
 * recordResult / compareResults (lib/lesson/results.ts) on real files in temporary folders: where
 * results go ($TSLAB_DL_RESULTS, else out/results/ of the project folder, else of the working
 * folder), what a results file holds, that it is written whole (no temporary file left), the
 * comparison table (text and HTML) with what is missing, clear errors for a corrupt file, and
 * what lesson mode knows about the run (data, weights).
 */
import { after, afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DataFileError, ValueError } from '../lib/core/errors';
import { MimeBundle } from '../lib/notebook/display';
import { KERNEL_HOOK } from '../lib/notebook/kernel-hook';
import { makeSyntheticDollarStreet } from '../lib/data';
import { setLessonMode } from '../lib/settings/lesson-environment';
import { compareResults, readResult, recordResult, RESULT_FORMAT, resultSlug, resultsFolder } from '../lib/lesson/results';
import { ready } from '../lib/backends/selection';

const ENV = ['TSLAB_DL_RESULTS', 'TSLAB_DL_DATA', 'TSLAB_DL_WEIGHTS', 'TSLAB_DL_CACHE', 'KERAS_HOME'];
const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
const cwd = process.cwd();
let work: string;

/** A History-like object as model.fit returns it. */
function historyOf(valAccuracy: number[], epoch?: number[]): tf.History {
  return {
    history: { val_accuracy: valAccuracy, accuracy: valAccuracy.map((v) => v + 0.1) },
    epoch: epoch ?? valAccuracy.map((_, i) => i),
  } as unknown as tf.History;
}

/** What `run` shows: notebook displays (as the kernel receives them) and console.log lines. */
function captured<T>(run: () => T): { printed: string; bundles: MimeBundle[]; result: T } {
  const lines: string[] = [];
  const bundles: MimeBundle[] = [];
  const log = console.log;
  (globalThis as Record<symbol, unknown>)[KERNEL_HOOK] = {
    interruptRequested: false,
    display: (data: MimeBundle) => void bundles.push(data),
  };
  console.log = (...args: unknown[]) => void lines.push(args.join(' '));
  try {
    return { result: run(), printed: lines.join('\n'), bundles };
  } finally {
    delete (globalThis as Record<symbol, unknown>)[KERNEL_HOOK];
    console.log = log;
  }
}

beforeEach(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-results-'));
  for (const k of ENV) delete process.env[k];
  process.env.TSLAB_DL_RESULTS = path.join(work, 'results');
});

afterEach(() => {
  process.chdir(cwd);
  setLessonMode(false);
  fs.rmSync(work, { recursive: true, force: true });
});

after(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('recordResult', () => {
  test('writes name, final and best val_accuracy, epochs and date to <results>/<slug>.json, whole, and says where', () => {
    const { result: record, printed } = captured(() =>
      recordResult('Transfer learning (DenseNet121)', historyOf([0.3, 0.62, 0.58]), { seconds: 12 }),
    );
    const file = path.join(work, 'results', 'transfer-learning-densenet121.json');
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['transfer-learning-densenet121.json'], 'one file, no temporary file left');
    const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
    assert.deepEqual(stored, record);
    assert.equal(stored.format, RESULT_FORMAT);
    assert.equal(stored.name, 'Transfer learning (DenseNet121)');
    assert.equal(stored.finalValAccuracy, 0.58);
    assert.equal(stored.bestValAccuracy, 0.62);
    assert.equal(stored.bestEpoch, 2);
    assert.equal(stored.epochs, 3);
    assert.equal(stored.firstEpoch, 1);
    assert.equal(stored.seconds, 12);
    assert.ok(Math.abs(Date.parse(stored.date) - Date.now()) < 60_000, stored.date);
    assert.equal(stored.data, undefined, 'outside lesson mode the data is not known');
    assert.match(
      printed,
      /Saved "Transfer learning \(DenseNet121\)" \(best validation accuracy 62\.0%\) to .*transfer-learning-densenet121\.json\./,
    );
  });

  test('a run continued with initialEpoch counts its epochs from there; a second record of a name replaces the first', () => {
    captured(() => recordResult('Fine-tuned', historyOf([0.5])));
    const { result } = captured(() => recordResult('Fine-tuned', historyOf([0.6, 0.7, 0.65], [30, 31, 32])));
    assert.equal(result.firstEpoch, 31);
    assert.equal(result.bestEpoch, 32);
    const stored = readResult(path.join(work, 'results', 'fine-tuned.json'));
    assert.equal(stored.epochs, 3);
    assert.equal(stored.finalValAccuracy, 0.65);
  });

  test('without TSLAB_DL_RESULTS: out/results of the nearest folder with a package.json, else of the working folder', () => {
    delete process.env.TSLAB_DL_RESULTS;
    const project = path.join(work, 'project');
    fs.mkdirSync(path.join(project, 'notebooks'), { recursive: true });
    fs.writeFileSync(path.join(project, 'package.json'), '{}');
    process.chdir(path.join(project, 'notebooks'));
    assert.equal(resultsFolder(), path.join(fs.realpathSync(project), 'out', 'results'));
    const { printed } = captured(() => recordResult('CNN from scratch', historyOf([0.2, 0.3])));
    assert.ok(fs.existsSync(path.join(project, 'out', 'results', 'cnn-from-scratch.json')));
    assert.match(printed, / to out\/results\/cnn-from-scratch\.json\.$/, 'the path relative to the project');

    const loose = path.join(work, 'loose');
    fs.mkdirSync(loose);
    process.chdir(loose);
    if (fs.existsSync(path.join(path.parse(loose).root, 'package.json'))) return; // a package.json at / would be the project
    assert.equal(resultsFolder(), path.join(fs.realpathSync(loose), 'out', 'results'));
  });

  test('names, histories and extras it cannot use are errors that say what to pass', () => {
    assert.throws(
      () => recordResult('', historyOf([0.1])),
      (e: Error) => e instanceof ValueError && /name must be a non-empty string/.test(e.message),
    );
    assert.throws(() => recordResult('()', historyOf([0.1])), /has no letters or digits/);
    assert.throws(
      () => recordResult('x', { history: { loss: [1] }, epoch: [0] } as unknown as tf.History),
      /the history has no val_accuracy \(it has: loss\)\. Train with validationData/,
    );
    assert.throws(() => recordResult('x', null as unknown as tf.History), /history must be what model\.fit returned/);
    assert.throws(
      () => recordResult('x', historyOf([0.1]), { secs: 3 } as never),
      /unknown field "secs"; extra takes seconds, data, weights, note/,
    );
    assert.throws(() => recordResult('x', historyOf([0.1]), { seconds: -1 }), /extra\.seconds must be a number of seconds/);
    assert.equal(fs.existsSync(path.join(work, 'results')), false, 'nothing written');
  });

  test('an unwritable results folder is an error naming the file and TSLAB_DL_RESULTS', () => {
    const blocker = path.join(work, 'blocker');
    fs.writeFileSync(blocker, 'a file where the folder should be');
    process.env.TSLAB_DL_RESULTS = blocker;
    assert.throws(
      () => captured(() => recordResult('CNN from scratch', historyOf([0.2]))),
      (e: Error) =>
        e instanceof DataFileError &&
        e.message.startsWith(path.join(blocker, 'cnn-from-scratch.json')) &&
        /TSLAB_DL_RESULTS/.test(e.message),
    );
  });

  test('slugs: lower case, letters and digits joined by dashes', () => {
    assert.equal(resultSlug('Transfer learning (DenseNet121)'), 'transfer-learning-densenet121');
    assert.equal(resultSlug('  CNN from scratch! '), 'cnn-from-scratch');
    assert.equal(resultSlug('Fine-tuned: conv5 (Adam 1e-5)'), 'fine-tuned-conv5-adam-1e-5');
    assert.equal(resultSlug('Réseau à zéro'), 'reseau-a-zero');
  });
});

describe('in lesson mode', () => {
  test('the data (synthetic twin or real, with the number of images) and the weights (none for a model trained from scratch)', async () => {
    await ready();
    const data = path.join(work, 'data', 'dataset_dollarstreet');
    await makeSyntheticDollarStreet(data, { train: 12, test: 4 });
    process.env.TSLAB_DL_DATA = data;
    setLessonMode(true);
    const model = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [2, 2, 1] }), tf.layers.dense({ units: 2 })] });
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const x = tf.randomUniform([8, 2, 2, 1]);
    const y = tf.tensor1d([0, 1, 0, 1, 0, 1, 0, 1]);
    const history = await model.fit(x, y, { epochs: 2, validationData: [x, y], verbose: 0 });
    // tfjs' own History keeps no model, so the weights are not known ...
    assert.equal(captured(() => recordResult('Tiny', history)).result.weights, undefined);
    // ... tslab-dl's fit (and model.fit of a model with a frozen base) gives it its model, as Keras does.
    (history as unknown as { model: tf.LayersModel }).model = model;
    const { result } = captured(() => recordResult('Tiny', history));
    assert.equal(result.data, 'synthetic twin of Dollar Street 10');
    assert.equal(result.weights, 'none (trained from scratch)');
    assert.equal(result.epochs, 2);

    // The same folder holding the real files (no synthetic manifest): the real data.
    fs.rmSync(path.join(data, 'synthetic.json'));
    model.layers[1].trainable = false; // a frozen part that is not a known base: the weights are not named
    const { result: real } = captured(() => recordResult('Tiny', history));
    assert.equal(real.data, 'Dollar Street 10');
    assert.equal(real.weights, undefined);
    // What the caller says wins.
    const { result: told } = captured(() => recordResult('Tiny', history, { data: 'my photos', weights: 'mine.h5' }));
    assert.deepEqual([told.data, told.weights], ['my photos', 'mine.h5']);
    tf.dispose([x, y]);
    model.dispose();
  });
});

describe('compareResults', () => {
  test('shows the named results side by side, in order, says which are missing, and returns the rows', () => {
    captured(() =>
      recordResult('CNN from scratch', historyOf([0.2, 0.31, 0.3]), {
        seconds: 30,
        data: 'Dollar Street 10',
        weights: 'none (trained from scratch)',
      }),
    );
    const { result: rows, bundles } = captured(() => compareResults(['Transfer learning (DenseNet121)', 'CNN from scratch']));
    assert.deepEqual(
      rows.map((r) => r.name),
      ['CNN from scratch'],
    );
    assert.equal(rows[0].file, path.join(work, 'results', 'cnn-from-scratch.json'));
    assert.equal(bundles.length, 1, 'one output');
    const text = String(bundles[0]['text/plain']);
    assert.match(text, /CNN from scratch\s+31\.0% \(epoch 2\)\s+30\.0%\s+3\s+10\.0\s+Dollar Street 10\s+none \(trained from scratch\)/);
    assert.match(
      text,
      /No result named "Transfer learning \(DenseNet121\)" in .* yet: run the notebook that records it \(recordResult\('Transfer learning \(DenseNet121\)', history\)\) first/,
    );
    const html = String(bundles[0]['text/html']);
    assert.match(
      html,
      /<table>.*<th style="text-align:left">Model<\/th>.*<td style="text-align:left">CNN from scratch<\/td><td style="text-align:right">31\.0% \(epoch 2\)<\/td>/s,
    );
    assert.match(html, /<p>No result named &quot;Transfer learning \(DenseNet121\)&quot;/);

    captured(() =>
      recordResult('Transfer learning (DenseNet121)', historyOf([0.5, 0.64]), {
        data: 'synthetic twin of Dollar Street 10, 150 training images',
      }),
    );
    const both = captured(() => compareResults(['Transfer learning (DenseNet121)', 'CNN from scratch']));
    assert.deepEqual(
      both.result.map((r) => [r.name, r.bestValAccuracy]),
      [
        ['Transfer learning (DenseNet121)', 0.64],
        ['CNN from scratch', 0.31],
      ],
    );
    assert.doesNotMatch(String(both.bundles[0]['text/plain']), /No result named/);
    assert.match(
      String(both.bundles[0]['text/plain']),
      /Careful: these runs used different data \(synthetic twin of Dollar Street 10, 150 training images; Dollar Street 10\)/,
    );
  });

  test('without names: every result in the folder, oldest first; none yet says how to make one', () => {
    const empty = captured(() => compareResults());
    assert.deepEqual(empty.result, []);
    assert.match(String(empty.bundles[0]['text/plain']), /No results in .* yet: recordResult\(name, history\) saves one/);
    captured(() => recordResult('B first', historyOf([0.4])));
    const later = new Date(Date.now() + 1000).toISOString();
    captured(() => recordResult('A second', historyOf([0.5])));
    const file = path.join(work, 'results', 'a-second.json');
    fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), date: later }));
    const all = captured(() => compareResults());
    assert.deepEqual(
      all.result.map((r) => r.name),
      ['B first', 'A second'],
    );
  });

  test('outside a notebook the table is printed as text', () => {
    captured(() => recordResult('CNN from scratch', historyOf([0.25])));
    const write = process.stdout.write;
    let out = '';
    process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
    try {
      compareResults(['CNN from scratch']);
    } finally {
      process.stdout.write = write;
    }
    assert.match(
      out,
      /^Results in .*\nModel\s+Best val\. accuracy\s+Final val\. accuracy\s+Epochs\s+s \/ epoch\s+Data\s+Weights\s+Recorded\nCNN from scratch\s+25\.0% \(epoch 1\)/,
    );
  });

  test('a corrupt results file is an error naming the file and what is wrong with it', () => {
    const folder = path.join(work, 'results');
    fs.mkdirSync(folder, { recursive: true });
    const file = path.join(folder, 'cnn-from-scratch.json');
    fs.writeFileSync(file, '{"format": "tslab-dl result 1", "name": "CNN fr');
    const named = (pattern: RegExp) => (e: Error) =>
      e instanceof DataFileError && e.message.startsWith(`${file}: `) && pattern.test(e.message);
    assert.throws(
      () => compareResults(['CNN from scratch']),
      named(/is not valid JSON .*delete it, or run the notebook that records it again/),
    );
    assert.throws(() => compareResults(), named(/is not valid JSON/));
    fs.writeFileSync(
      file,
      JSON.stringify({
        format: RESULT_FORMAT,
        name: 'CNN from scratch',
        finalValAccuracy: 30,
        bestValAccuracy: 0.3,
        bestEpoch: 1,
        epochs: 1,
        firstEpoch: 1,
        date: 'x',
      }),
    );
    assert.throws(() => compareResults(['CNN from scratch']), named(/has finalValAccuracy 30, expected a number in \[0, 1\]/));
    fs.writeFileSync(file, '[1, 2]');
    assert.throws(() => readResult(file), named(/does not hold a JSON object/));
    fs.writeFileSync(file, '{"format": "something else"}');
    assert.throws(() => readResult(file), named(/has format "something else", expected "tslab-dl result 1"/));
    assert.throws(() => compareResults('CNN' as never), /names must be an array of result names/);
  });
});
