/**
 * Child of test/compat-install.test.ts: trains a small model with a frozen base, importing `fit`
 * (or the Keras habit, `model.fit`) from one public path only, argv[2]: 'index' (tslab-dl),
 * 'train' (lib/train) or 'keras' (lib/keras, then model.fit). Prints one JSON line: the losses,
 * how many times frozen features were computed, and whether the patches are installed.
 */
import * as tf from '@tensorflow/tfjs';
import { ready } from '../../lib/backends/selection';
import { kerasCompatInstalled } from '../../lib/compat/install';
import { featureStats } from '../../lib/features/extract';
import { sparseCategoricalCrossentropy } from '../../lib/train/losses';
import { setRandomSeed } from '../../lib/core/random';

type Fit = (model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, options: object) => Promise<tf.History>;

// Loaded on demand (require), so that only the path under test is imported.
function fitFrom(path: string): Fit {
  if (path === 'index') return require('../../lib').fit as Fit;
  if (path === 'train') return require('../../lib/train').fit as Fit;
  if (path === 'keras') {
    require('../../lib/keras');
    return (model, x, y, options) => model.fit(x, y, options);
  }
  throw new Error(`unknown path ${path}`);
}

(async () => {
  const fit = fitFrom(process.argv[2]);
  await ready({ env: { TSLAB_DL_BACKEND: 'cpu' } });
  setRandomSeed(1);
  const inputs = tf.input({ shape: [8, 8, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, useBias: false }).apply(inputs) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({}).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU().apply(x) as tf.SymbolicTensor;
  const features = tf.layers.globalMaxPooling2d({}).apply(x) as tf.SymbolicTensor;
  const base = tf.model({ inputs, outputs: features });
  base.trainable = false;
  const model = tf.model({ inputs, outputs: tf.layers.dense({ units: 3 }).apply(features) as tf.SymbolicTensor });
  model.compile({ optimizer: tf.train.adam(0.01), loss: sparseCategoricalCrossentropy({ fromLogits: true }), metrics: ['accuracy'] });
  const images = tf.randomUniform([12, 8, 8, 3], 0, 1, 'float32', 5);
  const labels = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2], 'int32');
  const before = featureStats.computed;
  const history = await fit(model, images, labels, { batchSize: 4, epochs: 3, shuffle: false, verbose: 0 });
  const result = {
    installed: kerasCompatInstalled(),
    featuresComputed: featureStats.computed - before,
    loss: history.history.loss,
    accuracy: history.history.accuracy,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
})().catch((e) => {
  process.stdout.write(`${JSON.stringify({ error: String(e?.stack ?? e) })}\n`, () => process.exit(1));
});
