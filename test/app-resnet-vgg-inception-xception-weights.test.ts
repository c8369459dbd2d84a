// Weights for ResNet50, VGG16, InceptionV3 and Xception:
// - the same numbers as an independent implementation holding the same weights: torchvision's
//   resnet50 (stride moved to Keras' v1 place), vgg16 and inception_v3 (TF's average pooling),
//   and Xception written with torch.nn.functional; their random weights go into Keras' .h5
//   layout with h5py, each model loads the file, both run the same images (float64 reference);
// - saveWeightsH5 writes the layer names, weight names and order Keras writes, and loads back;
// - a file for another model (or with/without the top) is rejected, with nothing half-loaded;
// - weights: 'imagenet' asks for the official file names and checks Keras' md5.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { DownloadError, ValueError } from '../lib/core/errors';
import { saveWeightsH5 } from '../lib/weights/h5';
import { ApplicationArgs } from '../lib/applications/build-steps';
import { InceptionV3, ResNet50, VGG16, Xception } from '../lib/applications';
import { randomizeWeights } from '../bench/onnx-fixtures';
import { PYTHON, predictValues, readNpy, relativeError, torchMissing } from './support/torch-reference';

const REFERENCE = path.join(__dirname, 'python', 'app_resnet_vgg_inception_xception_reference.py');

type Build = (args?: ApplicationArgs) => Promise<tf.LayersModel>;

const MODELS: { name: string; build: Build; kerasName: string; notopFile: string; topFile: string }[] = [
  {
    name: 'ResNet50',
    build: ResNet50,
    kerasName: 'resnet50',
    notopFile: 'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5',
    topFile: 'resnet50_weights_tf_dim_ordering_tf_kernels.h5',
  },
  {
    name: 'VGG16',
    build: VGG16,
    kerasName: 'vgg16',
    notopFile: 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
    topFile: 'vgg16_weights_tf_dim_ordering_tf_kernels.h5',
  },
  {
    name: 'InceptionV3',
    build: InceptionV3,
    kerasName: 'inception_v3',
    notopFile: 'inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5',
    topFile: 'inception_v3_weights_tf_dim_ordering_tf_kernels.h5',
  },
  {
    name: 'Xception',
    build: Xception,
    kerasName: 'xception',
    notopFile: 'xception_weights_tf_dim_ordering_tf_kernels_notop.h5',
    topFile: 'xception_weights_tf_dim_ordering_tf_kernels.h5',
  },
];

function python(args: string[]): string {
  const r = spawnSync(PYTHON, [REFERENCE, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** The torch reference for `model` in a fresh folder (weights.h5, images.npy, max.npy, avg.npy, probs.npy). */
function reference(kerasName: string, size: number, batch: number, extra: string[] = []): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tslab-dl-${kerasName}-${size}-`));
  python([kerasName, dir, String(size), String(batch), ...extra]);
  return dir;
}

/** Spread of the reference across images (std over the batch / mean magnitude): a constant output would match trivially. */
function spread(values: Float32Array, shape: number[]): number {
  const [n, c] = shape;
  let sd = 0;
  let magnitude = 0;
  for (let j = 0; j < c; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += values[i * c + j] / n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (values[i * c + j] - mean) ** 2 / n;
    sd += Math.sqrt(v) / c;
    for (let i = 0; i < n; i++) magnitude += Math.abs(values[i * c + j]) / (n * c);
  }
  return sd / magnitude;
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name);
}

describe('ResNet50, VGG16, InceptionV3, Xception: weights', () => {
  const missing = torchMissing();
  before(async () => {
    await ready();
  });

  for (const m of MODELS) {
    // InceptionV3 ends on a 1x1 map below 107x107 (max = avg pooling there): 107 gives 2x2.
    const size = m.name === 'InceptionV3' ? 107 : 75;
    test(`${m.name} computes what the independent torch implementation computes: ${size}x${size}, max- and avg-pooled features from an h5py file`, async (t) => {
      if (missing) return t.skip(missing);
      // ResNet50's file with variable-length strings, the others with Keras' fixed-length ones.
      const dir = reference(m.kerasName, size, 2, m.name === 'ResNet50' ? ['--vlen'] : []);
      try {
        const images = readNpy(path.join(dir, 'images.npy'));
        for (const pooling of ['max', 'avg'] as const) {
          const model = await m.build({ weights: path.join(dir, 'weights.h5'), includeTop: false, pooling, inputShape: [size, size, 3] });
          const features = await predictValues(model, images);
          const expected = readNpy(path.join(dir, `${pooling}.npy`));
          const err = relativeError(features, expected.data);
          const s = spread(expected.data, expected.shape);
          t.diagnostic(`${pooling} pooling: relative error ${err.toExponential(2)}, spread across images ${s.toFixed(3)}`);
          assert.ok(s > 1e-3, `the reference features barely vary across images (${s})`);
          assert.ok(err < 1e-4, `${pooling}-pooled features differ from torch: relative error ${err}`);
          model.dispose();
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test("VGG16 with its top at 64x64: Keras' channels-last Flatten before fc1 (torch flattens channels first), softmax of 10 classes", async (t) => {
    if (missing) return t.skip(missing);
    const dir = reference('vgg16', 64, 2, ['--top', '--classes', '10']);
    try {
      const model = await VGG16({ weights: path.join(dir, 'weights.h5'), inputShape: [64, 64, 3], classes: 10 });
      assert.deepEqual(model.getLayer('fc1').weights[0].shape, [2 * 2 * 512, 4096]);
      const probs = await predictValues(model, readNpy(path.join(dir, 'images.npy')));
      const expected = readNpy(path.join(dir, 'probs.npy'));
      const err = relativeError(probs, expected.data);
      t.diagnostic(
        `relative error ${err.toExponential(2)}; probabilities ${Array.from(expected.data.slice(0, 10), (p) => p.toFixed(3)).join(' ')}`,
      );
      assert.ok(Math.max(...expected.data) < 0.99, 'the softmax is not saturated');
      assert.ok(err < 1e-4, `probabilities differ from torch: relative error ${err}`);
      model.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('ResNet50 with its top (avg_pool + predictions), 10 classes, classifierActivation null: the logits', async (t) => {
    if (missing) return t.skip(missing);
    const dir = reference('resnet50', 75, 2, ['--top', '--classes', '10']);
    try {
      // Logits rather than probabilities: with random weights the softmax saturates to 0s and 1s.
      const model = await ResNet50({
        weights: path.join(dir, 'weights.h5'),
        inputShape: [75, 75, 3],
        classes: 10,
        classifierActivation: null,
      });
      const logits = await predictValues(model, readNpy(path.join(dir, 'images.npy')));
      const expected = readNpy(path.join(dir, 'logits.npy'));
      const err = relativeError(logits, expected.data);
      t.diagnostic(`relative error ${err.toExponential(2)}, spread across images ${spread(expected.data, expected.shape).toFixed(3)}`);
      assert.ok(spread(expected.data, expected.shape) > 1e-3);
      assert.ok(err < 1e-4, `logits differ from torch: relative error ${err}`);
      model.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('saveWeightsH5 files in Keras layout, and files for the wrong model', () => {
    let dir: string;
    const files = new Map<string, string>();
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-app-weights-'));
    });
    after(() => {
      fs.rmSync(dir, { recursive: true, force: true });
    });

    for (const m of MODELS) {
      test(`${m.name}: saveWeightsH5 writes Keras' layer names, weight names and order; the file loads back into a new model`, async (t) => {
        const model = await m.build({ weights: null, includeTop: false, pooling: 'avg', inputShape: [75, 75, 3] });
        randomizeWeights(model, 5);
        const file = path.join(dir, `${m.kerasName}_notop.h5`);
        await saveWeightsH5(model, file);
        files.set(m.name, file);
        if (missing) {
          t.diagnostic(`h5py check skipped: ${missing}`);
        } else {
          // What h5py reads, against Keras' layer list from the reference script (input layer aside).
          const saved = JSON.parse(python(['describe', file])) as {
            layer_names: string[];
            layers: Record<string, [string, number[], string][]>;
          };
          const layersDir = fs.mkdtempSync(path.join(dir, 'layers-'));
          python([m.kerasName, layersDir, '75', '1', '--layers-only', '--pooling', 'avg']);
          const keras = JSON.parse(fs.readFileSync(path.join(layersDir, 'layers.json'), 'utf8')) as {
            name: string;
            weights: [string, number[]][];
          }[];
          assert.deepEqual(
            saved.layer_names.slice(1),
            keras.slice(1).map((l) => l.name),
          );
          for (const layer of keras.slice(1)) {
            assert.deepEqual(
              saved.layers[layer.name],
              layer.weights.map(([name, shape]) => [name, shape, 'float32']),
              layer.name,
            );
          }
        }
        const loaded = await m.build({ weights: file, includeTop: false, pooling: 'avg', inputShape: [75, 75, 3] });
        const x = tf.randomUniform([2, 75, 75, 3], 0, 1, 'float32', 9);
        const [a, b] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
        assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()), 'the same weights, bit for bit');
        tf.dispose([x, a, b]);
        model.dispose();
        loaded.dispose();
      });
    }

    test('a file for another model, or without the top, is rejected with the layer and shapes; nothing is left allocated', async (t) => {
      if (files.size < MODELS.length) return t.skip('needs the files of the tests above');
      const rejects = async (build: Build, args: ApplicationArgs, message: RegExp) => {
        const before = tf.memory().numTensors;
        await assert.rejects(build(args), (e: Error) => e instanceof ValueError && message.test(e.message), `expected ${message}`);
        assert.equal(tf.memory().numTensors, before, 'the half-built model was freed');
      };
      await rejects(
        VGG16,
        { weights: files.get('ResNet50')!, includeTop: false },
        /the file has 106 layers with weights, `vgg16` has 13: this weights file is for a different model.*First mismatch at layer #0: the model has `block1_conv1` \(2 weight\(s\): \[3, 3, 3, 64\] \[64\]\), the file has `conv1_conv` \(2 weight\(s\): \[7, 7, 3, 64\] \[64\]\)/,
      );
      await rejects(
        Xception,
        { weights: files.get('InceptionV3')!, includeTop: false },
        /layers with weights, `xception` has .*this weights file is for a different model/,
      );
      // The no-top file for the model with its top: one layer short.
      await rejects(
        ResNet50,
        { weights: files.get('ResNet50')!, inputShape: [75, 75, 3] },
        /the file has 106 layers with weights, `resnet50` has 107: .*with\/without its classification top/,
      );
      await rejects(
        Xception,
        { weights: files.get('Xception')!, inputShape: [75, 75, 3] },
        /`xception` has \d+: .*with\/without its classification top/,
      );
    });
  });

  describe("weights: 'imagenet' asks for Keras' files and checks Keras' md5", () => {
    let root: string;
    let server: http.Server;
    let base: string;
    const requests: string[] = [];
    before(async () => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-app-imagenet-'));
      // Answers every file with a small HDF5-looking body that cannot have Keras' md5.
      server = http.createServer((req, res) => {
        requests.push(decodeURIComponent(path.basename(req.url ?? '')));
        res.writeHead(200, { 'content-length': '64' }).end(Buffer.alloc(64, 7));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/models/`;
    });
    after(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(root, { recursive: true, force: true });
    });

    for (const m of MODELS) {
      test(`${m.name}: the no-top and top files by Keras' names; a wrong checksum is an error and leaves nothing behind`, async () => {
        const weightsOptions = { baseUrl: base, kerasCacheDir: path.join(root, 'keras'), cacheDir: path.join(root, 'ours') };
        for (const [includeTop, file] of [
          [false, m.notopFile],
          [true, m.topFile],
        ] as const) {
          requests.length = 0;
          const before = tf.memory().numTensors;
          await assert.rejects(m.build({ weights: 'imagenet', includeTop, weightsOptions }), (e: Error) => {
            assert.ok(e instanceof DownloadError, `${e.name}: ${e.message}`);
            assert.match(e.message, new RegExp(`${m.name} ImageNet weights${includeTop ? '' : ' \\(no top\\)'}`));
            assert.match(e.message, new RegExp(file.replace(/\./g, '\\.')));
            assert.match(e.message, /checksum does not match/);
            return true;
          });
          assert.deepEqual(requests, [file]);
          assert.equal(tf.memory().numTensors, before, 'the model built before the download was freed');
          assert.deepEqual(filesUnder(root), [], 'nothing left in the caches');
        }
      });
    }
  });
});
