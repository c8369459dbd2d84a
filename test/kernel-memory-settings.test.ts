// The kernel Jupyter starts runs with the memory settings of its kernelspec (kernel/kernelspec.ts):
// V8's small semi-spaces and slow heap growth, two malloc arenas and fixed mmap/trim thresholds.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { JupyterSandbox, jupyterMissing, jupyterSandbox, resultText, runCellsInKernel } from './support/jupyter';

const missing = jupyterMissing();

describe("the kernel's memory settings", { skip: missing }, () => {
  let sandbox: JupyterSandbox;
  before(() => {
    sandbox = jupyterSandbox();
  });
  after(() => sandbox?.dispose());

  test('the kernel process has the V8 flags and the malloc settings', () => {
    const [settings] = runCellsInKernel(
      [
        "const v8 = require('v8');\n" +
          "const young = v8.getHeapSpaceStatistics().find((s: { space_name: string }) => s.space_name === 'new_space');\n" +
          'JSON.stringify({ flags: process.execArgv, arenas: process.env.MALLOC_ARENA_MAX, mmap: process.env.MALLOC_MMAP_THRESHOLD_, trim: process.env.MALLOC_TRIM_THRESHOLD_, newSpaceMiB: young.space_size / 2 ** 20 })',
      ],
      sandbox.env,
    );
    // The cell's value, a string shown as JavaScript writes it: '{"flags":...}'.
    const shown = resultText(settings);
    assert.ok(shown, JSON.stringify(settings));
    const found = JSON.parse(shown.slice(1, -1));
    assert.deepEqual(found.flags, ['--max-semi-space-size=2', '--heap-growing-percent=20']);
    assert.equal(found.arenas, '2');
    assert.equal(found.mmap, '131072');
    assert.equal(found.trim, '131072');
    // Two semi-spaces of at most 2 MiB (V8's default is up to 16 MiB each).
    assert.ok(found.newSpaceMiB <= 4, `new space ${found.newSpaceMiB} MiB`);
  });
});
