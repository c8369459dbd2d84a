// compareModels: the lesson's recipe for each base (the same numbers as doing the lesson's cells
// by hand), the table's figures (parameter counts by hand, epochs and best accuracy from the
// history, images per second from the timing), its text / HTML / SVG views, 'keras'
// preprocessing, argument errors, a model that fails, and no tensor left behind.
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { installKerasCompat } from '../lib/compat/install';
import { earlyStopping } from '../lib/train/callbacks';
import {
  comparisonChartSpec,
  comparisonChartSvg,
  compareModels,
  COMPARABLE_MODELS,
  ComparisonData,
  ComparisonRow,
  ModelComparison,
} from '../lib/lesson/compare-models';
import { generateSyntheticDollarStreet } from '../lib/data/synthetic';
import { DenseNet121 } from '../lib/applications';
import { ApplicationArgs } from '../lib/applications/build-steps';
import { getSourceInputs } from '../lib/graph/upstream';
import { JUPYTER_DISPLAY, MimeBundle } from '../lib/notebook/display';
import { compileVegaLite, VEGA_LITE_MIME, vegaSvg } from '../lib/plot/vega-render';
import { KERNEL_HOOK } from '../lib/notebook/kernel-hook';
import { DownloadError, ValueError } from '../lib/core/errors';
import { clearFeatureMemory } from '../lib/features/cache';
import { featureStats } from '../lib/features/extract';
import { buildHead } from '../lib/train/head';
import { upscale } from '../lib/layers/upscale';
import { sparseCategoricalCrossentropy } from '../lib/train/losses';
import { setRandomSeed } from '../lib/core/random';
import { standInWeights } from '../lib/lesson/stand-in-weights';
import { fit } from '../lib/train/fit';

installKerasCompat();

const PYTHON = '/usr/bin/python3';

/** The synthetic twin, small: 64x64 images scaled to 0..1 as the lesson does. */
function syntheticData(train: number, test: number): ComparisonData {
  const { train: tr, test: te, size } = generateSyntheticDollarStreet({ train, test, size: 64 });
  const images = (split: typeof tr) =>
    tf.tidy(() => tf.div(tf.tensor4d(Float32Array.from(split.images), [split.count, size, size, 3]), 255));
  return {
    trainImages: images(tr),
    trainLabels: tf.tensor1d(Array.from(tr.labels, Number), 'int32'),
    valImages: images(te),
    valLabels: tf.tensor1d(Array.from(te.labels, Number), 'int32'),
  };
}

/** A small base built like an application (inputTensor, pooling, weights null), for quick mechanics tests. */
async function tinyBase(args: ApplicationArgs): Promise<tf.LayersModel> {
  assert.equal(args.weights, null);
  assert.equal(args.includeTop, false);
  const input = args.inputTensor!;
  let x = tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, name: 'tiny_conv' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'tiny_bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu', name: 'tiny_relu' }).apply(x) as tf.SymbolicTensor;
  x = (
    args.pooling === 'avg' ? tf.layers.globalAveragePooling2d({ name: 'tiny_pool' }) : tf.layers.globalMaxPooling2d({ name: 'tiny_pool' })
  ).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: getSourceInputs(input), outputs: x, name: 'tiny' });
}

/** Captures what is displayed while `fn` runs, as the tslab-dl kernel would receive it. */
async function inNotebook<T>(fn: () => Promise<T>): Promise<{ result: T; bundles: MimeBundle[] }> {
  const bundles: MimeBundle[] = [];
  (globalThis as Record<symbol, unknown>)[KERNEL_HOOK] = { display: (data: MimeBundle) => bundles.push(data), interruptRequested: false };
  try {
    return { result: await fn(), bundles };
  } finally {
    delete (globalThis as Record<symbol, unknown>)[KERNEL_HOOK];
  }
}

/** The head's parameters on C features: BN 4C (2C trainable) + Dense(C, 50) + Dense(50, classes). */
function headParams(c: number, classes: number): { total: number; trainable: number } {
  const dense = c * 50 + 50 + 50 * classes + classes;
  return { total: 4 * c + dense, trainable: 2 * c + dense };
}

describe('compareModels', () => {
  let data: ComparisonData;
  before(async () => {
    await ready();
    data = syntheticData(30, 12);
  });
  afterEach(() => {
    clearFeatureMemory();
  });
  after(() => {
    tf.dispose(Object.values(data));
  });

  test("DenseNet121's row is the lesson done by hand: the same history, the lesson's 7,093,360 / 53,808 parameters", async () => {
    const options = { weights: null, size: 64, epochs: 3, patience: 5, seed: 2, verbose: 0 as const, display: false };
    const comparison = await compareModels(['DenseNet121'], data, options);
    const row = comparison.rows[0];

    // The lesson's cells, by hand, with the same seed and settings; the whole model every epoch as
    // Keras does (cache: false), so nothing computed above is reused.
    clearFeatureMemory();
    setRandomSeed(2);
    const inputs = tf.input({ shape: [64, 64, 3] });
    const upscaled = upscale({ height: 64, width: 64, method: 'bilinear' }).apply(inputs) as tf.SymbolicTensor;
    const base = await DenseNet121({ includeTop: false, pooling: 'max', weights: null, inputTensor: upscaled, inputShape: [64, 64, 3] });
    base.trainable = false;
    const model = tf.model({ inputs, outputs: buildHead(base.output as tf.SymbolicTensor, { hidden: 50, dropout: 0.5, classes: 10 }) });
    model.compile({ optimizer: 'adam', loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
    const history = await fit(model, data.trainImages, data.trainLabels, {
      batchSize: 32,
      epochs: 3,
      validationData: [data.valImages, data.valLabels],
      callbacks: [earlyStopping({ monitor: 'val_accuracy', patience: 5 })],
      verbose: 0,
      cache: false,
    });
    setRandomSeed(null);
    assert.deepEqual(row.history.val_accuracy, history.history.val_accuracy);
    const loss = history.history.loss as number[];
    row.history.loss.forEach((l, i) =>
      assert.ok(Math.abs(l - loss[i]) < 1e-4 * Math.abs(loss[i]), `epoch ${i + 1} loss ${l} vs ${loss[i]}`),
    );
    assert.equal(row.totalParams, 7_093_360);
    assert.equal(row.trainableParams, 53_808);
    assert.equal(row.baseParams, 7_037_504);
    assert.equal(row.features, 1024);
    model.dispose();
  });

  test('the figures of a row: parameters by hand, best accuracy and epochs from the history, images per second from the time', async () => {
    const before = tf.memory().numTensors;
    const comparison = await compareModels([{ name: 'Tiny', build: tinyBase }, 'MobileNetV2'], data, {
      weights: null,
      size: 96,
      epochs: 6,
      patience: 1,
      verbose: 0,
      display: false,
      cache: false,
    });
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind (models, features, optimizer)');
    assert.deepEqual(
      comparison.rows.map((r) => r.model),
      ['Tiny', 'MobileNetV2'],
    );
    const classes = 10;
    const [tiny, mobile] = comparison.rows;
    // Tiny: conv 3x3x3x6 + 6, BN 4 x 6; 6 features.
    assert.equal(tiny.baseParams, 3 * 3 * 3 * 6 + 6 + 4 * 6);
    assert.equal(tiny.totalParams, tiny.baseParams + headParams(6, classes).total);
    assert.equal(tiny.trainableParams, headParams(6, classes).trainable);
    // MobileNetV2 (alpha 1) without top: Keras' 2,257,984 parameters, 1280 features.
    assert.equal(mobile.baseParams, 2_257_984);
    assert.equal(mobile.features, 1280);
    assert.equal(mobile.totalParams, 2_257_984 + headParams(1280, classes).total);
    for (const row of comparison.rows) {
      const val = row.history.val_accuracy;
      assert.equal(row.epochsRun, val.length);
      assert.equal(row.bestValAccuracy, Math.max(...val));
      assert.equal(row.bestEpoch, val.indexOf(row.bestValAccuracy) + 1);
      assert.equal(row.finalValAccuracy, val[val.length - 1]);
      // EarlyStopping (patience 1): all 6 epochs, or stopped one epoch after the best.
      assert.ok(
        row.epochsRun === 6 || row.epochsRun === row.bestEpoch + 1,
        `${row.model}: ${row.epochsRun} epochs, best at ${row.bestEpoch}`,
      );
      // Accuracies are counts out of the 12 validation images.
      for (const a of val) assert.ok(Math.abs(a * 12 - Math.round(a * 12)) < 1e-4, `${a} is k/12`);
      assert.ok(row.extractionSeconds > 0 && row.trainSeconds > 0);
      assert.ok(Math.abs(row.imagesPerSecond - 42 / row.extractionSeconds) < 1e-9, 'images per second = (30 + 12) / extraction time');
      assert.ok(['onnx', 'tfjs'].includes(row.executor!));
      assert.deepEqual(Object.keys(row.history), ['loss', 'accuracy', 'val_loss', 'val_accuracy']);
    }
  });

  test('the views: a text table in a terminal; an HTML table and an SVG bar chart in a notebook; the rows as JSON', async (t) => {
    const printed: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string, ...rest: unknown[]) => (
      printed.push(String(chunk)),
      (write as Function).call(process.stdout, chunk, ...rest)
    )) as typeof process.stdout.write;
    let comparison: ModelComparison;
    const computedBefore = featureStats.computed;
    try {
      comparison = await compareModels(
        [
          { name: 'Tiny', build: tinyBase },
          { name: 'Tiny 2', build: tinyBase },
        ],
        data,
        { weights: null, size: 32, epochs: 2, verbose: 0 },
      );
    } finally {
      process.stdout.write = write;
    }
    // Training and validation features: computed for Tiny; found in the cache for Tiny 2, so computed again to be timed.
    assert.equal(featureStats.computed - computedBefore, 4);
    const text = printed.join('');
    assert.match(text, /\[1\/2\] Tiny \(weights: random\)/);
    assert.match(
      text,
      /Model comparison: 30 training \/ 12 validation images, upscaled to 32x32, max pooling, no preprocessing \(as the lesson\)/,
    );
    assert.match(
      text,
      /model\s+weights\s+params \(total \/ trainable\)\s+features\s+feature extraction\s+images\/s\s+best val accuracy\s+epochs\s+training/,
    );
    assert.match(text, /\nTiny\s+random\s+1,076 \/ 872\s+6\s+\d+\.\d s\s+\d+\.\d\s+\d+\.\d% \(epoch \d\)\s+2\s+\d+\.\d s\n/);
    // The second model is the same network with the same seeded weights: its features are in the
    // memory cache, and are computed again to be timed.
    assert.match(text, /\nTiny 2\s+random\s+1,076 \/ 872\s+6\s+\d+\.\d s\s+\d+\.\d\s/);

    const { bundles } = await inNotebook(async () =>
      compareModels([{ name: 'Tiny', build: tinyBase }], data, { weights: null, size: 32, epochs: 1, verbose: 0 }),
    );
    const bundle = bundles.find((b) => typeof b['text/html'] === 'string' && (b['text/html'] as string).includes('<table'))!;
    assert.ok(bundle, 'the comparison was displayed as HTML');
    assert.match(bundle['text/html'] as string, /<th[^>]*>best val accuracy<\/th>/);
    assert.match(bundle['text/html'] as string, /<td[^>]*>Tiny<\/td>/);
    assert.match(bundle['text/html'] as string, /<svg[\s\S]*<\/svg>/);
    assert.match(bundle['text/plain'] as string, /^Model comparison:/);

    const json = JSON.parse(JSON.stringify(comparison!));
    assert.equal(json.rows.length, 2);
    assert.equal(json.setup.size, 32);
    assert.equal(json.rows[1].model, 'Tiny 2');

    const svg = comparison![JUPYTER_DISPLAY]()['image/svg+xml'] as string;
    const parse = spawnSync(PYTHON, ['-c', 'import sys, xml.etree.ElementTree as E; E.fromstring(sys.stdin.read())'], {
      input: svg,
      encoding: 'utf8',
    });
    if (parse.error) t.diagnostic(`XML check skipped: ${parse.error.message}`);
    else assert.equal(parse.status, 0, `the SVG parses as XML: ${parse.stderr}`);
  });

  test('the bar chart: a Vega-Lite spec (a panel per measure, a bar and a value label per model, none for a failed model) and the SVG Vega renders from it', () => {
    const row = (
      model: string,
      accuracy: number,
      speed: number,
      totalParams: number,
      extra: Partial<ComparisonRow> = {},
    ): ComparisonRow => ({
      model,
      weights: 'imagenet',
      totalParams,
      trainableParams: 1,
      baseParams: 1,
      features: 1,
      extractionSeconds: 1,
      imagesPerSecond: speed,
      bestValAccuracy: accuracy,
      bestEpoch: 1,
      finalValAccuracy: accuracy,
      epochsRun: 1,
      trainSeconds: 1,
      history: {},
      ...extra,
    });
    const rows = [
      row('DenseNet121', 0.64, 50, 7037504),
      row('ResNet50', 0.32, 100, 23587712),
      row('Broken', NaN, NaN, NaN, { error: 'download failed' }),
    ];
    const spec = comparisonChartSpec(rows);
    assert.equal(spec.$schema, 'https://vega.github.io/schema/vega-lite/v5.json');
    assert.deepEqual(compileVegaLite(spec).warnings, []);
    // Replaces the hand-drawn <rect class="bar" data-model data-value> checks: the spec's data is
    // what the bars are drawn from, panel by panel, and the failed model has no bar (but keeps its row).
    const panels = spec.hconcat as {
      title: string;
      data: { values: { category: string; value: number; label: string }[] };
      layer: { mark: { type: string } }[];
    }[];
    assert.deepEqual(
      panels.map((p) => p.title),
      ['Best validation accuracy (%)', 'Feature extraction (images/s)', 'Parameters (total)'],
    );
    assert.deepEqual(
      panels.map((p) => p.layer.map((l) => l.mark.type)),
      [
        ['bar', 'text'],
        ['bar', 'text'],
        ['bar', 'text'],
      ],
    );
    assert.deepEqual(
      panels.map((p) => p.data.values.map((v) => `${v.category}:${v.value}:${v.label}`)),
      [
        ['DenseNet121:64:64.0%', 'ResNet50:32:32.0%'],
        ['DenseNet121:50:50.0', 'ResNet50:100:100.0'],
        ['DenseNet121:7037504:7,037,504', 'ResNet50:23587712:23,587,712'],
      ],
    );

    const svg = comparisonChartSvg(rows);
    assert.equal(svg, vegaSvg(spec));
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    for (const name of ['DenseNet121', 'ResNet50', 'Broken'])
      assert.equal(texts.filter((t) => t === name).length, 3, `${name} labels a row in each panel`);
    // The value labels, by hand from the rows: 0.64 -> 64.0%, 0.32 -> 32.0%, 50 and 100 images/s, the parameter counts.
    for (const label of ['64.0%', '32.0%', '50.0', '100.0', '7,037,504', '23,587,712'])
      assert.ok(texts.includes(label), `value label ${label}`);
    assert.ok(
      texts.includes('Best validation accuracy (%)') &&
        texts.includes('Feature extraction (images/s)') &&
        texts.includes('Parameters (total)'),
    );
    // Replaces the width ratios of the hand-drawn bars: Vega's bar paths (one per model and panel, 6 in all),
    // the accuracy bars 64 : 32 and the speed bars 50 : 100 in width.
    const widths = [
      ...svg.matchAll(/<path aria-label="[^"]*" role="graphics-symbol" aria-roledescription="bar"[^>]*d="M(-?[\d.]+),(-?[\d.]+)h([\d.]+)/g),
    ].map((m) => Number(m[3]));
    assert.equal(widths.length, 6, 'six bars');
    assert.ok(Math.abs(widths[0] / widths[1] - 2) < 0.01, 'accuracy 64% is twice 32%');
    assert.ok(Math.abs(widths[3] / widths[2] - 2) < 0.01, '100 images/s is twice 50');

    const comparison = new ModelComparison(rows, {
      trainImages: 1,
      valImages: 1,
      size: 32,
      pooling: 'max',
      preprocess: 'lesson',
      maxEpochs: 1,
      patience: 1,
      backend: 'x',
    });
    const bundle = comparison[JUPYTER_DISPLAY]();
    assert.deepEqual(bundle[VEGA_LITE_MIME], spec);
    assert.equal(bundle['image/svg+xml'], svg);
  });

  test("preprocess: 'keras' hands each model its own preprocessing of images * 255; 'lesson' hands the images as given", async () => {
    const seen: number[] = [];
    const spy = (x: tf.Tensor) => {
      seen.push(tf.max(x).dataSync()[0]);
      return tf.sub(tf.div(x, 127.5), 1);
    };
    const maxPixel = tf.max(data.trainImages).dataSync()[0];
    await compareModels([{ name: 'Tiny', build: tinyBase, preprocess: spy }], data, {
      weights: null,
      size: 32,
      epochs: 1,
      verbose: 0,
      display: false,
      preprocess: 'keras',
    });
    assert.equal(seen.length, 2, 'training and validation images');
    assert.ok(Math.abs(seen[0] - 255 * maxPixel) < 1e-3, `the preprocessing saw images * 255 (max ${seen[0]})`);
    await compareModels([{ name: 'Tiny', build: tinyBase, preprocess: spy }], data, {
      weights: null,
      size: 32,
      epochs: 1,
      verbose: 0,
      display: false,
    });
    assert.equal(seen.length, 2, "not called for 'lesson'");
  });

  test('a model that fails gets a row with its error and the others still run; onError: throw stops; nothing is left behind', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-compare-'));
    try {
      const weightsOptions = { baseUrl: 'http://127.0.0.1:9/', kerasCacheDir: path.join(root, 'keras'), cacheDir: path.join(root, 'ours') };
      const before = tf.memory().numTensors;
      const comparison = await compareModels(['ResNet50', { name: 'Tiny', build: tinyBase, weights: null }], data, {
        weights: 'imagenet',
        weightsOptions,
        size: 32,
        epochs: 1,
        verbose: 0,
        display: false,
        cache: false,
      });
      assert.equal(tf.memory().numTensors, before);
      const [failed, ok] = comparison.rows;
      assert.match(
        failed.error!,
        /Could not get ResNet50 ImageNet weights \(no top\) \(file resnet50_weights_tf_dim_ordering_tf_kernels_notop\.h5\)/,
      );
      assert.ok(Number.isNaN(failed.bestValAccuracy));
      assert.equal(ok.error, undefined);
      assert.match(comparison.text(), /ResNet50 failed: Could not get ResNet50 ImageNet weights/);
      assert.equal(comparison.best(), ok);
      await assert.rejects(
        compareModels(['ResNet50'], data, { weightsOptions, size: 32, epochs: 1, verbose: 0, display: false, onError: 'throw' }),
        (e: Error) => e instanceof DownloadError,
      );
      await assert.rejects(
        compareModels(['ResNet50'], data, { weightsOptions, size: 32, epochs: 1, verbose: 0, display: false }),
        (e: Error) => e instanceof ValueError && /every model failed; the first: ResNet50: Could not get/.test(e.message),
      );
      assert.equal(tf.memory().numTensors, before);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test("weights: 'stand-in' trains each application on its stand-in, calibrated on the training images; a custom base gets an error row", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-compare-'));
    const previousCache = process.env.TSLAB_DL_CACHE;
    process.env.TSLAB_DL_CACHE = root;
    try {
      const before = tf.memory().numTensors;
      const options = { size: 64, epochs: 2, verbose: 0 as const, display: false, cache: false as const };
      const comparison = await compareModels(['MobileNetV2', { name: 'Tiny', build: tinyBase }], data, { ...options, weights: 'stand-in' });
      assert.equal(tf.memory().numTensors, before);
      const [mobile, tiny] = comparison.rows;
      assert.equal(mobile.weights, 'stand-in');
      assert.equal(mobile.error, undefined);
      assert.match(tiny.error!, /standInWeights: model must be one of DenseNet121, .*MobileNetV2/);
      // The file is the one standInWeights makes from the training images with the comparison's size
      // and seed: training on it by name gives the same history.
      const file = await standInWeights('MobileNetV2', { images: data.trainImages as tf.Tensor4D, size: 64, seed: 2 });
      assert.equal(path.dirname(file), path.join(root, 'models', 'standin'));
      assert.deepEqual(fs.readdirSync(path.dirname(file)), [path.basename(file)], 'one stand-in file, reused');
      const byFile = await compareModels([{ name: 'MobileNetV2', weights: file }], data, options);
      assert.deepEqual(byFile.rows[0].history.val_accuracy, mobile.history.val_accuracy);
      assert.deepEqual(byFile.rows[0].history.loss, mobile.history.loss);
    } finally {
      if (previousCache === undefined) delete process.env.TSLAB_DL_CACHE;
      else process.env.TSLAB_DL_CACHE = previousCache;
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  test('argument errors name the argument, the value and what to do', async () => {
    const rejects = (promise: Promise<unknown>, message: RegExp) =>
      assert.rejects(promise, (e: Error) => e instanceof ValueError && message.test(e.message), `expected ${message}`);
    await rejects(
      compareModels(['ResNet5O'], data),
      new RegExp(`unknown model 'ResNet5O' \\(models\\[0\\]\\)\\. Known models: ${COMPARABLE_MODELS.join(', ')}`),
    );
    await rejects(compareModels([], data), /models must be a non-empty array of names such as \['DenseNet121', 'ResNet50'\]/);
    await rejects(
      compareModels(['ResNet50'], data, { weights: '/tmp/x.h5' as never }),
      /options.weights must be 'imagenet', 'stand-in' or null. Received "\/tmp\/x.h5". A weights file belongs to one model: pass \{ name: 'ResNet50', weights: /,
    );
    await rejects(
      compareModels(['ResNet50'], { ...data, trainLabels: data.valLabels }),
      /data.trainImages has 30 images but data.trainLabels has 12 labels/,
    );
    await rejects(
      compareModels(['ResNet50'], { ...data, valImages: tf.zeros([12, 64, 64]) }),
      /data.valImages must be a batch of RGB images \[n, height, width, 3\].*Received a tensor of shape \[12, 64, 64\]/,
    );
    await rejects(compareModels(['ResNet50'], data, { epochs: 0 }), /options.epochs must be a positive integer. Received 0/);
    await rejects(compareModels(['ResNet50'], data, { pooling: 'sum' as never }), /options.pooling must be 'max' or 'avg'. Received "sum"/);
    await rejects(
      compareModels([{ name: 'Tiny', build: tinyBase }], data, { weights: null, preprocess: 'keras', display: false }),
      /options.preprocess is 'keras' but model 'Tiny' has no preprocess function/,
    );
  });
});
