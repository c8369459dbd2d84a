#!/usr/bin/env node
// `npm run soak`: a fault run of the tslab-dl kernel. 200 cells through jupyter_client that throw,
// reject promises nobody awaits, throw from timers after they ended, get interrupted, print
// thousands of lines, exhaust a small heap, call process.exit(), with malformed and replayed
// messages in between (test/python/kernel_soak.py). At the end the kernel must answer with the
// variable set in cell 1, every line must have arrived, and it must never have restarted.
//
//   npm run soak                      # 200 cells on the wasm backend
//   npm run soak -- --cells 500 --seed 7 --backend cpu
//
// Builds first (the kernel runs from dist/). The kernelspec goes into a temporary prefix and
// Jupyter runs with its own config, data and runtime folders: the user's set-up is not touched.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/cjs/api';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The tests' own Jupyter sandbox (test/support/jupyter.ts), loaded through tsx.
register();
const { JUPYTER_PYTHON, jupyterMissing, jupyterSandbox } = createRequire(import.meta.url)('../test/support/jupyter.ts');

const missing = jupyterMissing(['jupyter_client', 'zmq']);
if (missing) {
  console.error(`npm run soak: ${missing}`);
  process.exit(1);
}
const build = spawnSync(
  process.execPath,
  [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json')],
  {
    stdio: 'inherit',
  },
);
if (build.status !== 0) process.exit(build.status ?? 1);

const sandbox = jupyterSandbox();
const started = Date.now();
let status = 1;
try {
  // Three minutes at most, whatever happens.
  const run = spawnSync(JUPYTER_PYTHON, [path.join(root, 'test', 'python', 'kernel_soak.py'), ...process.argv.slice(2)], {
    env: sandbox.env,
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    timeout: 180_000,
  });
  const summary = run.stdout.split('\n').find((line) => line.startsWith('SOAK '));
  if (run.signal)
    console.error(`npm run soak: the fault run was stopped (${run.signal}) after ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (summary) {
    const counts = JSON.parse(summary.slice(5));
    console.log(
      [
        `cells run            ${counts.cells} (${counts.seconds} s)`,
        `errors seen          ${counts.errors_seen} ${JSON.stringify(counts.errors_by_name)}`,
        `stray errors         ${counts.stray_errors_scheduled} scheduled, ${counts.stray_errors_shown} shown, ${counts.late_errors_reported} of them as late errors`,
        `interrupts           ${counts.interrupts}`,
        `malformed messages   ${counts.malformed_messages}`,
        `lines printed        ${counts.lines_printed}`,
        `lines received       ${counts.lines_received}`,
        `restarts             ${counts.restarts}`,
        counts.problems.length ? `problems:\n  ${counts.problems.join('\n  ')}` : 'no problems',
      ].join('\n'),
    );
  }
  status = run.status ?? 1;
} finally {
  sandbox.dispose();
}
process.exit(status);
