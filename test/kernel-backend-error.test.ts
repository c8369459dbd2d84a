/**
 * A backend failure in a cell (here: a tensor larger than the wasm memory) comes back from the real
 * kernel as an error that names the backend and says how to switch, and the kernel stays usable.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jupyterMissing, jupyterSandbox, JUPYTER_PYTHON, ROOT } from './support/jupyter';

const SCRIPT = `
import json, sys, nbformat
from nbclient import NotebookClient
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_code_cell(s) for s in json.loads(sys.argv[1])]
NotebookClient(nb, kernel_name='tslab-dl', timeout=120, allow_errors=True,
               resources={'metadata': {'path': sys.argv[2]}}).execute()
print(json.dumps([[dict(o) for o in c.outputs] for c in nb.cells]))
`;

test('a backend out-of-memory error says how to switch backend, and the next cell runs', { timeout: 300_000 }, (t) => {
  const missing = jupyterMissing();
  if (missing) {
    t.skip(missing);
    return;
  }
  const sandbox = jupyterSandbox({ TSLAB_DL_BACKEND: 'wasm' });
  try {
    const cells = ["import { tf } from 'tslab-dl';\nconst big = tf.zeros([1100, 1000, 1000]);", '1 + 1'];
    const run = spawnSync(JUPYTER_PYTHON, ['-c', SCRIPT, JSON.stringify(cells), path.join(ROOT, 'notebooks')], {
      env: sandbox.env,
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    const outputs = JSON.parse(run.stdout.trim().split('\n').pop()!);
    const error = outputs[0].find((o: { output_type: string }) => o.output_type === 'error');
    assert.ok(error, JSON.stringify(outputs[0]));
    assert.equal(error.ename, 'BackendError');
    assert.match(error.evalue, /The wasm backend ran out of memory/);
    assert.match(error.evalue, /await setBackend\('cpu'\)/);
    assert.match(error.evalue, /TSLAB_DL_BACKEND=cpu/);
    assert.equal(outputs[1][0].data['text/plain'], '2');
  } finally {
    sandbox.dispose();
  }
});
