// A kernel that survives the learner, through the real Jupyter client (test/python/kernel_robustness.py,
// test/python/kernel_soak.py): uncaught errors and unhandled rejections on the wasm backend leave the
// kernel alive with its variables and show the error; process.exit() is refused; every one of
// 20,000 (and 200,000) printed lines arrives; malformed and replayed signed messages leave it
// answering; a cell exhausting a small heap fails with a MemoryError (or the log says why the kernel
// died); and a short fault run of 40 mixed cells ends with the first cell's variable intact and no
// restart. Needs `npm run build` first (npm test runs it). Jupyter runs in a sandbox
// (test/support/jupyter.ts): the user's kernelspecs and Jupyter folders are not touched.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { JUPYTER_PYTHON, JupyterSandbox, ROOT, jupyterMissing, jupyterSandbox } from './support/jupyter';

/** Runs a Python test file (optionally one test class, or arguments); fails with its output. */
function runPython(t: { diagnostic(message: string): void }, env: NodeJS.ProcessEnv, args: string[], timeoutS: number): string {
  const r = spawnSync(JUPYTER_PYTHON, args, { encoding: 'utf8', env, cwd: ROOT, timeout: timeoutS * 1000 });
  const output = `${r.stdout}\n${r.stderr}`;
  for (const line of output.split('\n')) {
    if (/lines printed|stopped after|heap exhaustion|^soak:|^Ran \d+ tests/.test(line)) t.diagnostic(line.trim());
  }
  assert.equal(r.status, 0, `${args.join(' ')} failed (status ${r.status}, signal ${r.signal}):\n${output.slice(-20000)}`);
  return r.stdout;
}

describe('tslab-dl kernel robustness', () => {
  const missing = jupyterMissing(['jupyter_client', 'zmq']);
  const robustness = path.join(__dirname, 'python', 'kernel_robustness.py');
  let sandbox: JupyterSandbox;

  before(() => {
    if (!missing) sandbox = jupyterSandbox();
  });
  after(() => sandbox?.dispose());

  test(
    'uncaught errors, rejections and process.exit() on wasm: the kernel lives, variables stay, the error shows',
    { timeout: 300_000 },
    (t) => {
      if (missing) return t.skip(missing);
      runPython(t, sandbox.env, [robustness, 'StrayErrorTests'], 280);
    },
  );

  test(
    'printed output all arrives (20,000 and 200,000 lines), in order, and a cell past 16 MiB says what it dropped',
    { timeout: 300_000 },
    (t) => {
      if (missing) return t.skip(missing);
      runPython(t, sandbox.env, [robustness, 'OutputVolumeTests'], 280);
    },
  );

  test('malformed and replayed signed messages are dropped with a log line; the kernel keeps answering', { timeout: 300_000 }, (t) => {
    if (missing) return t.skip(missing);
    runPython(t, sandbox.env, [robustness, 'MalformedMessageTests'], 280);
  });

  test(
    'a cell exhausting the heap (--max-old-space-size=256) is stopped with a MemoryError, or the log says why',
    { timeout: 300_000 },
    (t) => {
      if (missing) return t.skip(missing);
      runPython(t, sandbox.env, [robustness, 'HeapExhaustionTests'], 280);
    },
  );

  test(
    "a short fault run: 40 mixed cells, the first cell's variable intact, no restart, every line received",
    { timeout: 300_000 },
    (t) => {
      if (missing) return t.skip(missing);
      const stdout = runPython(t, sandbox.env, [path.join(__dirname, 'python', 'kernel_soak.py'), '--cells', '40', '--seed', '11'], 280);
      const line = stdout.split('\n').find((l) => l.startsWith('SOAK '));
      assert.ok(line, stdout);
      const counts = JSON.parse(line.slice(5));
      assert.equal(counts.restarts, 0);
      assert.equal(counts.lines_received, counts.lines_printed);
      assert.equal(counts.stray_errors_shown, counts.stray_errors_scheduled);
      assert.deepEqual(counts.problems, []);
    },
  );
});
