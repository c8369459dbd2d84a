// In the kernel, `x = x.mul(3)` frees the old x once the cell is done, as Python frees the array a
// name no longer refers to (lib/compat/unreachable-tensors.ts, kernel/after-cell-collection.ts).
// Checked in a real kernel through nbclient against tf.memory() and the values.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CellOutput, JupyterSandbox, jupyterMissing, jupyterSandbox, outputsText, resultText, runCellsInKernel } from './support/jupyter';

const missing = jupyterMissing();

/** The cell's value, a JSON string as JavaScript shows it ('{...}'), parsed. */
function valueOf(outputs: CellOutput[]): Record<string, number> {
  const shown = resultText(outputs);
  assert.ok(shown, outputsText(outputs));
  return JSON.parse(shown.slice(1, -1));
}

const MEMORY = 'JSON.stringify({ tensors: tf.memory().numTensors, bytes: tf.memory().numBytes, value: x.dataSync()[7] })';
const MIB4 = 4 * 1024 * 1024;

describe('tensors a notebook drops', { skip: missing }, () => {
  let sandbox: JupyterSandbox;
  before(() => {
    sandbox = jupyterSandbox();
  });
  after(() => sandbox?.dispose());

  test('a reassigned large tensor is freed after its cell; a small one and one still held stay as tfjs keeps them', () => {
    const outputs = runCellsInKernel(
      [
        "import { tf } from 'tslab-dl';\nlet x = tf.fill([1024, 1024], 2);\nconst kept = x;\nlet small = tf.fill([4], 1);",
        MEMORY,
        'x = x.mul(3);',
        MEMORY,
        'x = x.add(1);\nsmall = small.add(1);',
        MEMORY,
      ],
      sandbox.env,
    );
    for (const cell of outputs)
      assert.equal(
        cell.find((o) => o.output_type === 'error'),
        undefined,
        outputsText(cell),
      );
    const [start, held, dropped] = [valueOf(outputs[1]), valueOf(outputs[3]), valueOf(outputs[5])];
    assert.equal(start.bytes, MIB4 + 16);
    // The first x is still `kept`: both 4 MiB tensors live.
    assert.deepEqual(held, { tensors: start.tensors + 1, bytes: 2 * MIB4 + 16, value: 6 });
    // The second x (x * 3) was dropped and freed; the first small tensor was dropped but is below the threshold.
    assert.deepEqual(dropped, { tensors: start.tensors + 2, bytes: 2 * MIB4 + 32, value: 7 });
  });
});
