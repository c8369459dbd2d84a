/**
 * Registering the kernel with Jupyter: a kernelspec named `tslab-dl`
 * ("TypeScript (tslab-dl)") whose command is this checkout's node binary
 * running this checkout's bin/tslab-dl.js, never a global tslab.
 *
 * The spec is installed by Jupyter's own `jupyter kernelspec install`, run by
 * the first Jupyter found that has jupyter_client (`jupyter` on PATH, then
 * `python3 -m jupyter`, then `/usr/bin/python3 -m jupyter`, each also as
 * `-m jupyter_client.kernelspecapp`; `--python` chooses the Python), so it
 * lands where that Jupyter looks. Installing again
 * replaces it; other kernelspecs are never touched.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { KERNEL_ENVIRONMENT, KERNEL_NODE_FLAGS } from '../lib/notebook/kernel-settings';

export const KERNEL_NAME = 'tslab-dl';
export const DISPLAY_NAME = 'TypeScript (tslab-dl)';

const CHECKOUT = path.resolve(__dirname, '..', '..');
const BIN = path.join(CHECKOUT, 'bin', 'tslab-dl.js');
const LOGO = path.join(CHECKOUT, 'kernel', 'logo-svg.svg');

/** Where the kernelspec goes: the user's Jupyter folder, the Python environment's, or `<prefix>/share/jupyter`. */
export type InstallScope = { kind: 'user' } | { kind: 'sys-prefix' } | { kind: 'prefix'; prefix: string };

export interface JupyterCommand {
  command: string;
  args: string[];
}

export class JupyterNotFoundError extends Error {
  constructor(tried: JupyterCommand[]) {
    const names = tried.map(describe).join(', ');
    super(
      `Jupyter was not found (tried ${names}). Install it with \`pip install jupyterlab\` ` +
        '(or, on Debian/Ubuntu, `sudo apt-get install jupyter-notebook`), then run `npx tslab-dl install`.',
    );
    this.name = 'JupyterNotFoundError';
  }
}

export function describe(jupyter: JupyterCommand): string {
  return [jupyter.command, ...jupyter.args].join(' ');
}

/** `jupyter kernelspec` as each candidate Jupyter runs it. */
function candidates(python?: string): JupyterCommand[] {
  const viaPython = (py: string): JupyterCommand[] => [
    { command: py, args: ['-m', 'jupyter', 'kernelspec'] },
    // Debian's jupyter_client has no `jupyter-kernelspec` script; its module still runs.
    { command: py, args: ['-m', 'jupyter_client.kernelspecapp'] },
  ];
  if (python) return viaPython(python);
  return [
    { command: 'jupyter', args: ['kernelspec'] },
    ...viaPython(process.platform === 'win32' ? 'python' : 'python3'),
    ...(process.platform === 'win32' ? [] : viaPython('/usr/bin/python3')),
  ];
}

function run(jupyter: JupyterCommand, args: string[]) {
  return spawnSync(jupyter.command, [...jupyter.args, ...args], { encoding: 'utf8' });
}

/** The first Jupyter that can manage kernelspecs (has jupyter_client). */
export function findJupyter(python?: string): JupyterCommand {
  const tried = candidates(python);
  for (const jupyter of tried) {
    if (run(jupyter, ['--version']).status === 0) return jupyter;
  }
  throw new JupyterNotFoundError(tried);
}

/** The kernel.json that starts this checkout's kernel. */
export function kernelSpec(): object {
  return {
    argv: [process.execPath, ...KERNEL_NODE_FLAGS, BIN, 'kernel', '--config-path', '{connection_file}'],
    display_name: DISPLAY_NAME,
    language: 'typescript',
    // SIGINT can break a synchronous loop in a cell; an interrupt_request message cannot reach a busy event loop.
    interrupt_mode: 'signal',
    env: { ...KERNEL_ENVIRONMENT },
    metadata: { 'tslab-dl': { checkout: CHECKOUT } },
  };
}

function scopeArgs(scope: InstallScope): string[] {
  switch (scope.kind) {
    case 'user':
      return ['--user'];
    case 'sys-prefix':
      return ['--sys-prefix'];
    case 'prefix':
      return ['--prefix', path.resolve(scope.prefix)];
  }
}

/** Installs (or replaces) the kernelspec; returns the folder Jupyter put it in. */
export function installKernelSpec(jupyter: JupyterCommand, scope: InstallScope): string {
  const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-kernelspec-'));
  try {
    const specDir = path.join(staging, KERNEL_NAME);
    fs.mkdirSync(specDir);
    fs.writeFileSync(path.join(specDir, 'kernel.json'), JSON.stringify(kernelSpec(), null, 2) + '\n');
    if (fs.existsSync(LOGO)) fs.copyFileSync(LOGO, path.join(specDir, 'logo-svg.svg'));
    const result = run(jupyter, ['install', '--replace', '--name', KERNEL_NAME, ...scopeArgs(scope), specDir]);
    if (result.status !== 0) {
      throw new Error(`\`${describe(jupyter)} install\` failed (exit ${result.status}):\n${(result.stderr || result.stdout || '').trim()}`);
    }
    const installed = /Installed kernelspec \S+ in (.+)/.exec(`${result.stdout}\n${result.stderr}`);
    return installed ? installed[1].trim() : '(see `jupyter kernelspec list`)';
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/** The folders of every installed kernelspec named tslab-dl that this Jupyter sees. */
export function listedKernelSpecs(jupyter: JupyterCommand): { [name: string]: string } {
  const result = run(jupyter, ['list', '--json']);
  if (result.status !== 0) throw new Error(`\`${describe(jupyter)} list\` failed: ${(result.stderr || '').trim()}`);
  const specs = JSON.parse(result.stdout).kernelspecs as { [name: string]: { resource_dir: string } };
  return Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, spec.resource_dir]));
}

/** Removes the tslab-dl kernelspec (from every folder this Jupyter sees); returns the folders removed. */
export function uninstallKernelSpec(jupyter: JupyterCommand): string[] {
  const removed: string[] = [];
  // Jupyter removes the first one it finds: repeat until none is left (user and environment copies).
  for (let i = 0; i < 10; i++) {
    const dir = listedKernelSpecs(jupyter)[KERNEL_NAME];
    if (!dir) break;
    const result = run(jupyter, ['remove', '-f', KERNEL_NAME]);
    if (result.status !== 0) {
      throw new Error(`\`${describe(jupyter)} remove\` failed (exit ${result.status}): ${(result.stderr || '').trim()}`);
    }
    removed.push(dir);
  }
  return removed;
}
