#!/usr/bin/env node
// The tslab-dl command line: `npx tslab-dl <command> [args]`.
// Each command lives in its own compiled module exporting `main(argv): Promise<number>`, which
// reads its own options (`tslab-dl <command> --help` shows them).
'use strict';
const path = require('path');

const COMMANDS = {
  kernel: ['kernel/cli', 'start the Jupyter kernel (Jupyter runs this)'],
  install: ['kernel/cli', 'register the "TypeScript (tslab-dl)" kernel with Jupyter'],
  uninstall: ['kernel/cli', 'remove the tslab-dl kernel from Jupyter'],
  export: ['lib/export/cli', 'export a notebook as a TypeScript script'],
  import: ['lib/export/cli', 'turn a "// %%" script back into a notebook'],
  doctor: ['lib/doctor/cli', 'check backends, GPU libraries, Jupyter and the kernel'],
  prefetch: ['lib/lesson/prefetch-cli', 'fill the shared cache for a workshop: weights, data, features'],
};

const SPEC = {
  command: 'tslab-dl',
  usage:
    'Usage: tslab-dl <command> [options]\n\nCommands:\n' +
    Object.entries(COMMANDS)
      .map(([name, [, help]]) => `  ${name.padEnd(10)} ${help}`)
      .join('\n') +
    '\n\n`tslab-dl <command> --help` shows the options of a command.',
  options: {},
};

async function run() {
  // The options before the command are the dispatcher's (only --help); the rest are the command's.
  // The rules are those of every command (scripts/command-line.mjs: this file runs before the build too).
  const { parseCommandLine, usageError } = await import('../scripts/command-line.mjs');
  const argv = process.argv.slice(2);
  const at = argv.findIndex((arg) => !arg.startsWith('-') || arg === '-');
  const line = parseCommandLine(SPEC, at < 0 ? argv : argv.slice(0, at));
  if (line.exit !== undefined) return line.exit;
  if (at < 0) return usageError(SPEC, 'say which command to run');
  const [command, ...rest] = argv.slice(at);
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!entry) return usageError(SPEC, `unknown command ${JSON.stringify(command)}`);
  const modulePath = path.join(__dirname, '..', 'dist', entry[0]);
  let module;
  try {
    module = require(modulePath);
  } catch (e) {
    if (e && e.code === 'MODULE_NOT_FOUND' && String(e.message).includes(modulePath)) {
      process.stderr.write(`tslab-dl: ${modulePath}.js is missing: run \`npm run build\` in ${path.join(__dirname, '..')} first.\n`);
      return 1;
    }
    throw e;
  }
  return module.main([command, ...rest]);
}

run().then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`tslab-dl: ${e && e.stack ? e.stack : e}\n`);
    process.exitCode = 1;
  },
);
