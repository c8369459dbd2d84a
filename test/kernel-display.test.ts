// Out[n] of a cell: tensors show dtype, rank, shape and values (like tensor.print(true)) plus an
// HTML table; models show their summary with parameter counts computed here by hand; objects
// with a Symbol.for('Jupyter.display') method show their own bundle. Nothing leaks tensors.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { ready } from '../lib/backends/selection';
import { endsInAssignment } from '../kernel/assignment';
import { mimeBundleOf } from '../kernel/rich-display';

describe('rich display of cell values', () => {
  before(async () => {
    await ready();
  });

  test('a 2-D tensor shows dtype, rank, shape, values and an HTML table', async () => {
    const t = tf.tensor2d([
      [1, 2.5],
      [-3, 4],
    ]);
    const before = tf.memory().numTensors;
    const bundle = await mimeBundleOf(t);
    assert.equal(tf.memory().numTensors, before, 'showing a tensor must not allocate tensors');
    assert.equal(bundle['text/plain'], 'Tensor\n  dtype: float32\n  rank: 2\n  shape: [2,2]\n  values:\n    [[1 , 2.5],\n     [-3, 4  ]]');
    const html = String(bundle['text/html']);
    assert.deepEqual(
      [...html.matchAll(/<td>([^<]*)<\/td>/g)].map((m) => m[1]),
      ['1', '2.5', '-3', '4'],
    );
    assert.match(html, /dtype <code>float32<\/code>/);
    assert.match(html, /shape <code>\[2,2\]<\/code>/);
    t.dispose();
  });

  test('a scalar, an int32 vector and a string tensor', async () => {
    const scalar = tf.scalar(7, 'int32');
    assert.match(String((await mimeBundleOf(scalar))['text/plain']), /dtype: int32\n  rank: 0\n  shape: \[\]\n  values:\n    7$/);
    const words = tf.tensor1d(['a', '<b>']);
    const html = String((await mimeBundleOf(words))['text/html']);
    assert.deepEqual(
      [...html.matchAll(/<td>([^<]*)<\/td>/g)].map((m) => m[1]),
      ['&quot;a&quot;', '&quot;&lt;b&gt;&quot;'],
    );
    tf.dispose([scalar, words]);
  });

  test('a large tensor shows the summarised values as text in HTML', async () => {
    const big = tf.range(0, 1000).reshape([10, 100]);
    const bundle = await mimeBundleOf(big);
    assert.match(String(bundle['text/plain']), /shape: \[10,100\]/);
    assert.match(String(bundle['text/plain']), /\.\.\./);
    assert.match(String(bundle['text/html']), /<pre>/);
    big.dispose();
  });

  test('a symbolic tensor shows in one line, as Keras shows a KerasTensor', async () => {
    const input = tf.input({ shape: [1024] });
    const out = tf.layers.dense({ units: 10, name: 'logits' }).apply(input) as tf.SymbolicTensor;
    assert.equal((await mimeBundleOf(out))['text/plain'], '<SymbolicTensor shape=(None, 10), dtype=float32, from logits (Dense)>');
  });

  test('a cell ending in an assignment shows nothing, as in IPython; an expression or a comparison does', () => {
    for (const code of ['out = f(out);', 'model.trainable = false', 'x += 1', 'let y = 2;\n(a.b = c)', 'a = b = 3;']) {
      assert.equal(endsInAssignment(code), true, code);
    }
    for (const code of ['out', 'x == 1', 'f(x = 2)', 'const x = 1;', 'x = 1;\nx', 'a => (b = 1)', '']) {
      assert.equal(endsInAssignment(code), false, code);
    }
  });

  test('a disposed tensor says so instead of throwing', async () => {
    const t = tf.ones([2, 3]);
    t.dispose();
    assert.equal((await mimeBundleOf(t))['text/plain'], 'Tensor (disposed)\n  dtype: float32\n  rank: 2\n  shape: [2,3]');
  });

  test('a model shows its summary with total, trainable and non-trainable counts', async () => {
    // dense 5 -> 3: 5*3 + 3 = 18; batch norm of 3: gamma+beta 6 trainable, mean+variance 6 not;
    // dense 3 -> 1: 3 + 1 = 4. Total 34, trainable 28, non-trainable 6.
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [5], units: 3, name: 'hidden' }),
        tf.layers.batchNormalization({ name: 'norm' }),
        tf.layers.dense({ units: 1, name: 'out' }),
      ],
    });
    const bundle = await mimeBundleOf(model);
    const text = String(bundle['text/plain']);
    const html = String(bundle['text/html']);
    for (const line of ['Total params: 34 (136.00 B)', 'Trainable params: 28 (112.00 B)', 'Non-trainable params: 6 (24.00 B)']) {
      assert.ok(text.includes(line), `text lacks ${line}:\n${text}`);
      assert.ok(html.includes(line), `html lacks ${line}`);
    }
    assert.match(html, /<td>hidden \(Dense\)<\/td><td>\[null,3\]<\/td><td style="text-align:right">18<\/td>/);
    assert.match(html, /<td>norm \(BatchNormalization\)<\/td><td>\[null,3\]<\/td><td style="text-align:right">12<\/td>/);

    // Freezing the first layer moves its 18 weights to non-trainable: 10 trainable, 24 not.
    model.layers[0].trainable = false;
    const frozen = await mimeBundleOf(model);
    for (const line of ['Total params: 34 (136.00 B)', 'Trainable params: 10 (40.00 B)', 'Non-trainable params: 24 (96.00 B)']) {
      assert.ok(String(frozen['text/plain']).includes(line), `text lacks ${line}`);
      assert.ok(String(frozen['text/html']).includes(line), `html lacks ${line}`);
    }
    model.dispose();
  });

  test("an object's Symbol.for('Jupyter.display') bundle is sent, binary parts as base64", async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    const shown = { [Symbol.for('Jupyter.display')]: () => ({ 'image/png': png, 'text/plain': 'a picture' }) };
    assert.deepEqual(await mimeBundleOf(shown), { 'image/png': 'iVBORw==', 'text/plain': 'a picture' });
    const asynchronous = { [Symbol.for('Jupyter.display')]: async () => ({ 'text/html': '<p>later</p>' }) };
    assert.deepEqual(await mimeBundleOf(asynchronous), { 'text/html': '<p>later</p>' });
  });

  test('a display method that returns no bundle is an error naming what it returned', async () => {
    const broken = { [Symbol.for('Jupyter.display')]: () => 'just text' };
    await assert.rejects(mimeBundleOf(broken), /must return a MIME bundle object; it returned 'just text'/);
  });

  test('anything else shows as util.inspect writes it', async () => {
    assert.deepEqual(await mimeBundleOf({ a: [1, 'x'] }), { 'text/plain': "{ a: [ 1, 'x' ] }" });
    assert.deepEqual(await mimeBundleOf('text'), { 'text/plain': "'text'" });
    assert.deepEqual(await mimeBundleOf(42n), { 'text/plain': '42n' });
  });
});
