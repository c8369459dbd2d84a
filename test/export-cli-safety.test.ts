// `tslab-dl export` / `import` never crash and never destroy the user's file: any output name,
// output = input refused even with --force, scripts with syntax errors refused unless --force,
// file-system errors as one line naming the file, exit 2 for argument mistakes and 1 for failures,
// nothing half-written. Run through the command line, as test/export-cli.test.ts does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = path.resolve(__dirname, '..');
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'export', 'lesson.ipynb');
const TSX_LOADER = pathToFileURL(require.resolve('tsx')).href;
/** The command's module; TSLAB_DL_EXPORT_CLI runs these tests against another copy (an older one, to see them fail). */
const CLI_MODULE = process.env.TSLAB_DL_EXPORT_CLI ?? path.join(ROOT, 'lib', 'export', 'cli.ts');

/** What the fixture prints when run (see test/export-cli.test.ts for where each line comes from). */
const LESSON_OUTPUT =
  [
    'cell 1: images.npy 3',
    'cell 3: data.npy: is missing true',
    '[ 10, 20, 30 ]',
    'cell 6: 100 4 true',
    'cell 7: {"x":0,"y":0}',
    'doubled: 20 40 60 80',
  ].join('\n') + '\n';

/**
 * Loaded before the command (node --require): makes one fs call fail as a full disk, a read-only
 * folder or a file without read permission would, for paths that contain a marker. The tests run
 * as root here, which chmod does not stop, so the failures are made this way. ENOSPC writes half
 * the text first, as a disk that fills up does, so that a half-written file would show.
 */
const FAULT_PRELOAD = `
const fs = require('fs');
const fault = JSON.parse(process.env.TSLAB_DL_TEST_FAULT);
const original = fs[fault.call];
fs[fault.call] = function (file, ...rest) {
  if (!String(file).includes(fault.marker)) return original.call(this, file, ...rest);
  if (fault.code === 'ENOSPC') {
    original.call(this, file, String(rest[0]).slice(0, 100), ...rest.slice(1));
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { errno: -28, code: 'ENOSPC', syscall: 'write' });
  }
  const syscall = fault.call === 'mkdirSync' ? 'mkdir' : 'open';
  throw Object.assign(new Error(fault.code + ': injected, ' + syscall + " '" + file + "'"), { errno: -13, code: fault.code, syscall, path: String(file) });
};
`;

interface Fault {
  call: 'readFileSync' | 'writeFileSync' | 'mkdirSync';
  code: string;
  marker: string;
}

let preload: string;

/** Runs `tslab-dl <args>` from the sources (tsx) in `cwd`, with an fs fault when given. */
function cli(cwd: string, args: string[], fault?: Fault): SpawnSyncReturns<string> {
  const run = 'require(process.env.TSLAB_DL_CLI).main(process.argv.slice(1)).then((code) => { process.exitCode = code; })';
  const node = ['--import', TSX_LOADER, ...(fault ? ['--require', preload] : []), '-e', run, ...args];
  return spawnSync(process.execPath, node, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, TSLAB_DL_CLI: CLI_MODULE, ...(fault ? { TSLAB_DL_TEST_FAULT: JSON.stringify(fault) } : {}) },
  });
}

/** The command exited with `code`, wrote nothing on stdout and one line on stderr, matching `message`, with no stack trace. */
function failsWithOneLine(result: SpawnSyncReturns<string>, code: number, message: RegExp): void {
  assert.equal(result.status, code, `exit status; stderr: ${result.stderr}`);
  assert.equal(result.stdout, '');
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(result.stderr.split('\n').length, 2, `one line: ${result.stderr}`);
  assert.match(result.stderr, message);
}

/** Every file under `dir` with its content, for "nothing changed". */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of (fs.readdirSync(dir, { recursive: true }) as string[]).sort()) {
    const full = path.join(dir, name);
    const stat = fs.lstatSync(full);
    files.set(
      name,
      stat.isSymbolicLink() ? `-> ${fs.readlinkSync(full)}` : stat.isDirectory() ? '<folder>' : fs.readFileSync(full, 'utf8'),
    );
  }
  return files;
}

/** Why scripts importing 'tslab-dl' cannot run here, or undefined. */
function distMissing(): string | undefined {
  const index = path.join(ROOT, 'dist', 'lib', 'index.js');
  return fs.existsSync(index) ? undefined : `${index} is missing: run \`npm run build\` so that 'tslab-dl' resolves`;
}

/** A throw-away folder inside the project (under out/, git-ignored), so that 'tslab-dl' resolves from it. */
function projectTemp(name: string): string {
  fs.mkdirSync(path.join(ROOT, 'out'), { recursive: true });
  return fs.mkdtempSync(path.join(ROOT, 'out', `test-${name}-`));
}

let dir: string;
/** The script export writes for the fixture, made once. */
let lessonScript: string;

before(() => {
  dir = projectTemp('safety');
  preload = path.join(dir, 'fault-preload.cjs');
  fs.writeFileSync(preload, FAULT_PRELOAD);
  fs.copyFileSync(FIXTURE, path.join(dir, 'lesson.ipynb'));
  const exported = cli(dir, ['export', 'lesson.ipynb', '-o', '-']);
  assert.equal(exported.status, 0, exported.stderr);
  lessonScript = exported.stdout;
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A fresh folder inside `dir` with the fixture notebook and its script. */
function workFolder(name: string): string {
  const work = path.join(dir, name);
  fs.mkdirSync(work);
  fs.copyFileSync(FIXTURE, path.join(work, 'lesson.ipynb'));
  fs.writeFileSync(path.join(work, 'lesson.ts'), lessonScript);
  return work;
}

describe('export -o: any file name', () => {
  test('a .js name gets JavaScript that node runs, and a note saying so', (t) => {
    const work = workFolder('js');
    const result = cli(work, ['export', 'lesson.ipynb', '-o', 'lesson.js']);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, 'Wrote lesson.js\n');
    assert.equal(
      result.stderr,
      'tslab-dl export: note: lesson.js is JavaScript compiled from the exported TypeScript: run it with `node lesson.js`. ' +
        'Export to a .ts name for a script that `tslab-dl import` turns back into the notebook.\n',
    );
    const script = fs.readFileSync(path.join(work, 'lesson.js'), 'utf8');
    assert.match(script, /^\/\/ A JavaScript script compiled from a Jupyter notebook/);
    assert.doesNotMatch(script, /Promise<void>|: number/, 'no TypeScript syntax left');
    const missing = distMissing();
    if (missing) return t.skip(missing);
    const run = spawnSync(process.execPath, ['lesson.js'], { cwd: work, encoding: 'utf8' });
    assert.equal(run.stderr, '');
    assert.equal(run.stdout, LESSON_OUTPUT);
  });

  test('a .mjs name gets an ES module that node runs', (t) => {
    const work = workFolder('mjs');
    const result = cli(work, ['export', 'lesson.ipynb', '-o', 'lesson.mjs']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stderr, /^tslab-dl export: note: lesson\.mjs is JavaScript compiled from the exported TypeScript/);
    assert.match(fs.readFileSync(path.join(work, 'lesson.mjs'), 'utf8'), /^import .* from 'tslab-dl';$/m);
    const missing = distMissing();
    if (missing) return t.skip(missing);
    const run = spawnSync(process.execPath, ['lesson.mjs'], { cwd: work, encoding: 'utf8' });
    assert.equal(run.stderr, '');
    assert.equal(run.stdout, LESSON_OUTPUT);
  });

  test('another name gets the TypeScript script, and a note on how to run it', () => {
    const work = workFolder('other');
    for (const [name, rename] of [
      ['lesson', 'lesson.ts'],
      ['lesson.txt', 'lesson.ts'],
      ['lesson.d.ts', 'lesson.ts'],
    ]) {
      const result = cli(work, ['export', 'lesson.ipynb', '-o', name]);
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, `Wrote ${name}\n`);
      assert.equal(
        result.stderr,
        `tslab-dl export: note: ${name} holds a TypeScript script, but tsx runs TypeScript only from a .ts, .mts or .cts name: ` +
          `rename it to ${rename} to run it with \`npx tsx\`.\n`,
      );
      assert.equal(fs.readFileSync(path.join(work, name), 'utf8'), lessonScript);
    }
  });

  test('a folder where the file would go is refused with one line (exit 2)', () => {
    const work = workFolder('folder');
    fs.mkdirSync(path.join(work, 'scripts', 'lesson.ts'), { recursive: true });
    const before = snapshot(work);
    failsWithOneLine(
      cli(work, ['export', 'lesson.ipynb', '-o', 'scripts']),
      2,
      /^tslab-dl export: -o scripts: scripts\/lesson\.ts is a folder: give a file name for the script with -o\.$/m,
    );
    assert.deepEqual(snapshot(work), before);
  });

  test("a notebook's name for a script, or a script's name for a notebook, is refused (exit 2)", () => {
    const work = workFolder('crossed');
    fs.writeFileSync(path.join(work, 'other.ipynb'), '{"keep": "me"}');
    const before = snapshot(work);
    failsWithOneLine(
      cli(work, ['export', 'lesson.ipynb', '-o', 'other.ipynb', '--force']),
      2,
      /^tslab-dl export: -o other\.ipynb names a notebook, but export writes a script: pass -o other\.ts/,
    );
    failsWithOneLine(
      cli(work, ['import', 'lesson.ts', '-o', 'other.js']),
      2,
      /^tslab-dl import: -o other\.js names a script, but import writes a notebook: pass -o other\.ipynb/,
    );
    assert.deepEqual(snapshot(work), before);
  });

  test('--all with -o naming a file is refused (exit 2)', () => {
    const work = workFolder('all-file');
    fs.mkdirSync(path.join(work, 'notebooks'));
    fs.copyFileSync(FIXTURE, path.join(work, 'notebooks', 'lesson.ipynb'));
    failsWithOneLine(
      cli(work, ['export', '--all', '-o', 'lesson.ts']),
      2,
      /^tslab-dl export: --all writes one script per notebook into a folder, but -o lesson\.ts is a file: give a folder/,
    );
  });
});

describe('the output is never the input, even with --force', () => {
  test('export -o <the notebook>, as written, with ./, through a symbolic link', () => {
    const work = workFolder('same-export');
    fs.symlinkSync('lesson.ipynb', path.join(work, 'link.ipynb'));
    const before = snapshot(work);
    failsWithOneLine(
      cli(work, ['export', 'lesson.ipynb', '-o', 'lesson.ipynb', '--force']),
      2,
      /^tslab-dl export: -o lesson\.ipynb is the notebook being exported: writing the script there would destroy the notebook, even with --force\. Pass -o lesson\.ts instead\.$/m,
    );
    for (const output of ['./lesson.ipynb', 'link.ipynb', path.join(work, 'lesson.ipynb')]) {
      failsWithOneLine(
        cli(work, ['export', 'lesson.ipynb', '-o', output, '--force']),
        2,
        new RegExp(
          `^tslab-dl export: -o ${output.replace(/[.]/g, '\\.')} is the same file as lesson\\.ipynb, the notebook being exported: .* Pass -o lesson\\.ts instead\\.$`,
          'm',
        ),
      );
    }
    assert.deepEqual(snapshot(work), before, 'the notebook is untouched');
  });

  test('import -o <the script>, as written, through ../, a symbolic link, a hard link', () => {
    const work = workFolder('same-import');
    fs.symlinkSync('lesson.ts', path.join(work, 'link.ts'));
    fs.linkSync(path.join(work, 'lesson.ts'), path.join(work, 'hard.ipynb'));
    const before = snapshot(work);
    failsWithOneLine(
      cli(work, ['import', 'lesson.ts', '-o', 'lesson.ts', '--force']),
      2,
      /^tslab-dl import: -o lesson\.ts is the script being imported: writing the notebook there would destroy the script, even with --force\. Pass -o lesson\.ipynb instead\.$/m,
    );
    for (const output of [path.join('..', 'same-import', 'lesson.ts'), 'link.ts', 'hard.ipynb']) {
      const result = cli(work, ['import', 'lesson.ts', '-o', output, '--force']);
      failsWithOneLine(
        result,
        2,
        /^tslab-dl import: -o .* is the same file as lesson\.ts, the script being imported: .* Pass -o lesson\.ipynb instead\.$/m,
      );
    }
    assert.deepEqual(snapshot(work), before, 'the script is untouched');
  });

  test('a script given to export (or a notebook to import) is pointed the other way', () => {
    const work = workFolder('other-way');
    failsWithOneLine(
      cli(work, ['export', 'lesson.ts', '--force']),
      2,
      /^tslab-dl export: lesson\.ts is already a script \(\.ts\): export takes a notebook; `tslab-dl import lesson\.ts` goes the other way\.$/m,
    );
    failsWithOneLine(
      cli(work, ['import', 'lesson.ipynb', '--force']),
      2,
      /^tslab-dl import: lesson\.ipynb is already a notebook \(\.ipynb\): import takes a script; `tslab-dl export lesson\.ipynb` goes the other way\.$/m,
    );
    assert.equal(fs.readFileSync(path.join(work, 'lesson.ts'), 'utf8'), lessonScript);
  });
});

describe('import: syntax errors', () => {
  const BROKEN = ['// %%', 'const a = ;', 'console.log(a);', '', '// %%', 'let b = (1, 2', 'console.log(b);', ''].join('\n');

  test("are reported at file:line:column with the parser's message, and nothing is written (exit 1)", () => {
    const work = workFolder('syntax');
    fs.writeFileSync(path.join(work, 'broken.ts'), BROKEN);
    const before = snapshot(work);
    const result = cli(work, ['import', 'broken.ts']);
    assert.equal(result.status, 1, result.stderr);
    assert.equal(result.stdout, '');
    assert.equal(
      result.stderr,
      [
        'tslab-dl import: broken.ts:2:11: Expression expected.',
        "tslab-dl import: broken.ts:7:1: ')' expected.",
        'tslab-dl import: broken.ts: has 2 syntax errors: fix them and import again, or run again with --force to import the script as it is.',
        '',
      ].join('\n'),
    );
    assert.deepEqual(snapshot(work), before);
  });

  test('--force imports the script anyway, with a warning', () => {
    const work = workFolder('syntax-force');
    fs.writeFileSync(path.join(work, 'broken.ts'), BROKEN);
    const result = cli(work, ['import', 'broken.ts', '--force']);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, 'Wrote broken.ipynb\n');
    assert.equal(
      result.stderr,
      [
        'tslab-dl import: warning: broken.ts:2:11: Expression expected.',
        "tslab-dl import: warning: broken.ts:7:1: ')' expected.",
        "tslab-dl import: warning: broken.ts has 2 syntax errors; imported anyway (--force): the notebook's cells hold the same errors.",
        '',
      ].join('\n'),
    );
    const notebook = JSON.parse(fs.readFileSync(path.join(work, 'broken.ipynb'), 'utf8'));
    assert.deepEqual(
      notebook.cells.map((cell: { source: string[] }) => cell.source.join('')),
      ['const a = ;\nconsole.log(a);', 'let b = (1, 2\nconsole.log(b);'],
    );
  });

  test('past ten errors, the rest are counted', () => {
    const work = workFolder('syntax-many');
    fs.writeFileSync(path.join(work, 'many.ts'), Array.from({ length: 12 }, (_, i) => `const v${i} = ;`).join('\n') + '\n');
    const result = cli(work, ['import', 'many.ts']);
    assert.equal(result.status, 1);
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 12);
    assert.equal(lines[9], 'tslab-dl import: many.ts:10:12: Expression expected.');
    assert.equal(lines[10], 'tslab-dl import: many.ts: ... and 2 more syntax errors');
    assert.match(lines[11], /^tslab-dl import: many\.ts: has 12 syntax errors: /);
  });
});

describe('file-system errors: one line naming the file, exit 1, nothing half-written', () => {
  test('an input that does not exist, or is a folder', () => {
    const work = workFolder('inputs');
    fs.mkdirSync(path.join(work, 'folder.ts'));
    failsWithOneLine(cli(work, ['import', 'missing.ts']), 1, /^tslab-dl import: missing\.ts: does not exist\. Check the path/);
    failsWithOneLine(
      cli(work, ['import', 'folder.ts']),
      1,
      /^tslab-dl import: folder\.ts: is a folder, not a file: give the file itself\.$/m,
    );
    failsWithOneLine(cli(work, ['export', 'nowhere/lesson.ipynb']), 1, /^tslab-dl export: nowhere\/lesson\.ipynb: does not exist\./);
  });

  test('an input that cannot be read (permission denied)', () => {
    const work = workFolder('unreadable');
    const result = cli(work, ['import', 'lesson.ts', '-o', 'out.ipynb'], { call: 'readFileSync', code: 'EACCES', marker: 'lesson.ts' });
    failsWithOneLine(
      result,
      1,
      /^tslab-dl import: lesson\.ts: cannot be read: permission denied\. Check its permissions \(`ls -l lesson\.ts`\)/,
    );
    assert.ok(!fs.existsSync(path.join(work, 'out.ipynb')));
  });

  test('an output folder that is missing is made; a file in the way is named', () => {
    const work = workFolder('folders');
    const made = cli(work, ['export', 'lesson.ipynb', '-o', path.join('new', 'sub', 'lesson.ts')]);
    assert.equal(made.status, 0, made.stderr);
    assert.equal(fs.readFileSync(path.join(work, 'new', 'sub', 'lesson.ts'), 'utf8'), lessonScript);
    const before = snapshot(work);
    failsWithOneLine(
      cli(work, ['export', 'lesson.ipynb', '-o', path.join('lesson.ts', 'x.ts')]),
      1,
      /^tslab-dl export: lesson\.ts\/x\.ts: cannot be written: lesson\.ts is a file, not a folder\. Choose another path with -o\. Nothing was written\.$/m,
    );
    assert.deepEqual(snapshot(work), before);
  });

  test('a folder where the output cannot be written (permission denied, read-only)', () => {
    const work = workFolder('read-only');
    const before = snapshot(work);
    failsWithOneLine(
      cli(work, ['export', 'lesson.ipynb', '-o', path.join('locked', 'lesson.ts')], {
        call: 'mkdirSync',
        code: 'EACCES',
        marker: 'locked',
      }),
      1,
      /^tslab-dl export: locked\/lesson\.ts: cannot be written: permission denied in locked\/\. Choose a folder you can write to with -o/,
    );
    failsWithOneLine(
      cli(work, ['import', 'lesson.ts', '-o', 'back.ipynb'], { call: 'writeFileSync', code: 'EROFS', marker: 'back.ipynb' }),
      1,
      /^tslab-dl import: back\.ipynb: cannot be written: the current folder is on a read-only file system\. Choose another folder with -o\. Nothing was written\.$/m,
    );
    assert.deepEqual(snapshot(work), before, 'nothing written, no folder made, no temporary file left');
  });

  test('a full disk (ENOSPC) leaves the old file whole and no temporary file', () => {
    const work = workFolder('full');
    fs.writeFileSync(path.join(work, 'lesson.ts'), 'keep me\n');
    fs.mkdirSync(path.join(work, 'scripts'));
    const before = snapshot(work);
    failsWithOneLine(
      cli(work, ['export', 'lesson.ipynb', '--force'], { call: 'writeFileSync', code: 'ENOSPC', marker: 'lesson.ts' }),
      1,
      /^tslab-dl export: lesson\.ts: cannot be written: no space left on the device that holds the current folder\. Free some space, or choose another folder with -o\. Nothing was written\.$/m,
    );
    failsWithOneLine(
      cli(work, ['export', 'lesson.ipynb', '-o', 'scripts/'], { call: 'writeFileSync', code: 'ENOSPC', marker: 'lesson.ts' }),
      1,
      /^tslab-dl export: scripts\/lesson\.ts: cannot be written: no space left on the device that holds scripts\//,
    );
    assert.deepEqual(snapshot(work), before, 'the old script is whole, the half-written temporary file is gone');
  });
});

describe('through bin/tslab-dl.js (the built command)', () => {
  test('export -o x.js and the input as output do not crash', (t) => {
    const built = path.join(ROOT, 'dist', 'lib', 'export', 'script-name.js');
    if (!fs.existsSync(built)) return t.skip(`${built} is missing: run \`npm run build\``);
    const work = workFolder('bin');
    const bin = (...args: string[]) =>
      spawnSync(process.execPath, [path.join(ROOT, 'bin', 'tslab-dl.js'), ...args], { cwd: work, encoding: 'utf8' });
    const js = bin('export', 'lesson.ipynb', '-o', 'lesson.js');
    assert.equal(js.status, 0, js.stderr);
    assert.equal(js.stdout, 'Wrote lesson.js\n');
    failsWithOneLine(
      bin('import', 'lesson.ts', '-o', './lesson.ts', '--force'),
      2,
      /^tslab-dl import: -o \.\/lesson\.ts is the same file as lesson\.ts/,
    );
    assert.equal(fs.readFileSync(path.join(work, 'lesson.ts'), 'utf8'), lessonScript);
  });
});
