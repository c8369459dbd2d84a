#!/usr/bin/env node
// The tslab-dl command line: `npx tslab-dl <command> [args]`.
// Each command lives in its own compiled module exporting `main(argv): Promise<number>`.
'use strict';
const path = require('path');

const COMMANDS = {
  kernel: ['kernel/cli', 'start the Jupyter kernel (Jupyter runs this)'],
  install: ['kernel/cli', 'register the "TypeScript (tslab-dl)" kernel with Jupyter'],
  uninstall: ['kernel/cli', 'remove the tslab-dl kernel from Jupyter'],
  export: ['lib/export/cli', 'export a notebook as a TypeScript script'],
  import: ['lib/export/cli', 'turn a "// %%" script back into a notebook'],
  doctor: ['lib/doctor/cli', 'check backends, GPU libraries, Jupyter and the kernel'],
};

function usage() {
  const lines = Object.entries(COMMANDS).map(([name, [, help]]) => `  ${name.padEnd(10)} ${help}`);
  return `Usage: tslab-dl <command> [options]\n\nCommands:\n${lines.join('\n')}\n`;
}

async function run() {
  const [command, ...rest] = process.argv.slice(2);
  if (!command || command === '--help' || command === '-h') {
    process.stdout.write(usage());
    return command ? 0 : 1;
  }
  const entry = COMMANDS[command];
  if (!entry) {
    process.stderr.write(`tslab-dl: unknown command ${JSON.stringify(command)}.\n\n${usage()}`);
    return 2;
  }
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
