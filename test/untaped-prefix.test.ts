/**
 * fit with `cache: false`: the whole model runs on every batch (Keras' way), with the frozen prefix
 * kept off tfjs' gradient tape. The numbers are those of tfjs' own fit of the whole model; the
 * memory is not (tfjs keeps every activation of the step; TensorFlow, like us, not the frozen ones).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { fit, featureStats, ready, tfjsFit } from '../lib';
import { lessonLikeModel } from './support/lesson-like-model';

test("cache: false trains like tfjs' own fit of the whole model, without keeping the frozen activations", async () => {
  await ready();
  const x = tf.randomUniform([32, 8, 8, 3], 0, 1, 'float32', 21);
  const y = tf.tensor1d(
    Array.from({ length: 32 }, (_, i) => i % 3),
    'int32',
  );
  const options = { batchSize: 16, epochs: 2, shuffle: false, verbose: 0 as const };
  // A frozen base whose activations dominate memory: six 16-channel convolutions at 32x32.
  const heavy = { seed: 4, upscaleTo: 32, blocks: 6, filters: 16, padding: 'same' as const };
  const taped = lessonLikeModel(heavy);
  const untaped = lessonLikeModel(heavy);

  let tapedHistory: tf.History | undefined;
  // tf.profile returns the same object each time: keep the figure, not the object.
  const tapedPeak = (
    await tf.profile(async () => {
      tapedHistory = await tfjsFit(taped, x, y, options);
    })
  ).peakBytes;
  const computedBefore = featureStats.computed;
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(' '));
  let untapedHistory: tf.History | undefined;
  let untapedPeak = Infinity;
  try {
    untapedPeak = (
      await tf.profile(async () => {
        untapedHistory = await fit(untaped, x, y, { ...options, cache: false, verbose: 1 });
      })
    ).peakBytes;
  } finally {
    console.log = log;
  }
  assert.equal(featureStats.computed, computedBefore, 'nothing cached');
  // upscale, 6 x (conv, BN, ReLU), pooling and the head's Flatten (no weights): 21 layers.
  assert.match(
    lines.join('\n'),
    /Feature cache off: the frozen prefix \(21 layers\) runs on every batch, as in Keras, outside the gradient tape/,
  );

  // The same training as tfjs' fit of the whole model: losses, accuracies and weights.
  for (const key of ['loss', 'accuracy']) {
    const ours = untapedHistory!.history[key] as number[];
    const theirs = tapedHistory!.history[key] as number[];
    assert.equal(ours.length, 2);
    ours.forEach((v, i) => assert.ok(Math.abs(v - theirs[i]) < 1e-5, `${key}[${i}]: ${v} untaped vs ${theirs[i]} taped`));
  }
  untaped.getWeights().forEach((w, i) => {
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(w, taped.getWeights()[i]))).dataSync()[0]);
    assert.ok(diff < 1e-5, `weight ${untaped.weights[i].name} differs by ${diff}`);
  });
  // Memory: a step of the whole model holds every activation of the six convolutions (16 images x
  // 32 x 32 x 16 floats = 1 MiB each, several per layer); untaped, a few at a time.
  assert.ok(
    untapedPeak < tapedPeak / 3,
    `peak ${(untapedPeak / 2 ** 20).toFixed(1)} MiB untaped vs ${(tapedPeak / 2 ** 20).toFixed(1)} MiB taped`,
  );

  // Again: each fit builds its untaped model and lets go of it; the caller's weights stay, no tensor is left.
  const tensors = tf.memory().numTensors;
  const again = await fit(untaped, x, y, { ...options, epochs: 1, cache: false });
  assert.equal((again.history.loss as number[]).length, 1);
  assert.equal(tf.memory().numTensors, tensors);
  assert.ok(untaped.getWeights().every((w) => !w.isDisposed));
  tf.dispose([x, y]);
});
