/**
 * The lesson's optional challenge, from code: swap the pre-trained base, train the same head,
 * compare.
 *
 *     const comparison = await compareModels(['DenseNet121', 'MobileNetV2', 'ResNet50'],
 *       { trainImages: trainX, trainLabels, valImages: valX, valLabels }, { epochs: 30 });
 *     comparison.rows  // one row per model: parameters, feature extraction speed, best val accuracy, epochs
 *
 * Every model gets exactly the lesson's recipe (episode 5, cells 3-10): the seed, the upscale to
 * 160x160 inside the model, the base without its top with max pooling and frozen, the head
 * (Flatten -> BatchNormalization -> Dense(50, relu) -> Dropout(0.5) -> Dense(classes)), adam on
 * sparse categorical cross-entropy from logits, accuracy, and fit with EarlyStopping on
 * val_accuracy (patience 5). The frozen base's features are computed once per model (timed: the
 * speed columns) and the head trains on them (lib/features), as `fit` does in the lesson.
 *
 * The table is data (`rows`); in a notebook it shows itself as an HTML table with a bar chart
 * (a Vega-Lite spec, lib/plot/bar-chart.ts, and the SVG Vega renders from it), in a terminal as a
 * text table.
 */
import * as tf from '@tensorflow/tfjs';
import { backendInfo, ready } from '../backends/selection';
import { earlyStopping } from '../train/callbacks';
import { display, escapeXml, JUPYTER_DISPLAY, markShown, MimeBundle } from '../notebook/display';
import { InterruptedError, ValueError } from '../core/errors';
import { frozenFeatures, FeatureCacheMode } from '../features/extract';
import { Executor } from '../features/run';
import { splitFrozenPrefix } from '../features/split';
import { buildHead, HeadArgs } from '../train/head';
import { upscale } from '../layers/upscale';
import { sparseCategoricalCrossentropy } from '../train/losses';
import { barChartSpec } from '../plot/bar-chart';
import { VEGA_LITE_MIME, vegaSvg, VegaLiteSpec } from '../plot/vega-render';
import { saveRandomState, setRandomSeed } from '../core/random';
import { fit } from '../train/fit';
import { Verbosity } from '../train/training-display';
import { countParams, formatCount } from '../train/param-counts';
import { standInWeights, StandInModel } from './stand-in-weights';
import { WeightsFileOptions } from '../weights/imagenet';
import { DenseNet121, DenseNet169, DenseNet201 } from '../applications/densenet';
import { EfficientNetB0, preprocessInput as efficientnetPreprocess } from '../applications/efficientnet';
import { ApplicationArgs } from '../applications/build-steps';
import { preprocessImagenetInput, WeightsArg } from '../applications/imagenet-utils';
import { InceptionV3, preprocessInput as inceptionPreprocess } from '../applications/inception-v3';
import { MobileNetV2, preprocessInput as mobilenetPreprocess } from '../applications/mobilenet-v2';
import { ResNet50, preprocessInput as resnetPreprocess } from '../applications/resnet';
import { VGG16, preprocessInput as vggPreprocess } from '../applications/vgg16';
import { Xception, preprocessInput as xceptionPreprocess } from '../applications/xception';
import { installLessonHooks } from './hooks';

/** Builds a base the way the applications do (Keras' arguments). */
export type BaseBuilder = (args: ApplicationArgs) => Promise<tf.LayersModel>;
/** Keras' preprocess_input for a model: from images 0..255 to what its ImageNet weights expect. */
export type Preprocess = (images: tf.Tensor) => tf.Tensor;

interface KnownModel {
  build: BaseBuilder;
  preprocess: Preprocess;
}

/** The applications compareModels knows by name, with their Keras preprocessing. */
const KNOWN_MODELS: Record<string, KnownModel> = {
  DenseNet121: { build: DenseNet121, preprocess: (x) => preprocessImagenetInput(x, 'torch') },
  DenseNet169: { build: DenseNet169, preprocess: (x) => preprocessImagenetInput(x, 'torch') },
  DenseNet201: { build: DenseNet201, preprocess: (x) => preprocessImagenetInput(x, 'torch') },
  MobileNetV2: { build: MobileNetV2 as BaseBuilder, preprocess: mobilenetPreprocess },
  ResNet50: { build: ResNet50, preprocess: resnetPreprocess },
  VGG16: { build: VGG16, preprocess: vggPreprocess },
  EfficientNetB0: { build: EfficientNetB0 as BaseBuilder, preprocess: efficientnetPreprocess },
  InceptionV3: { build: InceptionV3, preprocess: inceptionPreprocess },
  Xception: { build: Xception, preprocess: xceptionPreprocess },
};

/** The model names compareModels accepts. */
export const COMPARABLE_MODELS: readonly string[] = Object.freeze(Object.keys(KNOWN_MODELS));

/** A model to compare: a known name, optionally with its own weights, or any builder of yours. */
export interface ModelSpec {
  /** A name from {@link COMPARABLE_MODELS}, or your label when `build` is given. */
  name: string;
  /** Builds the base (Keras' application arguments). Defaults to the known model's builder. */
  build?: BaseBuilder;
  /** This model's weights: 'imagenet', 'stand-in', null, or the path of a Keras .h5 file (no top). Defaults to options.weights. */
  weights?: WeightsArg | 'stand-in';
  /** Keras' preprocessing for `preprocess: 'keras'`. Defaults to the known model's. */
  preprocess?: Preprocess;
}

/** The lesson's data: images as the model takes them (the lesson scales them to 0..1) and integer labels. */
export interface ComparisonData {
  /** Training images [n, height, width, 3]. */
  trainImages: tf.Tensor;
  /** Training labels [n], integer class indices. */
  trainLabels: tf.Tensor;
  /** Validation images [m, height, width, 3], the same size as the training images. */
  valImages: tf.Tensor;
  /** Validation labels [m], integer class indices. */
  valLabels: tf.Tensor;
}

/** Options of {@link compareModels}: the weights, the lesson's recipe (size, pooling, head, epochs, ...) and the display. */
export interface CompareOptions {
  /**
   * 'imagenet' (each model's official file: Keras' cache, tslab-dl's cache or a download),
   * 'stand-in' (where ImageNet's cannot be had: Keras' random kernels calibrated on the training
   * images, see standInWeights) or null (random). Defaults to 'imagenet'.
   */
  weights?: 'imagenet' | 'stand-in' | null;
  /** Where 'imagenet' files are looked for and downloaded from. Defaults to Keras' and tslab-dl's caches and the official URLs. */
  weightsOptions?: WeightsFileOptions;
  /** Side of the upscaled images the bases see. Defaults to 160, as the lesson. */
  size?: number;
  /** Pooling of the base's last feature map. Defaults to 'max', as the lesson. */
  pooling?: 'max' | 'avg';
  /**
   * 'lesson': the images as given (the lesson's x / 255, which is what DenseNet121 gets there);
   * 'keras': each model's own Keras preprocess_input applied to images * 255 (the input its
   * ImageNet weights were trained on: e.g. ResNet50 and VGG16 expect BGR 0..255 minus the mean
   * pixel, InceptionV3 -1..1). Defaults to 'lesson'.
   */
  preprocess?: 'lesson' | 'keras';
  /** The head. Defaults to the lesson's: hidden 50, dropout 0.5, classes = largest label + 1. */
  head?: HeadArgs;
  /** Maximum epochs. Defaults to 30. */
  epochs?: number;
  /** Samples per batch, for the features and the head's training. Defaults to 32. */
  batchSize?: number;
  /** EarlyStopping patience on val_accuracy. Defaults to 5. */
  patience?: number;
  /** setRandomSeed(seed) before each model, so every head starts alike. Defaults to 2, as the lesson. */
  seed?: number;
  /** Feature cache of the frozen base (lib/features). Defaults to 'memory'. */
  cache?: FeatureCacheMode;
  /** Engine for the frozen base: 'auto' (ONNX Runtime when installed), 'tfjs' or 'onnx'. Defaults to 'auto'. */
  executor?: Executor;
  /** Training display of each fit. Defaults to 'auto'. */
  verbose?: Verbosity;
  /** Show the table (and chart) when done. Defaults to true. */
  display?: boolean;
  /** 'continue': a model that fails (e.g. its weights cannot be downloaded) gets a row with the error, the others still run; 'throw': stop at the first failure. Defaults to 'continue'. */
  onError?: 'continue' | 'throw';
}

/** One model's results. */
export interface ComparisonRow {
  /** The model's name. */
  model: string;
  /** 'imagenet', 'stand-in', 'random' or the weights file. */
  weights: string;
  /** The whole model (upscale + base + head): parameters in total and trainable (the head's). */
  totalParams: number;
  trainableParams: number;
  /** The base alone (BatchNormalization moving statistics included, as Keras counts). */
  baseParams: number;
  /** Length of the pooled feature vector the head sees. */
  features: number;
  /** Seconds to compute the frozen base's features of the training and validation images. */
  extractionSeconds: number;
  /** Images per second of that extraction (always measured: features found in a cache are computed again to be timed). */
  imagesPerSecond: number;
  /** The engine that computed the features. */
  executor?: 'onnx' | 'tfjs';
  /** Best val_accuracy of any epoch (what EarlyStopping watched), its epoch (1-based), and the last one. */
  bestValAccuracy: number;
  bestEpoch: number;
  finalValAccuracy: number;
  epochsRun: number;
  /** Seconds of training the head (fit). */
  trainSeconds: number;
  /** The fit history: loss, accuracy, val_loss, val_accuracy per epoch. */
  history: { [metric: string]: number[] };
  /** Set when the model failed (then the numbers are NaN). */
  error?: string;
}

/** What the rows have in common. */
export interface ComparisonSetup {
  /** Number of training images. */
  trainImages: number;
  /** Number of validation images. */
  valImages: number;
  /** Side of the upscaled images, in pixels. */
  size: number;
  /** Pooling of the base's last feature map. */
  pooling: 'max' | 'avg';
  /** How the images were prepared ({@link CompareOptions.preprocess}). */
  preprocess: 'lesson' | 'keras';
  /** Maximum epochs of each fit. */
  maxEpochs: number;
  /** EarlyStopping patience, in epochs. */
  patience: number;
  /** The TensorFlow.js backend, e.g. 'TensorFlow.js wasm'. */
  backend: string;
}

const failedNumbers = {
  totalParams: NaN,
  trainableParams: NaN,
  baseParams: NaN,
  features: NaN,
  extractionSeconds: NaN,
  imagesPerSecond: NaN,
  bestValAccuracy: NaN,
  bestEpoch: NaN,
  finalValAccuracy: NaN,
  epochsRun: 0,
  trainSeconds: NaN,
  history: {},
};

const percent = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '-');
const seconds = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} s` : '-');
const rate = (row: ComparisonRow) => (Number.isFinite(row.imagesPerSecond) ? row.imagesPerSecond.toFixed(1) : '-');
const params = (v: number) => (Number.isFinite(v) ? formatCount(v) : '-');

/** The comparison table: data (`rows`), text, HTML and an SVG bar chart. */
export class ModelComparison {
  constructor(
    /** One row per model, in the order compared. */
    readonly rows: ComparisonRow[],
    /** The settings every row shares. */
    readonly setup: ComparisonSetup,
  ) {}

  /** The row of `model`, if it was compared. */
  row(model: string): ComparisonRow | undefined {
    return this.rows.find((r) => r.model === model);
  }

  /** The row with the best validation accuracy. */
  best(): ComparisonRow | undefined {
    return this.rows.filter((r) => !r.error).sort((a, b) => b.bestValAccuracy - a.bestValAccuracy)[0];
  }

  private headline(): string {
    const s = this.setup;
    return (
      `${s.trainImages} training / ${s.valImages} validation images, upscaled to ${s.size}x${s.size}, ${s.pooling} pooling, ` +
      `${s.preprocess === 'keras' ? "each model's Keras preprocessing" : 'no preprocessing (as the lesson)'}, frozen base + the lesson's head, ` +
      `at most ${s.maxEpochs} epochs (early stopping, patience ${s.patience}), ${s.backend}`
    );
  }

  private cells(r: ComparisonRow): string[] {
    if (r.error) return [r.model, r.weights, '-', '-', '-', '-', '-', '-', '-'];
    return [
      r.model,
      r.weights,
      `${params(r.totalParams)} / ${params(r.trainableParams)}`,
      String(r.features),
      seconds(r.extractionSeconds),
      rate(r),
      `${percent(r.bestValAccuracy)} (epoch ${r.bestEpoch})`,
      String(r.epochsRun),
      seconds(r.trainSeconds),
    ];
  }

  private static readonly HEADERS = [
    'model',
    'weights',
    'params (total / trainable)',
    'features',
    'feature extraction',
    'images/s',
    'best val accuracy',
    'epochs',
    'training',
  ];

  /** A text table for terminals and logs. */
  text(): string {
    const rows = [ModelComparison.HEADERS, ...this.rows.map((r) => this.cells(r))];
    const widths = ModelComparison.HEADERS.map((_, i) => Math.max(...rows.map((row) => row[i].length)));
    const line = (row: string[]) =>
      row
        .map((c, i) => (i === 0 || i === 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
        .join('  ')
        .trimEnd();
    const errors = this.rows.filter((r) => r.error).map((r) => `${r.model} failed: ${r.error}`);
    return [`Model comparison: ${this.headline()}`, line(rows[0]), ...rows.slice(1).map(line), ...errors].join('\n');
  }

  /** An HTML table (the notebook view, with {@link svg} under it). */
  html(): string {
    const th = ModelComparison.HEADERS.map(
      (h, i) => `<th style="text-align:${i < 2 ? 'left' : 'right'};padding:2px 8px">${escapeXml(h)}</th>`,
    ).join('');
    const best = this.best();
    const body = this.rows.map((r) => {
      const style = r === best ? ' style="font-weight:bold"' : '';
      const tds = this.cells(r)
        .map((c, i) => `<td style="text-align:${i < 2 ? 'left' : 'right'};padding:2px 8px">${escapeXml(c)}</td>`)
        .join('');
      const error = r.error
        ? `<tr><td colspan="9" style="color:#a00;padding:2px 8px">${escapeXml(`${r.model} failed: ${r.error}`)}</td></tr>`
        : '';
      return `<tr${style}>${tds}</tr>${error}`;
    });
    return (
      `<div><p style="font-family:sans-serif">${escapeXml(`Model comparison: ${this.headline()}`)}</p>` +
      `<table style="border-collapse:collapse;font-family:sans-serif"><thead><tr>${th}</tr></thead><tbody>${body.join('')}</tbody></table></div>`
    );
  }

  /** Bar charts (best validation accuracy, feature-extraction images per second, parameters, per model) as a Vega-Lite spec. */
  vegaLite(): VegaLiteSpec {
    return comparisonChartSpec(this.rows);
  }

  /** The bar charts as an SVG: what Vega renders from {@link ModelComparison.vegaLite}. */
  svg(): string {
    return vegaSvg(this.vegaLite());
  }

  [JUPYTER_DISPLAY](): MimeBundle {
    const spec = this.vegaLite();
    const svg = vegaSvg(spec);
    return { 'text/plain': this.text(), 'text/html': `${this.html()}\n${svg}`, 'image/svg+xml': svg, [VEGA_LITE_MIME]: spec };
  }

  /** The rows, for JSON.stringify. */
  toJSON(): { setup: ComparisonSetup; rows: ComparisonRow[] } {
    return { setup: this.setup, rows: this.rows };
  }
}

/**
 * The comparison's bar charts as a Vega-Lite spec (data inline): three panels side by side, best
 * validation accuracy (%), feature-extraction speed (images per second) and parameters (total),
 * one bar per model in the table's order and colours, each labelled with its value; a failed
 * model keeps its row without bars. Pure: rows in, spec out.
 */
export function comparisonChartSpec(rows: readonly ComparisonRow[], options: { width?: number } = {}): VegaLiteSpec {
  const accuracy = rows.map((r) => (r.error ? NaN : r.bestValAccuracy * 100));
  const speed = rows.map((r) => (r.error ? NaN : r.imagesPerSecond));
  const total = rows.map((r) => (r.error ? NaN : r.totalParams));
  const label = (format: (v: number) => string) => (v: number) => (Number.isFinite(v) ? format(v) : '');
  return barChartSpec({
    title: 'Model comparison: best validation accuracy, feature extraction speed and parameters',
    names: rows.map((r) => r.model),
    panels: [
      { title: 'Best validation accuracy (%)', values: accuracy, labels: accuracy.map(label((v) => `${v.toFixed(1)}%`)) },
      { title: 'Feature extraction (images/s)', values: speed, labels: speed.map(label((v) => v.toFixed(1))) },
      { title: 'Parameters (total)', values: total, labels: total.map(label(formatCount)) },
    ],
    width: options.width,
  });
}

/**
 * The comparison as a static SVG: the bar charts of {@link comparisonChartSpec} (best validation
 * accuracy, feature-extraction speed and parameters, one bar per model) as Vega renders them.
 * Pure: rows in, SVG text out.
 */
export function comparisonChartSvg(rows: readonly ComparisonRow[], options: { width?: number } = {}): string {
  return vegaSvg(comparisonChartSpec(rows, options));
}

// ---- Arguments ------------------------------------------------------------------------------

const WHERE = 'compareModels(models, data, options)';

function describeValue(value: unknown): string {
  if (value instanceof tf.Tensor) return `a tensor of shape [${value.shape.join(', ')}]`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return value === null ? 'null' : typeof value === 'object' ? 'an object' : JSON.stringify(value);
}

interface ResolvedSpec {
  name: string;
  build: BaseBuilder;
  preprocess?: Preprocess;
  weights: WeightsArg | 'stand-in';
}

function resolveSpecs(models: unknown, weights: WeightsArg | 'stand-in'): ResolvedSpec[] {
  if (!Array.isArray(models) || models.length === 0) {
    throw new ValueError(
      `${WHERE}: models must be a non-empty array of names such as ['DenseNet121', 'ResNet50']. Received ${describeValue(models)}.`,
    );
  }
  return models.map((m, i) => {
    const spec: ModelSpec = typeof m === 'string' ? { name: m } : (m as ModelSpec);
    if (!spec || typeof spec.name !== 'string') {
      throw new ValueError(`${WHERE}: models[${i}] must be a model name or { name, build?, weights? }. Received ${describeValue(m)}.`);
    }
    const known = KNOWN_MODELS[spec.name];
    if (!known && typeof spec.build !== 'function') {
      throw new ValueError(
        `${WHERE}: unknown model '${spec.name}' (models[${i}]). Known models: ${COMPARABLE_MODELS.join(', ')}; ` +
          `or pass { name: '${spec.name}', build: (args) => ... } with your own builder.`,
      );
    }
    const own = spec.weights !== undefined ? spec.weights : weights;
    return { name: spec.name, build: spec.build ?? known.build, preprocess: spec.preprocess ?? known?.preprocess, weights: own };
  });
}

function checkImagesAndLabels(images: unknown, labels: unknown, which: 'train' | 'val'): void {
  const imagesName = `data.${which}Images`;
  const labelsName = `data.${which}Labels`;
  if (!(images instanceof tf.Tensor) || images.rank !== 4 || images.shape[3] !== 3) {
    throw new ValueError(
      `${WHERE}: ${imagesName} must be a batch of RGB images [n, height, width, 3], e.g. trainImages.div(255). Received ${describeValue(images)}.`,
    );
  }
  if (!(labels instanceof tf.Tensor) || labels.rank !== 1) {
    throw new ValueError(`${WHERE}: ${labelsName} must be a 1-D tensor of integer class labels. Received ${describeValue(labels)}.`);
  }
  if (labels.shape[0] !== images.shape[0]) {
    throw new ValueError(`${WHERE}: ${imagesName} has ${images.shape[0]} images but ${labelsName} has ${labels.shape[0]} labels.`);
  }
  if (images.shape[0] === 0) throw new ValueError(`${WHERE}: ${imagesName} is empty.`);
}

function positiveInteger(value: unknown, name: string): number {
  if (!Number.isInteger(value) || (value as number) < 1)
    throw new ValueError(`${WHERE}: options.${name} must be a positive integer. Received ${JSON.stringify(value)}.`);
  return value as number;
}

// ---- The comparison -------------------------------------------------------------------------

/** {@link CompareOptions} with the defaults filled in. */
interface ResolvedOptions {
  size: number;
  pooling: 'max' | 'avg';
  preprocess: 'lesson' | 'keras';
  head: HeadArgs;
  epochs: number;
  batchSize: number;
  patience: number;
  seed: number;
  cache: FeatureCacheMode;
  executor?: Executor;
  verbose: Verbosity;
  display: boolean;
  onError: 'continue' | 'throw';
  weightsOptions?: WeightsFileOptions;
}

interface Prepared {
  trainX: tf.Tensor;
  valX: tf.Tensor;
  dispose(): void;
}

/** The images one model sees: as given ('lesson'), or its Keras preprocessing of images * 255. */
function prepareImages(data: ComparisonData, spec: ResolvedSpec, mode: 'lesson' | 'keras'): Prepared {
  if (mode === 'lesson') return { trainX: data.trainImages, valX: data.valImages, dispose() {} };
  const [trainX, valX] = tf.tidy(() => [data.trainImages, data.valImages].map((x) => spec.preprocess!(tf.mul(x, 255))));
  return { trainX, valX, dispose: () => tf.dispose([trainX, valX]) };
}

async function compareOne(spec: ResolvedSpec, data: ComparisonData, options: ResolvedOptions, classes: number): Promise<ComparisonRow> {
  const weightsLabel = spec.weights === null ? 'random' : spec.weights;
  const prepared = prepareImages(data, spec, options.preprocess);
  let model: tf.LayersModel | undefined;
  let head: tf.LayersModel | undefined;
  try {
    // Calibrated on the images this model sees (its own preprocessing, if asked for).
    const weights =
      spec.weights === 'stand-in'
        ? await standInWeights(spec.build as StandInModel, { images: prepared.trainX, size: options.size, seed: options.seed })
        : spec.weights;
    setRandomSeed(options.seed);
    const inputs = tf.input({ shape: data.trainImages.shape.slice(1) });
    const upscaled = upscale({ height: options.size, width: options.size, method: 'bilinear' }).apply(inputs) as tf.SymbolicTensor;
    const base = await spec.build({
      includeTop: false,
      pooling: options.pooling,
      weights,
      inputTensor: upscaled,
      inputShape: [options.size, options.size, 3],
      weightsOptions: options.weightsOptions,
    });
    base.trainable = false;
    model = tf.model({
      inputs,
      outputs: buildHead(base.output as tf.SymbolicTensor, { ...options.head, classes }),
      name: `${spec.name.replace(/[^A-Za-z0-9_.-]/g, '_')}_transfer`,
    });
    model.compile({ optimizer: 'adam', loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
    const split = splitFrozenPrefix(model);
    head = split?.head;

    // Feature extraction, timed. With a cache, fit then reuses these features; when they came from
    // the cache (the same base and images met before), they are computed once more to be timed.
    let extractionSeconds = NaN;
    let executor: ComparisonRow['executor'];
    if (split) {
      const extract = async (cache: FeatureCacheMode): Promise<{ seconds: number; computed: boolean }> => {
        const started = performance.now();
        const features = { cache, executor: options.executor, batchSize: options.batchSize };
        const train = await frozenFeatures(split.prefix, prepared.trainX, { ...features, label: `${spec.name}: frozen base features` });
        try {
          const val = await frozenFeatures(split.prefix, prepared.valX, {
            ...features,
            label: `${spec.name}: frozen base features (validation)`,
          });
          val.release();
          executor = train.executor ?? val.executor ?? executor;
          return { seconds: (performance.now() - started) / 1000, computed: train.source === 'computed' && val.source === 'computed' };
        } finally {
          train.release();
        }
      };
      let timing = await extract(options.cache);
      if (!timing.computed) timing = await extract(false);
      extractionSeconds = timing.seconds;
    }
    const images = prepared.trainX.shape[0] + prepared.valX.shape[0];

    const started = performance.now();
    const history = await fit(model, prepared.trainX, data.trainLabels, {
      batchSize: options.batchSize,
      epochs: options.epochs,
      validationData: [prepared.valX, data.valLabels],
      callbacks: [earlyStopping({ monitor: 'val_accuracy', patience: options.patience })],
      verbose: options.verbose,
      cache: options.cache,
      executor: options.executor,
    });
    const trainSeconds = (performance.now() - started) / 1000;
    const valAccuracy = (history.history.val_accuracy ?? []) as number[];
    const bestValAccuracy = Math.max(...valAccuracy);
    return {
      model: spec.name,
      weights: weightsLabel,
      totalParams: model.countParams(),
      trainableParams: countParams(model.trainableWeights),
      baseParams: base.countParams(),
      features: base.outputs[0].shape[1] as number,
      extractionSeconds,
      imagesPerSecond: images / extractionSeconds,
      executor,
      bestValAccuracy,
      bestEpoch: valAccuracy.indexOf(bestValAccuracy) + 1,
      finalValAccuracy: valAccuracy[valAccuracy.length - 1],
      epochsRun: valAccuracy.length,
      trainSeconds,
      history: Object.fromEntries(Object.entries(history.history).map(([k, v]) => [k, (v as number[]).map(Number)])),
    };
  } finally {
    // The rebuilt head shares the model's head layers: both let go of them.
    head?.dispose();
    model?.dispose();
    prepared.dispose();
  }
}

/** The largest value in any of `labels`. */
async function largestLabel(labels: tf.Tensor[]): Promise<number> {
  const maxima = labels.map((l) => tf.max(l));
  try {
    return Math.max(...(await Promise.all(maxima.map(async (m) => (await m.data())[0]))));
  } finally {
    tf.dispose(maxima);
  }
}

/**
 * Trains the lesson's head on each pre-trained base in `models` and compares them: parameters
 * (total / trainable), feature extraction time and images per second, best validation accuracy
 * and the epochs early stopping let run. Shows the table (and a bar chart in a notebook) when
 * done, and returns it as data. Each model gets the lesson's recipe: seed, upscale to 160x160,
 * frozen base without its top with max pooling, the head of {@link buildHead}, adam, and fit with
 * EarlyStopping on val_accuracy (patience 5).
 *
 * @param models - Names from {@link COMPARABLE_MODELS} (e.g. ['DenseNet121', 'MobileNetV2', 'ResNet50']),
 *   or { name, build, weights?, preprocess? } for your own.
 * @param data - The lesson's tensors: images as the models take them (the lesson's x / 255), integer labels.
 * @param options - `weights` ('imagenet', the default; 'stand-in'; or null), `epochs` (default 30),
 *   `batchSize`, `patience`, `seed`, `size`, `pooling`, `preprocess`, `head`, `display`, and
 *   `onError` ('continue', the default: a failing model gets a row with its error).
 * @returns A promise of the {@link ModelComparison}: `rows`, one {@link ComparisonRow} per model,
 *   and the shared `setup`.
 * @throws A {@link ValueError} when a model name is unknown, the data or an option is invalid, or
 *   every model failed (with `onError: 'throw'`, the first failure is thrown as it is).
 * @throws An {@link InterruptedError} when the user interrupts the kernel.
 *
 * @example
 * ```ts
 * import { compareModels } from 'tslab-dl';
 *
 * // Add 'VGG16', 'EfficientNetB0', 'InceptionV3', 'Xception', 'DenseNet201', ... (each takes a while).
 * const models = ['DenseNet121', 'MobileNetV2', 'ResNet50'];
 * const comparison = await compareModels(
 *   models,
 *   { trainImages, trainLabels, valImages, valLabels }, // images / 255, as the lesson scales them
 *   { weights: 'imagenet', epochs: 30 },
 * );
 * comparison.row('MobileNetV2')?.bestValAccuracy;
 * ```
 */
export async function compareModels(
  models: (string | ModelSpec)[],
  data: ComparisonData,
  options: CompareOptions = {},
): Promise<ModelComparison> {
  installLessonHooks(); // weightsFallback: 'stand-in' is lesson mode's
  await ready();
  if (options.weights !== undefined && options.weights !== null && options.weights !== 'imagenet' && options.weights !== 'stand-in') {
    throw new ValueError(
      `${WHERE}: options.weights must be 'imagenet', 'stand-in' or null. Received ${JSON.stringify(options.weights)}. ` +
        `A weights file belongs to one model: pass { name: 'ResNet50', weights: '/path/to/file.h5' } in models.`,
    );
  }
  const specs = resolveSpecs(models, options.weights === undefined ? 'imagenet' : options.weights);
  if (!data || typeof data !== 'object')
    throw new ValueError(`${WHERE}: data must be { trainImages, trainLabels, valImages, valLabels }. Received ${describeValue(data)}.`);
  checkImagesAndLabels(data.trainImages, data.trainLabels, 'train');
  checkImagesAndLabels(data.valImages, data.valLabels, 'val');
  if (data.valImages.shape.slice(1).join() !== data.trainImages.shape.slice(1).join()) {
    throw new ValueError(
      `${WHERE}: data.valImages are [${data.valImages.shape.slice(1).join(', ')}] but data.trainImages are [${data.trainImages.shape.slice(1).join(', ')}]: they must be the same size.`,
    );
  }
  const resolved: ResolvedOptions = {
    weightsOptions: options.weightsOptions,
    executor: options.executor,
    size: positiveInteger(options.size ?? 160, 'size'),
    pooling: options.pooling ?? 'max',
    preprocess: options.preprocess ?? 'lesson',
    head: options.head ?? {},
    epochs: positiveInteger(options.epochs ?? 30, 'epochs'),
    batchSize: positiveInteger(options.batchSize ?? 32, 'batchSize'),
    patience:
      Number.isInteger(options.patience) && (options.patience as number) >= 0
        ? (options.patience as number)
        : options.patience === undefined
          ? 5
          : NaN,
    seed: options.seed ?? 2,
    cache: options.cache === undefined ? 'memory' : options.cache,
    verbose: options.verbose ?? 'auto',
    display: options.display ?? true,
    onError: options.onError ?? 'continue',
  };
  if (Number.isNaN(resolved.patience))
    throw new ValueError(
      `${WHERE}: options.patience must be a whole number of epochs, e.g. 5. Received ${JSON.stringify(options.patience)}.`,
    );
  if (resolved.pooling !== 'max' && resolved.pooling !== 'avg')
    throw new ValueError(`${WHERE}: options.pooling must be 'max' or 'avg'. Received ${JSON.stringify(options.pooling)}.`);
  if (resolved.preprocess !== 'lesson' && resolved.preprocess !== 'keras')
    throw new ValueError(`${WHERE}: options.preprocess must be 'lesson' or 'keras'. Received ${JSON.stringify(options.preprocess)}.`);
  if (resolved.onError !== 'continue' && resolved.onError !== 'throw')
    throw new ValueError(`${WHERE}: options.onError must be 'continue' or 'throw'. Received ${JSON.stringify(options.onError)}.`);
  const unprepared = resolved.preprocess === 'keras' ? specs.find((s) => !s.preprocess) : undefined;
  if (unprepared) {
    throw new ValueError(
      `${WHERE}: options.preprocess is 'keras' but model '${unprepared.name}' has no preprocess function; pass { name, build, preprocess }.`,
    );
  }
  // Read asynchronously: a synchronous read fails on webgpu for labels computed on the GPU.
  const classes = options.head?.classes ?? (await largestLabel([data.trainLabels, data.valLabels])) + 1;

  const restoreRandom = saveRandomState();
  const rows: ComparisonRow[] = [];
  try {
    for (const [i, spec] of specs.entries()) {
      console.log(`[${i + 1}/${specs.length}] ${spec.name} (weights: ${spec.weights === null ? 'random' : spec.weights})`);
      try {
        rows.push(await compareOne(spec, data, resolved, classes));
      } catch (e) {
        if (e instanceof InterruptedError || resolved.onError === 'throw') throw e;
        const message = (e as Error)?.message ?? String(e);
        console.log(`${spec.name} failed: ${message}`);
        rows.push({ model: spec.name, weights: spec.weights === null ? 'random' : spec.weights, ...failedNumbers, error: message });
      }
    }
  } finally {
    restoreRandom();
  }
  if (rows.every((r) => r.error)) {
    throw new ValueError(`${WHERE}: every model failed; the first: ${rows[0].model}: ${rows[0].error}`);
  }
  const comparison = new ModelComparison(rows, {
    trainImages: data.trainImages.shape[0],
    valImages: data.valImages.shape[0],
    size: resolved.size,
    pooling: resolved.pooling,
    preprocess: resolved.preprocess,
    maxEpochs: resolved.epochs,
    patience: resolved.patience,
    backend: `TensorFlow.js ${backendInfo().backend}`,
  });
  if (resolved.display) {
    display(comparison);
    // Shown once: a cell ending in `await compareModels(...)` does not show it again.
    markShown(comparison);
  }
  return comparison;
}
