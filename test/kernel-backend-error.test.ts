/**
 * A backend failure in a cell (here: a tensor larger than the wasm memory) comes back from the real
 * kernel as an error that names the backend and says how to switch, and the kernel stays usable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jupyterMissing, jupyterSandbox, runCellsInKernel } from './support/jupyter';

test('a backend out-of-memory error says how to switch backend, and the next cell runs', { timeout: 300_000 }, (t) => {
  const missing = jupyterMissing();
  if (missing) {
    t.skip(missing);
    return;
  }
  const sandbox = jupyterSandbox({ TSLAB_DL_BACKEND: 'wasm' });
  try {
    const cells = ["import { tf } from 'tslab-dl';\nconst big = tf.zeros([1100, 1000, 1000]);", '1 + 1'];
    const outputs = runCellsInKernel(cells, sandbox.env);
    const error = outputs[0].find((o) => o.output_type === 'error');
    assert.ok(error, JSON.stringify(outputs[0]));
    assert.equal(error.ename, 'BackendError');
    assert.match(error.evalue ?? '', /The wasm backend ran out of memory/);
    assert.match(error.evalue ?? '', /await setBackend\('cpu'\)/);
    assert.match(error.evalue ?? '', /TSLAB_DL_BACKEND=cpu/);
    assert.equal(outputs[1][0].data?.['text/plain'], '2');
  } finally {
    sandbox.dispose();
  }
});
