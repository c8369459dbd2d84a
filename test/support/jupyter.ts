/**
 * Test support: a throw-away Jupyter set-up (kernelspec in a temporary prefix, isolated config,
 * data, runtime and user-site folders) so tests never depend on, or change, the user's own
 * Jupyter state: kernelspecs, config, caches.
 *
 * Jupyter looks for kernelspecs in JUPYTER_PATH, JUPYTER_DATA_DIR, Python's user base
 * (`site.getuserbase()/share/jupyter`, i.e. ~/.local/share/jupyter, where `npx tslab-dl install`
 * puts ours), then sys.prefix and the system folders
 * (https://docs.jupyter.org/en/latest/use/jupyter-directories.html#data-files). All but the last
 * two are pointed into the sandbox: JUPYTER_* directly, the user base with PYTHONUSERBASE (the
 * user's own site-packages stay importable through PYTHONPATH). The system folders cannot be
 * moved: tests that would change them check first (test/kernel.test.ts, kernelspecsOutside).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
/** Debian's Jupyter lives under this interpreter; the python3 first on PATH may be another one. */
export const JUPYTER_PYTHON = process.env.TSLAB_DL_PYTHON ?? '/usr/bin/python3';

/** Why Jupyter tests cannot run here, or undefined when they can. */
export function jupyterMissing(modules = ['jupyter_client', 'nbclient']): string | undefined {
  const probe = spawnSync(JUPYTER_PYTHON, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8' });
  if (probe.status === 0) return undefined;
  return `${JUPYTER_PYTHON} cannot import ${modules.join(', ')} (apt-get install jupyter-notebook python3-nbclient)`;
}

export interface JupyterSandbox {
  /** Environment for Jupyter processes: JUPYTER_PATH with our kernelspec, private config/data/runtime/user-base dirs. */
  env: NodeJS.ProcessEnv;
  dir: string;
  dispose(): void;
}

/** The user's own site-packages folder under `env`, when Python uses one and it exists. */
function userSitePackages(env: NodeJS.ProcessEnv): string | undefined {
  const r = spawnSync(JUPYTER_PYTHON, ['-c', 'import site; print(site.getusersitepackages() if site.ENABLE_USER_SITE else "")'], {
    encoding: 'utf8',
    env,
  });
  const folder = r.status === 0 ? r.stdout.trim() : '';
  return folder && fs.existsSync(folder) ? folder : undefined;
}

/** An environment in which Jupyter sees none of the user's own folders, only those under `dir`. */
export function isolatedJupyterEnv(dir: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const userSite = userSitePackages(base);
  return {
    ...base,
    JUPYTER_CONFIG_DIR: path.join(dir, 'config'),
    JUPYTER_RUNTIME_DIR: path.join(dir, 'runtime'),
    JUPYTER_DATA_DIR: path.join(dir, 'data'),
    IPYTHONDIR: path.join(dir, 'ipython'),
    PYTHONUSERBASE: path.join(dir, 'userbase'),
    PYTHONPATH: [userSite, base.PYTHONPATH].filter(Boolean).join(path.delimiter) || undefined,
  };
}

/** Installs the tslab-dl kernelspec into a temporary prefix and returns an environment that finds it. */
export function jupyterSandbox(extraEnv: NodeJS.ProcessEnv = {}): JupyterSandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-test-'));
  const prefix = path.join(dir, 'prefix');
  const env: NodeJS.ProcessEnv = {
    ...isolatedJupyterEnv(dir, { ...process.env, ...extraEnv }),
    JUPYTER_PATH: path.join(prefix, 'share', 'jupyter'),
  };
  if (env.PYTHONPATH === undefined) delete env.PYTHONPATH;
  const install = spawnSync(
    process.execPath,
    [path.join(ROOT, 'bin', 'tslab-dl.js'), 'install', '--prefix', prefix, '--python', JUPYTER_PYTHON],
    { encoding: 'utf8', env },
  );
  if (install.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`installing the kernelspec failed:\n${install.stdout}\n${install.stderr}`);
  }
  return { env, dir, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** The kernelspec folders named `name` that Jupyter sees under `env` outside `dir` (the system folders, mostly). */
export function kernelspecsOutside(name: string, dir: string, env: NodeJS.ProcessEnv): string[] {
  const script =
    'import json, os, sys\n' +
    'from jupyter_client.kernelspec import KernelSpecManager\n' +
    'print(json.dumps([d for d in KernelSpecManager().kernel_dirs if os.path.isfile(os.path.join(d, sys.argv[1], "kernel.json"))]))';
  const r = spawnSync(JUPYTER_PYTHON, ['-c', script, name], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`listing the kernelspec folders failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as string[])
    .filter((d) => !path.resolve(d).startsWith(path.resolve(dir) + path.sep))
    .map((d) => path.join(d, name));
}

const RUN_CELLS = `
import json, sys, nbformat
from nbclient import NotebookClient
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_code_cell(s) for s in json.loads(sys.argv[1])]
NotebookClient(nb, kernel_name='tslab-dl', timeout=int(sys.argv[3]), allow_errors=True,
               resources={'metadata': {'path': sys.argv[2]}}).execute()
print(json.dumps([[dict(o) for o in c.outputs] for c in nb.cells]))
`;

/** One output of a cell, as nbformat stores it. */
export interface CellOutput {
  output_type: string;
  name?: string;
  text?: string;
  data?: Record<string, string>;
  ename?: string;
  evalue?: string;
}

/** Everything a cell showed, as text: streams, results' text/plain, errors as `name: value`. */
export function outputsText(outputs: CellOutput[]): string {
  return outputs.map((o) => o.text ?? o.data?.['text/plain'] ?? `${o.ename}: ${o.evalue}`).join('');
}

/** The cell's value as shown (its execute_result's text/plain), without what it printed; undefined if none. */
export function resultText(outputs: CellOutput[]): string | undefined {
  return outputs.find((o) => o.output_type === 'execute_result')?.data?.['text/plain'];
}

/**
 * Runs `cells` in a fresh tslab-dl kernel through nbclient (errors kept, the next cell runs), with
 * `folder` (default: the notebooks folder) as the working directory; each cell's outputs.
 */
export function runCellsInKernel(
  cells: string[],
  env: NodeJS.ProcessEnv,
  cellTimeoutSeconds = 120,
  folder = path.join(ROOT, 'notebooks'),
): CellOutput[][] {
  const run = spawnSync(JUPYTER_PYTHON, ['-c', RUN_CELLS, JSON.stringify(cells), folder, String(cellTimeoutSeconds)], {
    env,
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`nbclient failed (exit ${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!);
}
