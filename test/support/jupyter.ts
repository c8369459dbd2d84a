/**
 * Test support: a throw-away Jupyter set-up (kernelspec in a temporary prefix, isolated config
 * and runtime folders) so tests never depend on, or change, the user's own Jupyter state.
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
  /** Environment for Jupyter processes: JUPYTER_PATH with our kernelspec, private config/runtime dirs. */
  env: NodeJS.ProcessEnv;
  dir: string;
  dispose(): void;
}

/** Installs the tslab-dl kernelspec into a temporary prefix and returns an environment that finds it. */
export function jupyterSandbox(extraEnv: NodeJS.ProcessEnv = {}): JupyterSandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-test-'));
  const prefix = path.join(dir, 'prefix');
  const install = spawnSync(
    process.execPath,
    [path.join(ROOT, 'bin', 'tslab-dl.js'), 'install', '--prefix', prefix, '--python', JUPYTER_PYTHON],
    { encoding: 'utf8' },
  );
  if (install.status !== 0) {
    throw new Error(`installing the kernelspec failed:\n${install.stdout}\n${install.stderr}`);
  }
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...extraEnv,
    JUPYTER_PATH: path.join(prefix, 'share', 'jupyter'),
    JUPYTER_CONFIG_DIR: path.join(dir, 'config'),
    JUPYTER_RUNTIME_DIR: path.join(dir, 'runtime'),
    JUPYTER_DATA_DIR: path.join(dir, 'data'),
    IPYTHONDIR: path.join(dir, 'ipython'),
  };
  return { env, dir, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
