// Every command line reads its arguments by the same rules (lib/core/command-line.ts and its twin for
// what runs before the build, scripts/command-line.mjs): both helpers give the same results for the
// same words, and every command prints its usage on --help (exit 0) and refuses an unknown option,
// naming it (exit 2). The commands run in child processes: TypeScript through tsx, the .mjs scripts
// and bin/tslab-dl.js with plain node (bin/tslab-dl.js runs the build's dist/: `npm run build` first).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as typescriptHelper from '../lib/core/command-line';
import type { CommandSpec } from '../lib/core/command-line';

const ROOT = path.resolve(__dirname, '..');
const TSX_LOADER = pathToFileURL(require.resolve('tsx')).href;
const BIN = path.join(ROOT, 'bin', 'tslab-dl.js');

type Helper = typeof typescriptHelper;

async function helpers(): Promise<[string, Helper][]> {
  const script = (await import(pathToFileURL(path.join(ROOT, 'scripts', 'command-line.mjs')).href)) as Helper;
  return [
    ['lib/core/command-line.ts', typescriptHelper],
    ['scripts/command-line.mjs', script],
  ];
}

const SPEC: CommandSpec = {
  command: 'try',
  usage: 'Usage: try [options] [files]',
  positionals: true,
  options: {
    x: { type: 'string', short: 'x', description: 'a value', valueName: 'n' },
    flag: { type: 'boolean', short: 'f', description: 'a flag\non two lines' },
    quiet: { type: 'boolean', short: 'q', description: 'another flag' },
    tag: { type: 'string', multiple: true, description: 'a value that repeats', valueName: 'v' },
  },
};

/** What a helper returns for `args`, and what it writes, with process.stdout/stderr captured. */
function parse(helper: Helper, args: string[], spec: CommandSpec = SPEC) {
  const out: string[] = [];
  const err: string[] = [];
  const [stdout, stderr] = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((chunk: string) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    return { result: helper.parseCommandLine(spec, args), stdout: out.join(''), stderr: err.join('') };
  } finally {
    [process.stdout.write, process.stderr.write] = [stdout, stderr];
  }
}

const USAGE = [
  'Usage: try [options] [files]',
  '',
  'Options:',
  '  -x, --x <n>     a value',
  '  -f, --flag      a flag',
  '                  on two lines',
  '  -q, --quiet     another flag',
  '      --tag <v>   a value that repeats',
  '  -h, --help      show this help',
  '',
].join('\n');

describe('the two helpers: same words, same results', () => {
  const parsed = (values: object, positionals: string[] = []) => ({ values, positionals });
  const refused = (message: string) => ({ exit: 2, stderr: `try: ${message}.\n\n` });
  const cases: [string[], object][] = [
    [['--x=1'], parsed({ x: '1' })],
    [['--x', '1'], parsed({ x: '1' })],
    [['-x', '1'], parsed({ x: '1' })],
    [['-x1'], parsed({ x: '1' })],
    [['--x', '1', '--x', '2'], parsed({ x: '2' })],
    [['--tag', 'a', '--tag=b'], parsed({ tag: ['a', 'b'] })],
    [['-fq', 'a.txt'], parsed({ flag: true, quiet: true }, ['a.txt'])],
    [['--x', '-'], parsed({ x: '-' })],
    [['--x=-1'], parsed({ x: '-1' })],
    [['-'], parsed({}, ['-'])],
    [['--', '--x', '-h', '--nope'], parsed({}, ['--x', '-h', '--nope'])],
    [['a', '--flag', 'b'], parsed({ flag: true }, ['a', 'b'])],
    [['--x'], refused('--x needs a value')],
    [['-x'], refused('-x needs a value')],
    [['--x='], refused('--x needs a value')],
    [['--x', ''], refused('--x needs a value')],
    [['--x', '--flag'], refused('--x needs a value')],
    [['--flag=1'], refused('--flag takes no value')],
    [['--nope'], refused('unknown option "--nope"')],
    [['--nope=1'], refused('unknown option "--nope"')],
    [['-z'], refused('unknown option "-z"')],
    [['-h'], { exit: 0, stdout: USAGE }],
    [['--help'], { exit: 0, stdout: USAGE }],
    [['--nope', '--x', '--help'], { exit: 0, stdout: USAGE }],
    [['-x', '-h'], { exit: 0, stdout: USAGE }],
    [['--', '--help'], parsed({}, ['--help'])],
  ];

  for (const [args, expected] of cases) {
    test(JSON.stringify(args), async () => {
      const results = [];
      for (const [name, helper] of await helpers()) {
        const { result, stdout, stderr } = parse(helper, args);
        if ('exit' in expected) {
          const want = expected as { exit: number; stdout?: string; stderr?: string };
          assert.deepEqual(result, { exit: want.exit }, name);
          if (want.stdout !== undefined) assert.equal(stdout, want.stdout, name);
          if (want.stderr !== undefined) assert.equal(stderr, want.stderr + USAGE, name);
          if (want.exit === 2) assert.equal(stdout, '', name);
        } else {
          assert.deepEqual(result, expected, name);
          assert.equal(stdout + stderr, '', name);
        }
        results.push({ result, stdout, stderr });
      }
      assert.deepEqual(results[0], results[1]);
    });
  }

  test('a command without positionals refuses one; usageError and formatUsage agree', async () => {
    const spec: CommandSpec = { ...SPEC, positionals: false };
    for (const [name, helper] of await helpers()) {
      const { result, stderr } = parse(helper, ['--flag', 'a.txt'], spec);
      assert.deepEqual(result, { exit: 2 }, name);
      assert.equal(stderr, `try: unexpected argument "a.txt".\n\n${USAGE}`, name);
      assert.equal(helper.formatUsage(spec), USAGE, name);
      const errors: string[] = [];
      const write = process.stderr.write;
      process.stderr.write = ((chunk: string) => errors.push(String(chunk)) > 0) as typeof process.stderr.write;
      try {
        assert.equal(helper.usageError(spec, 'give a file.'), 2);
      } finally {
        process.stderr.write = write;
      }
      assert.deepEqual(errors, [`try: give a file.\n\n${USAGE}`], name);
    }
  });
});

/** How to run each command, and the usage line its --help starts with. */
const TS_COMMANDS: [string, string, RegExp][] = [
  ['export', 'lib/export/cli.ts', /^Usage:\n {2}tslab-dl export <notebook\.ipynb>/],
  ['import', 'lib/export/cli.ts', /^Usage:\n[^]*\n {2}tslab-dl import <script\.ts>/],
  ['kernel', 'kernel/cli.ts', /^Usage: tslab-dl kernel --config-path <connection file>/],
  ['install', 'kernel/cli.ts', /^Usage: tslab-dl install \[--user \| --sys-prefix \| --prefix <dir>\]/],
  ['uninstall', 'kernel/cli.ts', /^Usage: tslab-dl uninstall \[--python <python>\]/],
  ['doctor', 'lib/doctor/cli.ts', /^Usage: tslab-dl doctor \[--json\]/],
  ['prefetch', 'lib/lesson/prefetch-cli.ts', /^Usage: tslab-dl prefetch \[--to DIR\]/],
];

function runTs(module: string, args: string[]) {
  const script = 'require(process.env.TSLAB_DL_CLI).main(process.argv.slice(1)).then((code) => { process.exitCode = code; })';
  return spawnSync(process.execPath, ['--import', TSX_LOADER, '-e', script, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, TSLAB_DL_CLI: path.join(ROOT, module) },
    timeout: 60_000,
  });
}

function runNode(file: string, args: string[]) {
  return spawnSync(process.execPath, [file, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
}

function assertHelp(r: ReturnType<typeof runNode>, usage: RegExp) {
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, usage);
  assert.match(r.stdout, /\nOptions:\n(?:.*\n)* {2}-h, --help +show this help\n$/);
  assert.equal(r.stderr, '');
}

function assertRefused(r: ReturnType<typeof runNode>, command: string, option: string) {
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.ok(r.stderr.startsWith(`${command}: unknown option ${JSON.stringify(option)}.\n\nUsage:`), r.stderr);
}

/** A string option given without its value: the same wording for every command. */
function assertNeedsValue(r: ReturnType<typeof runNode>, command: string, option: string) {
  assert.equal(r.status, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.ok(r.stderr.startsWith(`${command}: ${option} needs a value.\n\nUsage:`), r.stderr);
}

/** A string option of each command that has one, for the missing-value check. */
const STRING_OPTION: Record<string, string> = {
  export: '--output',
  import: '--output',
  kernel: '--config-path',
  install: '--prefix',
  uninstall: '--python',
  prefetch: '--to',
};

describe('every command: --help prints the usage (exit 0), an unknown option is refused, named (exit 2)', () => {
  for (const [command, module, usage] of TS_COMMANDS) {
    test(`tslab-dl ${command} (${module}, through tsx)`, () => {
      assertHelp(runTs(module, [command, '--help']), usage);
      assertHelp(runTs(module, [command, '-h']), usage);
      assertRefused(runTs(module, [command, '--no-such-option']), `tslab-dl ${command}`, '--no-such-option');
      const option = STRING_OPTION[command];
      if (option) assertNeedsValue(runTs(module, [command, option]), `tslab-dl ${command}`, option);
    });
  }

  test('scripts/setup-backend.mjs', () => {
    const script = path.join(ROOT, 'scripts', 'setup-backend.mjs');
    assertHelp(runNode(script, ['--help']), /^Usage: node scripts\/setup-backend\.mjs gpu\|native\|cuda /);
    assertRefused(runNode(script, ['gpu', '--no-such-option']), 'setup-backend', '--no-such-option');
    assertNeedsValue(runNode(script, ['gpu', '--project']), 'setup-backend', '--project');
  });

  test('scripts/lesson.mjs', () => {
    const script = path.join(ROOT, 'scripts', 'lesson.mjs');
    assertHelp(runNode(script, ['--help']), /^Usage: npm run lesson -- \[options\]\n/);
    assertRefused(runNode(script, ['--no-such-option']), 'lesson', '--no-such-option');
    assertNeedsValue(runNode(script, ['--data']), 'lesson', '--data');
  });

  test('bin/tslab-dl.js itself: its --help lists the commands', () => {
    const r = runNode(BIN, ['--help']);
    assertHelp(r, /^Usage: tslab-dl <command> \[options\]\n\nCommands:\n/);
    for (const [command] of TS_COMMANDS) assert.match(r.stdout, new RegExp(`\\n {2}${command} +\\S`));
    assertRefused(runNode(BIN, ['--no-such-option', 'export']), 'tslab-dl', '--no-such-option');
    const unknown = runNode(BIN, ['frobnicate']);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /^tslab-dl: unknown command "frobnicate"\.\n\nUsage: tslab-dl <command>/);
    const none = runNode(BIN, []);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /^tslab-dl: say which command to run\.\n\nUsage: tslab-dl <command>/);
  });

  test('bin/tslab-dl.js <command> --help: each command, built, prints its own usage', (t) => {
    const built = ['lib/export/cli.js', 'kernel/cli.js', 'lib/doctor/cli.js', 'lib/lesson/prefetch-cli.js'].map((f) =>
      path.join(ROOT, 'dist', f),
    );
    const stale = built.find(
      (f) => !fs.existsSync(f) || fs.statSync(f).mtimeMs < fs.statSync(path.join(ROOT, 'lib', 'core', 'command-line.ts')).mtimeMs,
    );
    if (stale) return t.skip(`${stale} is missing or older than lib/core/command-line.ts: run \`npm run build\``);
    for (const [command, , usage] of TS_COMMANDS) {
      assertHelp(runNode(BIN, [command, '--help']), usage);
      assertRefused(runNode(BIN, [command, '--no-such-option']), `tslab-dl ${command}`, '--no-such-option');
    }
  });
});
