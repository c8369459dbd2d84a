import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { confusionMatrix, defaultClassNames } from '../lib/train/confusion';
import { DOLLAR_STREET_CLASSES } from '../lib/data/dollarstreet';
import { JUPYTER_DISPLAY } from '../lib/notebook/display';

test('counts true (rows) against predicted (columns) classes', async () => {
  await ready();
  const labels = tf.tensor1d([0, 0, 1, 1, 1, 2], 'int32');
  const predictions = [0, 1, 1, 1, 2, 2];
  const m = confusionMatrix(labels, predictions, { classNames: ['cat', 'dog', 'cow'] });
  assert.deepEqual(m.counts, [
    [1, 1, 0],
    [0, 2, 1],
    [0, 0, 1],
  ]);
  assert.equal(m.total, 6);
  assert.equal(m.correct, 4);
  assert.equal(m.accuracy, 4 / 6);
  assert.deepEqual(m.recall(), [0.5, 2 / 3, 1]);
  labels.dispose();
});

test('text and HTML tables show names, counts and recall', () => {
  const m = confusionMatrix([0, 1, 1], [0, 0, 1], { classNames: ['day bed', 'dishrag'] });
  const text = m.text();
  assert.match(text, /^true \\ predicted\s+0\s+1\s+recall$/m);
  assert.match(text, /^0 day bed\s+1\s+0\s+100%$/m);
  assert.match(text, /^1 dishrag\s+1\s+1\s+50%$/m);
  const bundle = m[JUPYTER_DISPLAY]();
  assert.match(String(bundle['text/html']), /<table.*day bed.*dishrag.*50%/s);
  assert.equal(bundle['text/plain'], text);
  assert.match(confusionMatrix([0], [0], { classNames: ['<b>'] }).html(), /&lt;b&gt;/, 'names are escaped');
});

test('class names default to the lesson classes (DOLLAR_STREET_CLASSES) for 10 classes, else indices', () => {
  assert.deepEqual(defaultClassNames(3), ['0', '1', '2']);
  const ten = defaultClassNames(10);
  assert.deepEqual(ten, [...DOLLAR_STREET_CLASSES]);
  assert.deepEqual([ten[0], ten[9]], ['day bed', 'washing machine']);
  assert.deepEqual(confusionMatrix([0, 9], [0, 9]).classNames, ten);
});

test('mismatched lengths and out-of-range classes are errors naming the value', () => {
  assert.throws(() => confusionMatrix([0, 1], [0]), /2 labels but 1 predictions/);
  assert.throws(() => confusionMatrix([0, 5], [0, 1], { classes: 3 }), /label 1 is 5, outside the classes 0\.\.2/);
  assert.throws(() => confusionMatrix([0], [0], { classes: 2, classNames: ['a'] }), /1 classNames for 2 classes/);
});
