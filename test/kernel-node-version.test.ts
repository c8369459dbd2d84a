/**
 * The kernel runs on the Node that installed its kernelspec: run under Node 22 or 24
 * (scripts/test-on-node.sh), the kernel test and the lesson smoke test exercise that Node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jupyterMissing, jupyterSandbox, runCellsInKernel } from './support/jupyter';

test("the tslab-dl kernel runs on this test's Node", (t) => {
  const missing = jupyterMissing();
  if (missing) return t.skip(missing);
  const sandbox = jupyterSandbox();
  try {
    const [outputs] = runCellsInKernel(['process.versions.node'], sandbox.env);
    const result = outputs.find((o) => o.output_type === 'execute_result');
    assert.equal(result?.data?.['text/plain'], `'${process.versions.node}'`, JSON.stringify(outputs));
  } finally {
    sandbox.dispose();
  }
});
