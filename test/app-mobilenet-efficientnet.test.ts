// MobileNetV2 (every alpha with ImageNet weights) and EfficientNetB0 have Keras' structure: one
// table, built with `weights: null` at the default size and at 160x160 without the top; output
// shapes, layer counts and parameter counts against Keras' published numbers and, independently,
// against torchvision's models of the same architecture.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { MobileNetV2 } from '../lib/applications/mobilenet-v2';
import { EfficientNetB0 } from '../lib/applications/efficientnet';
import { ApplicationArgs } from '../lib/applications/build-steps';
import { installKerasCompat } from '../lib/compat/install';

installKerasCompat();

const PYTHON = '/usr/bin/python3';

interface Row {
  name: string;
  build: (args: ApplicationArgs) => Promise<tf.LayersModel>;
  /** Keras' model.count_params() with and without the top. */
  top: number;
  notop: number;
  /** Keras' len(model.layers) without the top, and how many layers the top adds. */
  layersNotop: number;
  topLayers: number;
  /** Channels of the last feature map. */
  channels: number;
  /** torchvision's counts: key into the reference script's JSON. */
  torch: { script: string; key?: string };
}

const mobilenet = (alpha: number) => (args: ApplicationArgs) => MobileNetV2({ ...args, alpha });

// Keras' numbers: MobileNetV2 1.0 and EfficientNetB0 from Keras' model.summary() (Total params:
// 3,538,984 / 2,257,984 and 5,330,571 / 4,049,571, as in Keras' documentation and tutorials).
// For the other widths Keras publishes no exact count (the "Parameters (M)" column of
// mobilenet_v2.py's docstring describes the paper's TF-slim checkpoints: 3.47 M is the 1.0
// model's trainable count, but e.g. 1.66 M for 0.35 is not Keras' 1.68 M), so they are computed
// here, and checked exactly against torchvision's mobilenet_v2(width_mult) below. Layer counts:
// len(model.layers) in Keras 2 (154 for MobileNetV2, as in TensorFlow's transfer-learning
// tutorial; 237 for EfficientNetB0 built without ImageNet weights, 238 with them).
const ROWS: Row[] = [
  {
    name: 'MobileNetV2 alpha 0.35',
    build: mobilenet(0.35),
    top: 1_691_208,
    notop: 410_208,
    layersNotop: 154,
    topLayers: 2,
    channels: 1280,
    torch: { script: 'app_mobilenet_torch_reference.py', key: '0.35' },
  },
  {
    name: 'MobileNetV2 alpha 0.5',
    build: mobilenet(0.5),
    top: 1_987_224,
    notop: 706_224,
    layersNotop: 154,
    topLayers: 2,
    channels: 1280,
    torch: { script: 'app_mobilenet_torch_reference.py', key: '0.5' },
  },
  {
    name: 'MobileNetV2 alpha 0.75',
    build: mobilenet(0.75),
    top: 2_663_064,
    notop: 1_382_064,
    layersNotop: 154,
    topLayers: 2,
    channels: 1280,
    torch: { script: 'app_mobilenet_torch_reference.py', key: '0.75' },
  },
  {
    name: 'MobileNetV2 alpha 1.0',
    build: mobilenet(1.0),
    top: 3_538_984,
    notop: 2_257_984,
    layersNotop: 154,
    topLayers: 2,
    channels: 1280,
    torch: { script: 'app_mobilenet_torch_reference.py', key: '1.0' },
  },
  {
    name: 'MobileNetV2 alpha 1.3',
    build: mobilenet(1.3),
    top: 5_431_048,
    notop: 3_766_048,
    layersNotop: 154,
    topLayers: 2,
    channels: 1664,
    torch: { script: 'app_mobilenet_torch_reference.py', key: '1.3' },
  },
  {
    name: 'MobileNetV2 alpha 1.4',
    build: mobilenet(1.4),
    top: 6_156_712,
    notop: 4_363_712,
    layersNotop: 154,
    topLayers: 2,
    channels: 1792,
    torch: { script: 'app_mobilenet_torch_reference.py', key: '1.4' },
  },
  {
    name: 'EfficientNetB0',
    build: EfficientNetB0,
    top: 5_330_571,
    notop: 4_049_571,
    layersNotop: 237,
    topLayers: 3,
    channels: 1280,
    torch: { script: 'app_efficientnet_torch_reference.py' },
  },
];

function count(weights: tf.LayerVariable[]): number {
  return weights.reduce((n, w) => n + w.shape.reduce((a: number, b) => a * (b as number), 1), 0);
}

/** torchvision's counts, from the reference scripts (undefined with the reason when torch is missing). */
function torchCounts(script: string): { counts?: Record<string, unknown>; missing?: string } {
  const r = spawnSync(PYTHON, [path.join(__dirname, 'python', script), 'counts'], { encoding: 'utf8' });
  if (r.status !== 0)
    return { missing: `torch/torchvision/h5py not usable by ${PYTHON}: ${(r.stderr || String(r.error)).trim().split('\n').pop()}` };
  return { counts: JSON.parse(r.stdout) };
}

describe('MobileNetV2 and EfficientNetB0: shapes and parameter counts (Keras 2.x)', () => {
  before(async () => {
    await ready();
  });

  for (const row of ROWS) {
    test(`${row.name}: default size with and without the top, and 160x160 without it`, async () => {
      const top = await row.build({ weights: null });
      assert.equal(top.countParams(), row.top);
      assert.equal(top.layers.length, row.layersNotop + row.topLayers);
      assert.deepEqual(top.inputs[0].shape, [null, 224, 224, 3]);
      assert.deepEqual(top.outputs[0].shape, [null, 1000]);
      if (row.name === 'MobileNetV2 alpha 1.0') assert.equal(count(top.trainableWeights), 3_504_872, "the 3.47 M of Keras' table");
      top.dispose();

      const notop = await row.build({ weights: null, includeTop: false });
      assert.equal(notop.countParams(), row.notop);
      assert.equal(notop.layers.length, row.layersNotop);
      assert.deepEqual(notop.inputs[0].shape, [null, null, null, 3]);
      assert.deepEqual(notop.outputs[0].shape, [null, null, null, row.channels]);
      notop.dispose();

      // 160 -> 80 -> 40 -> 20 -> 10 -> 5: five stride-2 stages.
      const at160 = await row.build({ weights: null, includeTop: false, inputShape: [160, 160, 3] });
      assert.deepEqual(at160.outputs[0].shape, [null, 5, 5, row.channels]);
      at160.dispose();
      const pooled = await row.build({ weights: null, includeTop: false, inputShape: [160, 160, 3], pooling: 'max' });
      assert.deepEqual(pooled.outputs[0].shape, [null, row.channels]);
      assert.equal(pooled.layers.length, row.layersNotop + 1);
      const x = tf.randomUniform([1, 160, 160, 3], 0, 1, 'float32', 5);
      const y = pooled.predict(x) as tf.Tensor;
      assert.deepEqual(y.shape, [1, row.channels]);
      assert.ok(Array.from(y.dataSync()).every(Number.isFinite));
      tf.dispose([x, y]);
      pooled.dispose();
    });
  }

  test("independently: torchvision's models of the same architecture have the same parameters (BN statistics as Keras' non-trainable weights)", async (t) => {
    const byScript = new Map<string, ReturnType<typeof torchCounts>>();
    for (const row of ROWS) {
      if (!byScript.has(row.torch.script)) byScript.set(row.torch.script, torchCounts(row.torch.script));
      const { counts, missing } = byScript.get(row.torch.script)!;
      if (missing) return t.skip(missing);
      const c = (row.torch.key ? counts![row.torch.key] : counts) as {
        trainable_top: number;
        trainable_notop: number;
        bn_statistics: number;
      };
      const model = await row.build({ weights: null });
      const notop = await row.build({ weights: null, includeTop: false });
      // EfficientNet's Normalization layer (mean 3 + variance 3 + count 1) has no torchvision counterpart.
      const normalization = row.name === 'EfficientNetB0' ? 7 : 0;
      assert.equal(count(model.trainableWeights), c.trainable_top, `${row.name}: trainable with top`);
      assert.equal(count(notop.trainableWeights), c.trainable_notop, `${row.name}: trainable without top`);
      assert.equal(count(notop.nonTrainableWeights), c.bn_statistics + normalization, `${row.name}: non-trainable`);
      model.dispose();
      notop.dispose();
    }
  });
});
