// A notebook outside any project that has tslab-dl (a learner's home on a JupyterHub, the library
// installed once elsewhere) imports the kernel's own library: it runs, and it is type-checked
// against the library's real declarations.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JupyterSandbox, ROOT, jupyterMissing, jupyterSandbox, outputsText, runCellsInKernel } from './support/jupyter';

const missing = jupyterMissing();

describe('tslab-dl from a folder without it', { skip: missing }, () => {
  let sandbox: JupyterSandbox;
  let home: string;
  before(() => {
    sandbox = jupyterSandbox();
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-learner-home-'));
  });
  after(() => {
    sandbox?.dispose();
    fs.rmSync(home, { recursive: true, force: true });
  });

  test('imports, runs and type-checks against the kernel checkout', () => {
    // The premise: Node finds no tslab-dl from there by itself.
    assert.throws(() => require.resolve('tslab-dl', { paths: [home] }), /Cannot find module/);
    const [sum, typeError, resolved] = runCellsInKernel(
      [
        "import { tf } from 'tslab-dl';\nconst t: tf.Tensor = tf.tensor([1, 2, 3]);\nt.sum().dataSync()[0]",
        'const n: number = tf.tensor([1]);',
        "require.resolve('tslab-dl')",
      ],
      sandbox.env,
      120,
      home,
    );
    assert.doesNotMatch(outputsText(sum), /Cannot find module|TS2307/);
    assert.match(outputsText(sum), /^6$/m);
    // A real declaration, not `any`: assigning a Tensor to a number is an error naming Tensor.
    assert.equal(typeError.find((o) => o.output_type === 'error')?.ename, 'TypeScriptError');
    assert.match(outputsText(typeError), /Tensor.*not assignable to type 'number'|not assignable to type 'number'.*Tensor/s);
    assert.equal(outputsText(resolved).replace(/['\n]/g, ''), path.join(ROOT, 'dist', 'lib', 'index.js'));
  });
});
