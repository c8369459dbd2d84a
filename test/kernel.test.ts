// The tslab-dl kernel through the real Jupyter client: the kernelspec installs where Jupyter finds
// it (and leaves other kernelspecs alone), the protocol conformance suite passes, notebooks run
// through nbclient (test/python/kernel_*.py). Needs `npm run build` first (npm test runs it).
// Every Jupyter process runs in a sandbox (test/support/jupyter.ts): the user's own kernelspecs,
// including the tslab-dl one `npm install` registered, are neither seen nor changed.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { JUPYTER_PYTHON, JupyterSandbox, ROOT, jupyterMissing, jupyterSandbox, kernelspecsOutside } from './support/jupyter';
import { KERNEL_NODE_FLAGS } from '../lib/notebook/kernel-settings';

const BIN = path.join(ROOT, 'bin', 'tslab-dl.js');

function cli(args: string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env });
}

function listKernelSpecs(env: NodeJS.ProcessEnv): { [name: string]: { resource_dir: string; spec: any } } {
  const r = spawnSync(JUPYTER_PYTHON, ['-m', 'jupyter_client.kernelspecapp', 'list', '--json'], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout).kernelspecs;
}

/** Runs one of the Python test files; fails with its output when it fails. */
function runPythonTests(t: { diagnostic(message: string): void }, file: string, env: NodeJS.ProcessEnv, timeoutS: number) {
  const r = spawnSync(JUPYTER_PYTHON, [path.join(__dirname, 'python', file)], {
    encoding: 'utf8',
    env,
    cwd: ROOT,
    timeout: timeoutS * 1000,
  });
  const output = `${r.stdout}\n${r.stderr}`;
  for (const line of output.split('\n')) {
    if (/kernel start-up|executed \d+ cells|^Ran \d+ tests/.test(line)) t.diagnostic(line.trim());
  }
  assert.equal(r.status, 0, `${file} failed (status ${r.status}, signal ${r.signal}):\n${output.slice(-20000)}`);
}

/** Kernelspec name -> folder, as the user's own Jupyter lists them. */
function userKernelSpecs(): { [name: string]: string } {
  return Object.fromEntries(Object.entries(listKernelSpecs(process.env)).map(([name, spec]) => [name, spec.resource_dir]));
}

describe('tslab-dl Jupyter kernel', () => {
  const missing = jupyterMissing(['jupyter_client', 'nbclient', 'nbformat', 'jupyter_kernel_test']);
  let sandbox: JupyterSandbox;
  let usersBefore: { [name: string]: string } = {};

  before(() => {
    if (missing) return;
    usersBefore = userKernelSpecs();
    sandbox = jupyterSandbox();
  });
  after(() => sandbox?.dispose());

  test("Jupyter lists the kernelspec, which runs this checkout's node and bin/tslab-dl.js", (t) => {
    if (missing) return t.skip(missing);
    const spec = listKernelSpecs(sandbox.env)['tslab-dl'];
    assert.ok(spec, 'tslab-dl is not listed');
    assert.ok(spec.resource_dir.startsWith(sandbox.dir), `listed from ${spec.resource_dir}, not the test prefix`);
    assert.deepEqual(spec.spec.argv, [process.execPath, ...KERNEL_NODE_FLAGS, BIN, 'kernel', '--config-path', '{connection_file}']);
    assert.deepEqual(spec.spec.env, { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TRIM_THRESHOLD_: '131072' });
    assert.equal(spec.spec.display_name, 'TypeScript (tslab-dl)');
    assert.equal(spec.spec.language, 'typescript');
    assert.equal(spec.spec.interrupt_mode, 'signal');
  });

  test('installing again replaces the kernelspec and leaves other kernelspecs alone', (t) => {
    if (missing) return t.skip(missing);
    const kernels = path.join(sandbox.env.JUPYTER_PATH!, 'kernels');
    const other = { argv: ['other', '{connection_file}'], display_name: 'Other', language: 'other' };
    fs.mkdirSync(path.join(kernels, 'other-kernel'), { recursive: true });
    fs.writeFileSync(path.join(kernels, 'other-kernel', 'kernel.json'), JSON.stringify(other));
    fs.writeFileSync(path.join(kernels, 'tslab-dl', 'kernel.json'), '{"argv": ["stale"], "display_name": "stale"}');

    const r = cli(['install', '--prefix', path.dirname(path.dirname(sandbox.env.JUPYTER_PATH!)), '--python', JUPYTER_PYTHON], sandbox.env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /registered the Jupyter kernel "TypeScript \(tslab-dl\)"/);
    const specs = listKernelSpecs(sandbox.env);
    assert.equal(specs['tslab-dl'].spec.argv[1 + KERNEL_NODE_FLAGS.length], BIN);
    assert.deepEqual(specs['other-kernel'].spec.argv, other.argv);
  });

  test('the kernel passes the Jupyter protocol conformance suite (jupyter_kernel_test)', { timeout: 900_000 }, (t) => {
    if (missing) return t.skip(missing);
    runPythonTests(t, 'kernel_conformance.py', sandbox.env, 840);
  });

  test('notebooks run through the kernel with nbclient: smoke notebook, interrupts, imports', { timeout: 900_000 }, (t) => {
    if (missing) return t.skip(missing);
    runPythonTests(t, 'kernel_notebook.py', sandbox.env, 840);
  });

  test('uninstall removes the tslab-dl kernelspec and no other', (t) => {
    if (missing) return t.skip(missing);
    const before = listKernelSpecs(sandbox.env);
    // Uninstall removes every tslab-dl Jupyter sees: one in a system folder (which no sandbox can
    // hide) would go too.
    const outside = kernelspecsOutside('tslab-dl', sandbox.dir, sandbox.env);
    if (outside.length > 0) return t.skip(`uninstall would also remove ${outside.join(', ')}, outside the test's folders`);
    const r = cli(['uninstall', '--python', JUPYTER_PYTHON], sandbox.env);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /removed the tslab-dl kernel/);
    const after = listKernelSpecs(sandbox.env);
    for (const [name, spec] of Object.entries(after)) {
      // Only ours may disappear; a tslab-dl from outside the test prefix would have been removed too.
      assert.notEqual(name, 'tslab-dl', `still listed: ${spec.resource_dir}`);
    }
    assert.deepEqual(
      Object.keys(after).sort(),
      Object.keys(before)
        .filter((n) => n !== 'tslab-dl')
        .sort(),
    );

    const again = cli(['uninstall', '--python', JUPYTER_PYTHON], sandbox.env);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /not installed/);
  });

  test("a tslab-dl kernelspec in the user's own folder is not seen, and survives uninstall, in the sandbox", (t) => {
    if (missing) return t.skip(missing);
    // A home of our own, with a kernelspec where `npx tslab-dl install` puts the user's.
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-home-'));
    const usersSpec = path.join(home, '.local', 'share', 'jupyter', 'kernels', 'tslab-dl');
    fs.mkdirSync(usersSpec, { recursive: true });
    fs.writeFileSync(
      path.join(usersSpec, 'kernel.json'),
      JSON.stringify({ argv: ['users-own'], display_name: 'users own', language: 'typescript' }),
    );
    const own = jupyterSandbox({ HOME: home });
    try {
      const seen = Object.values(listKernelSpecs(own.env)).map((spec) => spec.resource_dir);
      assert.ok(!seen.some((dir) => dir.startsWith(home)), `the sandbox sees the user's folder: ${seen.join(', ')}`);
      const r = cli(['uninstall', '--python', JUPYTER_PYTHON], own.env);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(fs.existsSync(path.join(usersSpec, 'kernel.json')), `uninstall in the sandbox removed the user's kernelspec: ${r.stdout}`);
    } finally {
      own.dispose();
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  test("after these tests the user's own kernelspecs are unchanged", (t) => {
    if (missing) return t.skip(missing);
    assert.deepEqual(userKernelSpecs(), usersBefore);
  });
});

describe('tslab-dl install without Jupyter', () => {
  const nowhere = path.join(ROOT, 'no-such-dir', 'python3');

  test('fails with one line saying how to get Jupyter', () => {
    const r = cli(['install', '--python', nowhere]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /Jupyter was not found \(tried .*no-such-dir\/python3 -m jupyter kernelspec/);
    assert.match(lines[0], /pip install jupyterlab/);
    assert.match(lines[0], /apt-get install jupyter-notebook/);
    assert.match(lines[0], /npx tslab-dl install/);
  });

  test('with --quiet-if-missing (npm prepare) says the same and exits 0', () => {
    const r = cli(['install', '--quiet-if-missing', '--python', nowhere]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^tslab-dl: Jupyter was not found .*pip install jupyterlab.*\n$/);
  });

  test('rejects unknown options, naming them', () => {
    const r = cli(['install', '--usr']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown option "--usr"/);
  });
});
