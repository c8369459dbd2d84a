/**
 * Lesson mode (`await lessonMode()`, the lesson notebook's first cell): a missing data folder is
 * downloaded, or offline replaced by the synthetic twin; `weights: 'imagenet'` offline becomes
 * stand-in weights; TSLAB_DL_EPOCHS caps fit. Outside lesson mode the same calls keep Keras'
 * behaviour (errors), and a checksum mismatch is an error in either mode, never a fallback.
 * Real servers on 127.0.0.1 stand in for Zenodo and the weights host.
 */
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  DataFileError,
  DenseNet121,
  DownloadError,
  fit,
  lessonMode,
  loadDollarStreet,
  makeSyntheticDollarStreet,
  sparseCategoricalCrossentropy,
  SYNTHETIC_MANIFEST,
  inLessonMode,
  setRandomSeed,
  standInWeights,
  upscale,
} from '../lib';
import { MimeBundle } from '../lib/notebook/display';
import { KERNEL_HOOK } from '../lib/notebook/kernel-hook';
import { closedUrl } from './support/closed-url';
import { startZenodoServer } from './support/zenodo-server';

const ENV = [
  'TSLAB_DL_ZENODO_URL',
  'TSLAB_DL_WEIGHTS_BASE_URL',
  'TSLAB_DL_CACHE',
  'KERAS_HOME',
  'TSLAB_DL_SAMPLES',
  'TSLAB_DL_EPOCHS',
  'TSLAB_DL_DATA',
  'TSLAB_DL_WEIGHTS',
];

/**
 * What `run` shows: the notebook displays (as a kernel would receive them) and console.log lines.
 * (stdout itself is left alone: the test runner reports through it.)
 */
async function captured<T>(run: () => Promise<T>): Promise<{ printed: string; result: T }> {
  const chunks: string[] = [];
  const log = console.log;
  (globalThis as Record<symbol, unknown>)[KERNEL_HOOK] = {
    interruptRequested: false,
    display: (data: MimeBundle) => void chunks.push(`${data['text/plain'] ?? ''}\n`),
  };
  console.log = (...args: unknown[]) => void chunks.push(args.join(' ') + '\n');
  try {
    return { result: await run(), printed: chunks.join('') };
  } finally {
    delete (globalThis as Record<symbol, unknown>)[KERNEL_HOOK];
    console.log = log;
  }
}

describe('lesson mode', { timeout: 300_000 }, () => {
  const saved: NodeJS.ProcessEnv = {};
  let root: string;
  let work: string;
  let closed: string;

  before(async () => {
    for (const key of ENV) saved[key] = process.env[key];
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-lesson-mode-'));
    closed = await closedUrl();
  });
  beforeEach(async () => {
    work = fs.mkdtempSync(path.join(root, 'case-'));
    for (const key of ENV) delete process.env[key];
    process.env.TSLAB_DL_ZENODO_URL = closed;
    process.env.TSLAB_DL_WEIGHTS_BASE_URL = `${closed}/`;
    process.env.TSLAB_DL_CACHE = path.join(work, 'cache');
    process.env.KERAS_HOME = path.join(work, 'keras');
    await lessonMode({ on: false });
  });
  after(async () => {
    await lessonMode({ on: false });
    for (const key of ENV) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('outside lesson mode: a missing data folder and offline weights are errors, as in Keras', async () => {
    assert.equal(inLessonMode(), false);
    await assert.rejects(loadDollarStreet(path.join(work, 'nowhere')), DataFileError);
    await assert.rejects(
      DenseNet121({ includeTop: false, weights: 'imagenet', inputShape: [32, 32, 3] }),
      (e: unknown) => e instanceof DownloadError && e.reason === 'offline',
    );
  });

  test('offline in lesson mode: the synthetic twin (TSLAB_DL_SAMPLES images), said loudly', async () => {
    process.env.TSLAB_DL_SAMPLES = '30';
    const { printed } = await captured(() => lessonMode());
    assert.match(printed, /Run settings from the environment: a synthetic twin of 30 training images/);
    assert.doesNotMatch(printed, /TensorFlow\.js .* on /, 'in a notebook the kernel already said where it runs');
    const folder = path.join(work, 'data', 'dataset_dollarstreet');
    const { printed: shown, result: data } = await captured(() => loadDollarStreet(folder));
    assert.deepEqual(data.trainImages.shape, [30, 64, 64, 3]);
    assert.deepEqual(data.valImages.shape, [10, 64, 64, 3]);
    assert.match(
      shown,
      /USING SYNTHETIC STAND-IN DATA: the Dollar Street 10 files are not in .*dataset_dollarstreet, and Zenodo cannot be reached/,
    );
    assert.ok(fs.existsSync(path.join(work, 'data', 'dataset_dollarstreet_synthetic_30', SYNTHETIC_MANIFEST)));
    tf.dispose(Object.values(data));
  });

  test('online in lesson mode: a corrupted download is an error naming the file, not a fallback; nothing is left', async () => {
    const published = path.join(work, 'published');
    await makeSyntheticDollarStreet(published, { train: 12, test: 4 });
    fs.rmSync(path.join(published, SYNTHETIC_MANIFEST));
    const zenodo = await startZenodoServer(published, (name, bytes) =>
      name === 'train_labels.npy' ? Buffer.from(bytes.map((b, i) => (i === bytes.length - 1 ? b ^ 1 : b))) : bytes,
    );
    try {
      process.env.TSLAB_DL_ZENODO_URL = zenodo.url;
      await captured(() => lessonMode());
      const folder = path.join(work, 'data', 'dataset_dollarstreet');
      await assert.rejects(
        captured(() => loadDollarStreet(folder)),
        (e: unknown) => e instanceof DownloadError && e.reason === 'checksum' && /train_labels\.npy/.test(e.message),
      );
      assert.ok(!fs.existsSync(path.join(folder, 'train_labels.npy')));
      assert.ok(!fs.existsSync(path.join(work, 'data', 'dataset_dollarstreet_synthetic')), 'no synthetic twin made');
      assert.deepEqual(
        fs.readdirSync(folder).filter((f) => f.includes('.part')),
        [],
      );
    } finally {
      await zenodo.close();
    }
  });

  test("offline in lesson mode: weights: 'imagenet' becomes stand-in weights calibrated on the lesson's upscaled images, said loudly", async () => {
    process.env.TSLAB_DL_SAMPLES = '20';
    await captured(() => lessonMode());
    const data = (await captured(() => loadDollarStreet(path.join(work, 'data', 'dataset_dollarstreet')))).result;
    const build = async () => {
      const inputs = tf.input({ shape: [64, 64, 3] });
      const upscaled = upscale({ height: 32, width: 32 }).apply(inputs);
      return DenseNet121({ includeTop: false, pooling: 'max', weights: 'imagenet', inputTensor: upscaled, inputShape: [32, 32, 3] });
    };
    setRandomSeed(5);
    const { printed, result: base } = await captured(build);
    const afterCold = Math.random();
    assert.match(printed, /USING STAND-IN WEIGHTS: the ImageNet weights of DenseNet121 are not cached and cannot be downloaded/);
    assert.match(printed, /save it as .*keras.*densenet121_weights_tf_dim_ordering_tf_kernels_notop\.h5/);
    // Calibrated at the network's input size (32, after the upscale), on the lesson's images / 255.
    const scaled = tf.tidy(() => data.trainImages.div(255));
    const expected = await standInWeights('DenseNet121', { images: scaled, size: 32 });
    assert.ok(printed.includes(expected), `the stand-in made is ${expected}`);
    const bn = base.getLayer('conv1/bn');
    const [mean, variance] = bn
      .getWeights()
      .slice(2)
      .map((w) => Array.from(w.dataSync()));
    assert.ok(
      mean.some((m) => Math.abs(m) > 1e-3),
      'moving mean calibrated',
    );
    assert.ok(
      variance.some((v) => Math.abs(v - 1) > 1e-3),
      'moving variance calibrated',
    );
    // Making the stand-in mid-build leaves the caller's random sequence where a build with the
    // stand-in already cached leaves it: the head that follows starts the same, first run or not.
    setRandomSeed(5);
    const again = (await captured(build)).result;
    assert.equal(Math.random(), afterCold);
    tf.dispose([scaled, ...Object.values(data)]);
    base.dispose();
    again.dispose();
  });

  test("outside lesson mode the fallback is asked for: weightsFallback: 'stand-in' with standInImages", async () => {
    const images = tf.randomUniform([4, 32, 32, 3], 0, 1, 'float32', 3);
    const { printed, result: base } = await captured(() =>
      DenseNet121({ includeTop: false, weights: 'imagenet', inputShape: [32, 32, 3], weightsFallback: 'stand-in', standInImages: images }),
    );
    assert.match(printed, /USING STAND-IN WEIGHTS/);
    await assert.rejects(
      DenseNet121({ includeTop: false, weights: 'imagenet', inputShape: [32, 32, 3], weightsFallback: 'stand-in' }),
      /pass standInImages/,
    );
    base.dispose();
    images.dispose();
  });

  test('TSLAB_DL_EPOCHS caps the epochs of a fit in lesson mode only', async () => {
    process.env.TSLAB_DL_EPOCHS = '2';
    const build = () => {
      const input = tf.input({ shape: [3] });
      const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2 }).apply(input) as tf.SymbolicTensor });
      model.compile({ optimizer: 'adam', loss: sparseCategoricalCrossentropy({ fromLogits: true }) });
      return model;
    };
    const x = tf.randomNormal([8, 3]);
    const y = tf.tensor1d([0, 1, 0, 1, 0, 1, 0, 1], 'int32');
    const outside = await fit(build(), x, y, { epochs: 5, verbose: 0 });
    assert.equal((outside.history.loss as number[]).length, 5);
    await captured(() => lessonMode());
    const inside = await fit(build(), x, y, { epochs: 5, verbose: 0 });
    assert.equal((inside.history.loss as number[]).length, 2);
    tf.dispose([x, y]);
  });
});
