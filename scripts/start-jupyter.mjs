#!/usr/bin/env node
// `npm start`: Jupyter on notebooks/ with the tslab-dl kernel registered. JupyterLab when it is
// installed, the classic Notebook otherwise. Extra arguments go to Jupyter: npm start -- --port 9999
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The first way to run Jupyter's `app` here: `jupyter-app` on PATH, else `<python> -m app`.
 * @param {string} app
 * @returns {[string, string[]] | undefined}
 */
function findJupyter(app) {
  const onPath = spawnSync(`jupyter-${app}`, ['--version'], { stdio: 'ignore' });
  if (onPath.status === 0) return [`jupyter-${app}`, []];
  for (const python of [process.env.TSLAB_DL_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean)) {
    const module = app === 'lab' ? 'jupyterlab' : 'notebook';
    if (spawnSync(python, ['-m', module, '--version'], { stdio: 'ignore' }).status === 0) return [python, ['-m', module]];
  }
  return undefined;
}

const jupyter = findJupyter('lab') ?? findJupyter('notebook');
if (!jupyter) {
  console.error(
    'npm start: Jupyter was not found. Install it with `pip install jupyterlab`, or on Debian/Ubuntu ' +
      '`apt-get install jupyter-notebook`, then run `npx tslab-dl install` and `npm start` again.',
  );
  process.exit(1);
}
const install = spawnSync(process.execPath, [path.join(root, 'bin', 'tslab-dl.js'), 'install'], { stdio: 'inherit' });
if (install.status !== 0) process.exit(install.status ?? 1);

const [command, prefix] = jupyter;
const child = spawn(command, [...prefix, `--notebook-dir=${path.join(root, 'notebooks')}`, ...process.argv.slice(2)], { stdio: 'inherit' });
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) process.on(signal, () => child.kill(signal));
child.on('exit', (code) => process.exit(code ?? 0));
