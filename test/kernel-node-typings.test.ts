// Cells are type-checked against the console and timers only (kernel/typings/node-globals) until
// one needs more of Node; then, for good, against @types/node (kernel/node-typings.ts). Checked
// in a real kernel through nbclient: what each cell prints, its errors, and the typings the
// kernel reports through its hook.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CellOutput, JupyterSandbox, jupyterMissing, jupyterSandbox, outputsText, resultText, runCellsInKernel } from './support/jupyter';

const missing = jupyterMissing();

function errorOf(outputs: CellOutput[]): CellOutput | undefined {
  return outputs.find((o) => o.output_type === 'error');
}

/** A cell whose value is the typings the kernel checks cells with now (it names no Node global itself). */
const TYPINGS = "(globalThis as any)[Symbol.for('tslab-dl.kernel')].compilerNodeTypings()";

describe("Node's typings when a notebook needs them", { skip: missing }, () => {
  let sandbox: JupyterSandbox;
  before(() => {
    sandbox = jupyterSandbox();
  });
  after(() => sandbox?.dispose());

  test('the console and timers need no @types/node; a type error stays one; URL and process switch', () => {
    const outputs = runCellsInKernel(
      [
        "console.log('hello'); const timer = setTimeout(() => undefined, 10_000); timer.unref();",
        TYPINGS,
        "const n: number = 'five';",
        TYPINGS,
        "new URL('https://example.org/a/b').pathname",
        TYPINGS,
        // Declared under the globals-only typings, used under @types/node.
        'clearTimeout(timer); timer.hasRef()',
      ],
      sandbox.env,
    );
    const [hello, first, typeError, afterError, url, afterUrl, timer] = outputs;
    assert.equal(errorOf(hello), undefined, outputsText(hello));
    assert.match(outputsText(hello), /^hello$/m);
    assert.equal(resultText(first), "'globals'");
    assert.equal(errorOf(typeError)?.ename, 'TypeScriptError');
    assert.match(outputsText(typeError), /Type 'string' is not assignable to type 'number'/);
    assert.equal(resultText(afterError), "'globals'", 'an ordinary type error does not switch');
    assert.equal(errorOf(url), undefined, `URL compiles with @types/node: ${outputsText(url)}`);
    assert.equal(resultText(url), "'/a/b'");
    assert.equal(resultText(afterUrl), "'full'");
    assert.equal(errorOf(timer), undefined, outputsText(timer));
    assert.equal(resultText(timer), 'false');
  });

  test('a cell that uses process or imports a Node module is checked with @types/node from the start', () => {
    const [env, typings, os] = runCellsInKernel(
      ['typeof process.env.PATH', TYPINGS, "import * as os from 'os';\nos.platform() === process.platform"],
      sandbox.env,
    );
    assert.equal(resultText(env), "'string'", outputsText(env));
    assert.equal(resultText(typings), "'full'");
    assert.equal(resultText(os), 'true', outputsText(os));
  });

  test('errors read the same as with @types/node from the start (TSLAB_DL_NODE_TYPES=full)', () => {
    const cells = ["const n: number = 'five';", 'const t = setTimeout(() => undefined, 1);\nconst s: string = t;', TYPINGS];
    const globalsOnly = runCellsInKernel(cells, sandbox.env);
    const full = runCellsInKernel(cells, { ...sandbox.env, TSLAB_DL_NODE_TYPES: 'full' });
    assert.equal(resultText(full[2]), "'full'");
    assert.equal(resultText(globalsOnly[2]), "'globals'");
    for (const k of [0, 1]) {
      assert.equal(errorOf(globalsOnly[k])?.ename, 'TypeScriptError');
      assert.equal(errorOf(globalsOnly[k])?.evalue, errorOf(full[k])?.evalue);
    }
  });
});
