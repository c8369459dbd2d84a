// `tslab-dl export` / `tslab-dl import` end to end: the files they write, the scripts running with
// tsx and type-checking with tsc, the same output as the notebook run by tslab, and the refusals.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = path.resolve(__dirname, '..');
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'export', 'lesson.ipynb');
const VALUES_FIXTURE = path.join(ROOT, 'test', 'fixtures', 'export', 'values.ipynb');
const PYTHON = '/usr/bin/python3';
const TSX_LOADER = pathToFileURL(require.resolve('tsx')).href;
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const TSC = path.join(ROOT, 'node_modules', '.bin', 'tsc');

/** What the fixture notebook prints, worked out by hand from its cells. */
const LESSON_OUTPUT =
  [
    'cell 1: images.npy 3', // path.basename('/data/images.npy'), [3, 1, 2].length
    'cell 3: data.npy: is missing true', // DataFileError's message is `${file}: ${message}`
    '[ 10, 20, 30 ]', // the value of cell 5: [3, 1, 2] sorted, times 10
    'cell 6: 100 4 true', // the new `numbers`: 10 + 20 + 30 + 40, four of them
    'cell 7: {"x":0,"y":0}',
    'doubled: 20 40 60 80', // the value of the last cell, from the new `numbers`
  ].join('\n') + '\n';

/** What values.ipynb shows below its cells, worked out by hand. */
const VALUES_OUTPUT =
  [
    'function', // typeof h5wasm.File, from a static import of an ES-module-only package
    // nothing for a value marked as shown by the library, nor for null
    '{ answer: 42 }',
    'string', // typeof backendInfo().backend: the backend was chosen before the first cell
    // nothing for the assignment `count = 2`
    '[ 2, 20 ]',
  ].join('\n') + '\n';

/** Why scripts importing 'tslab-dl' cannot run or type-check here, or undefined. */
function distMissing(): string | undefined {
  const index = path.join(ROOT, 'dist', 'lib', 'index.d.ts');
  return fs.existsSync(index) ? undefined : `${index} is missing: run \`npm run build\` (npm test does) so that 'tslab-dl' resolves`;
}

/** Runs the export/import command line from the sources (tsx), in `cwd`. */
function cli(cwd: string, ...args: string[]): SpawnSyncReturns<string> {
  const run = 'require(process.env.TSLAB_DL_CLI).main(process.argv.slice(1)).then((code) => { process.exitCode = code; })';
  return spawnSync(process.execPath, ['--import', TSX_LOADER, '-e', run, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, TSLAB_DL_CLI: path.join(ROOT, 'lib', 'export', 'cli.ts') },
  });
}

/** Every file under `dir`, relative, sorted. */
function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

/** A throw-away folder inside the project (under out/, git-ignored), so that 'tslab-dl' resolves from it. */
function projectTemp(name: string): string {
  fs.mkdirSync(path.join(ROOT, 'out'), { recursive: true });
  return fs.mkdtempSync(path.join(ROOT, 'out', `test-${name}-`));
}

/** Runs `tsc --noEmit` on scripts through a tsconfig that extends the project's. */
function typeCheck(dir: string, scripts: string[]): SpawnSyncReturns<string> {
  const config = {
    extends: path.relative(dir, path.join(ROOT, 'tsconfig.json')),
    compilerOptions: { noEmit: true, rootDir: ROOT },
    // `files`, not `include`: the project's tsconfig excludes out/, which holds these scripts.
    files: scripts,
    include: [],
  };
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(config, null, 2));
  return spawnSync(TSC, ['-p', path.join(dir, 'tsconfig.json')], { cwd: dir, encoding: 'utf8' });
}

describe('tslab-dl export: the script', () => {
  let dir: string;
  before(() => {
    dir = projectTemp('export');
    fs.copyFileSync(FIXTURE, path.join(dir, 'lesson.ipynb'));
    fs.copyFileSync(VALUES_FIXTURE, path.join(dir, 'values.ipynb'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('is written next to the notebook, with .ts', () => {
    const result = cli(dir, 'export', 'lesson.ipynb');
    assert.equal(result.stderr, '');
    assert.equal(result.status, 0);
    assert.equal(result.stdout, 'Wrote lesson.ts\n');
    assert.deepEqual(listFiles(dir), ['lesson.ipynb', 'lesson.ts', 'values.ipynb']);
    const script = fs.readFileSync(path.join(dir, 'lesson.ts'), 'utf8');
    assert.ok(!script.includes('Deliberately broken') && !script.includes('not a number'), 'the skip-export cell is left out');
  });

  test('runs with `npx tsx` and prints what the notebook prints', (t) => {
    const missing = distMissing();
    if (missing) return t.skip(missing);
    const run = spawnSync(TSX, ['lesson.ts'], { cwd: dir, encoding: 'utf8' });
    assert.equal(run.stderr, '');
    assert.equal(run.status, 0);
    assert.equal(run.stdout, LESSON_OUTPUT);
  });

  test('prints the same as tslab running the notebook cell by cell', (t) => {
    const missing = distMissing();
    if (missing) return t.skip(missing);
    // tslab's own converter and executor, as its kernel uses them: every code cell in order
    // (the skip-export cell fails, on stderr), a cell's last value printed with console.log.
    const runner = `
      const { createConverter } = require('tslab/dist/converter');
      const { createExecutor } = require('tslab/dist/executor');
      (async () => {
        const nb = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'));
        const converter = createConverter({ isJS: false, isBrowser: false });
        const executor = createExecutor(process.cwd(), { node: converter, browser: converter, close: () => converter.close() }, console);
        for (const cell of nb.cells) if (cell.cell_type === 'code') await executor.execute([].concat(cell.source).join(''));
        executor.close();
      })();`;
    const notebookRun = spawnSync(process.execPath, ['-e', runner, path.join(dir, 'lesson.ipynb')], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
    });
    assert.equal(notebookRun.status, 0, notebookRun.stderr);
    assert.match(notebookRun.stderr, /Type 'string' is not assignable to type 'number'/, 'the skip-export cell fails in the notebook');
    assert.equal(notebookRun.stdout, LESSON_OUTPUT);
  });

  test('shows cell values where the notebook does, loads ES-module-only packages, chooses the backend first', (t) => {
    const missing = distMissing();
    if (missing) return t.skip(missing);
    const result = cli(dir, 'export', 'values.ipynb');
    assert.equal(result.status, 0, result.stderr);
    const run = spawnSync(TSX, ['values.ts'], { cwd: dir, encoding: 'utf8' });
    assert.equal(run.stderr, '');
    assert.equal(run.status, 0);
    assert.equal(run.stdout, VALUES_OUTPUT);
  });

  test("type-checks with `tsc --noEmit` and the project's tsconfig", (t) => {
    const missing = distMissing();
    if (missing) return t.skip(missing);
    const check = typeCheck(dir, ['lesson.ts', 'values.ts']);
    assert.equal(check.stdout + check.stderr, '');
    assert.equal(check.status, 0);
  });

  test('imports back into a notebook that nbformat validates, and exports to the same script', (t) => {
    const imported = cli(dir, 'import', 'lesson.ts', '-o', 'again.ipynb');
    assert.equal(imported.stderr, '');
    assert.equal(imported.status, 0);
    assert.equal(imported.stdout, 'Wrote again.ipynb\n');
    const again = cli(dir, 'export', 'again.ipynb', '--output=again.ts');
    assert.equal(again.status, 0, again.stderr);
    assert.equal(fs.readFileSync(path.join(dir, 'again.ts'), 'utf8'), fs.readFileSync(path.join(dir, 'lesson.ts'), 'utf8'));

    const probe = spawnSync(PYTHON, ['-c', 'import nbformat'], { encoding: 'utf8' });
    if (probe.status !== 0) return t.skip(`${PYTHON} cannot import nbformat (apt-get install python3-nbformat): not validated`);
    const validate =
      'import sys, nbformat; nb = nbformat.read(sys.argv[1], as_version=4); nbformat.validate(nb); print(nb.metadata.kernelspec.name, len(nb.cells))';
    const result = spawnSync(PYTHON, ['-c', validate, 'again.ipynb'], { cwd: dir, encoding: 'utf8' });
    assert.equal(result.stderr, '');
    assert.equal(result.stdout, 'tslab-dl 9\n');
  });

  test('`-o -` writes the script to standard output', () => {
    const result = cli(dir, 'export', 'lesson.ipynb', '-o', '-');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, fs.readFileSync(path.join(dir, 'lesson.ts'), 'utf8'));
  });
});

describe('tslab-dl export and import: refusals write nothing', () => {
  let dir: string;
  before(() => {
    dir = projectTemp('refusals');
    fs.copyFileSync(FIXTURE, path.join(dir, 'lesson.ipynb'));
    fs.writeFileSync(path.join(dir, 'broken.ipynb'), '{"cells": [');
    fs.writeFileSync(path.join(dir, 'old.ipynb'), JSON.stringify({ nbformat: 3, nbformat_minor: 0, metadata: {}, worksheets: [] }));
    const nb = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));
    nb.cells.splice(3, 0, {
      cell_type: 'code',
      metadata: {},
      outputs: [],
      execution_count: null,
      source: ['import numpy as np\n', 'x = np.zeros(3)\n'],
    });
    fs.writeFileSync(path.join(dir, 'pasted.ipynb'), JSON.stringify(nb));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function refused(args: string[], message: RegExp): void {
    const before = listFiles(dir);
    const result = cli(dir, ...args);
    assert.equal(result.status, 1, `exit status of ${args.join(' ')}: ${result.stderr}`);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, message);
    assert.deepEqual(listFiles(dir), before, 'no file was written or left behind');
  }

  test('a notebook that is not JSON', () => {
    refused(['export', 'broken.ipynb'], /^tslab-dl export: broken\.ipynb: is not valid JSON \(.+\), so it is not a Jupyter notebook\./);
  });

  test('a notebook that is not nbformat 4', () => {
    refused(['export', 'old.ipynb'], /^tslab-dl export: old\.ipynb: is not an nbformat 4 notebook \("nbformat": 3\)/);
  });

  test('a notebook with a Python cell, named with its first line', () => {
    refused(
      ['export', 'pasted.ipynb'],
      /^tslab-dl export: pasted\.ipynb: cell 4 looks like Python, not TypeScript \(first line: `import numpy as np`\)/,
    );
  });

  test('a notebook that does not exist', () => {
    refused(['export', 'missing.ipynb'], /^tslab-dl export: missing\.ipynb: does not exist\./);
  });

  test('an output that exists, unless --force', () => {
    fs.writeFileSync(path.join(dir, 'lesson.ts'), 'keep me\n');
    refused(['export', 'lesson.ipynb'], /^tslab-dl export: lesson\.ts already exists: run again with --force to overwrite it/);
    assert.equal(fs.readFileSync(path.join(dir, 'lesson.ts'), 'utf8'), 'keep me\n');
    refused(['import', 'lesson.ts', '-o', 'lesson.ipynb'], /^tslab-dl import: lesson\.ipynb already exists: run again with --force/);

    const forced = cli(dir, 'export', 'lesson.ipynb', '--force');
    assert.equal(forced.status, 0, forced.stderr);
    assert.match(fs.readFileSync(path.join(dir, 'lesson.ts'), 'utf8'), /^\/\/ A TypeScript script exported from a Jupyter notebook/);
    fs.rmSync(path.join(dir, 'lesson.ts'));
  });

  test('a notebook given to import', () => {
    refused(['import', 'lesson.ipynb', '-o', 'x.ipynb'], /^tslab-dl import: lesson\.ipynb: is a notebook, not a script/);
  });

  test("-o with a folder writes into it, under the input's name", () => {
    const result = cli(dir, 'export', 'lesson.ipynb', '--force', '-o', 'scripts/');
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, `Wrote ${path.join('scripts', 'lesson.ts')}\n`);
    const back = cli(dir, 'import', path.join('scripts', 'lesson.ts'), '-o', 'scripts');
    assert.equal(back.status, 0, back.stderr);
    assert.equal(back.stdout, `Wrote ${path.join('scripts', 'lesson.ipynb')}\n`);
    fs.rmSync(path.join(dir, 'scripts'), { recursive: true });
  });

  test('usage mistakes exit with 2 and the usage', () => {
    for (const args of [
      ['export'],
      ['export', 'a.ipynb', 'b.ipynb'],
      ['import', '--all'],
      ['export', '--frobnicate', 'a.ipynb'],
      ['export', 'a.ipynb', '-o'],
    ]) {
      const result = cli(dir, ...args);
      assert.equal(result.status, 2, args.join(' '));
      assert.match(result.stderr, /Usage:\n {2}tslab-dl export <notebook\.ipynb>/);
    }
  });
});

describe('tslab-dl export --all', () => {
  let dir: string;
  before(() => {
    dir = projectTemp('all');
    fs.mkdirSync(path.join(dir, 'notebooks', 'more', '.ipynb_checkpoints'), { recursive: true });
    fs.copyFileSync(FIXTURE, path.join(dir, 'notebooks', 'lesson.ipynb'));
    fs.copyFileSync(FIXTURE, path.join(dir, 'notebooks', 'more', 'second.ipynb'));
    fs.copyFileSync(FIXTURE, path.join(dir, 'notebooks', 'more', '.ipynb_checkpoints', 'second-checkpoint.ipynb'));
    // A notebook importing a .ts file of the project by a relative path.
    fs.mkdirSync(path.join(dir, 'lib'));
    fs.writeFileSync(path.join(dir, 'lib', 'helper.ts'), "export const greeting: string = 'hello from lib/helper.ts';\n");
    const cell = {
      cell_type: 'code',
      metadata: {},
      outputs: [],
      execution_count: null,
      source: "import { greeting } from '../../lib/helper';\nconsole.log(greeting);",
    };
    fs.writeFileSync(
      path.join(dir, 'notebooks', 'more', 'relative.ipynb'),
      JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [cell] }),
    );
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('exports every notebook under notebooks/ into out/scripts/, keeping sub-folders, skipping checkpoints', () => {
    const result = cli(dir, 'export', '--all');
    assert.equal(result.status, 0, result.stderr);
    const written = [
      path.join('scripts', 'lesson.ts'),
      path.join('scripts', 'more', 'relative.ts'),
      path.join('scripts', 'more', 'second.ts'),
    ];
    assert.equal(result.stdout, written.map((file) => `Wrote ${path.join('out', file)}\n`).join(''));
    assert.deepEqual(listFiles(path.join(dir, 'out')), written);
  });

  test("rewrites relative imports for the script's folder, so the script runs from there", () => {
    const script = fs.readFileSync(path.join(dir, 'out', 'scripts', 'more', 'relative.ts'), 'utf8');
    assert.match(script, /^import \{ greeting \} from '\.\.\/\.\.\/\.\.\/lib\/helper';$/m);
    const run = spawnSync(TSX, [path.join('out', 'scripts', 'more', 'relative.ts')], { cwd: dir, encoding: 'utf8' });
    assert.equal(run.stderr, '');
    assert.equal(run.stdout, 'hello from lib/helper.ts\n');
  });

  test('writes nothing at all when one notebook cannot be exported', () => {
    fs.writeFileSync(path.join(dir, 'notebooks', 'more', 'zz-broken.ipynb'), 'not json');
    try {
      const result = cli(dir, 'export', '--all', '-o', 'scripts');
      assert.equal(result.status, 1);
      assert.match(result.stderr, /^tslab-dl export: notebooks\/more\/zz-broken\.ipynb: is not valid JSON/);
      assert.ok(!fs.existsSync(path.join(dir, 'scripts')), 'the output folder was not even created');
    } finally {
      fs.rmSync(path.join(dir, 'notebooks', 'more', 'zz-broken.ipynb'));
    }
  });

  test("the project's own notebooks export and type-check", (t) => {
    const missing = distMissing();
    if (missing) return t.skip(missing);
    const out = path.join(dir, 'project-scripts');
    const result = cli(ROOT, 'export', '--all', '-o', out);
    if (result.status !== 0 && /found no \.ipynb file/.test(result.stderr)) return t.skip('no notebook in notebooks/ yet');
    assert.equal(result.status, 0, result.stderr);
    const scripts = listFiles(out);
    const check = typeCheck(out, scripts);
    const output = check.stdout + check.stderr;
    // Lesson notebooks may be written ahead of the library: say which names are still missing.
    const notExported = [...output.matchAll(/has no exported member named '(\w+)'|has no exported member '(\w+)'/g)].map(
      (m) => m[1] ?? m[2],
    );
    if (notExported.length > 0)
      return t.skip(`tslab-dl does not export ${[...new Set(notExported)].join(', ')} yet, so the notebooks cannot type-check`);
    assert.equal(output, '');
    assert.equal(check.status, 0);
  });
});

describe('Jupyter and the command dispatcher', () => {
  test("`jupyter nbconvert --to script` writes a .ts file, from the notebook's language_info", (t) => {
    const probe = spawnSync(PYTHON, ['-m', 'nbconvert', '--version'], { encoding: 'utf8' });
    if (probe.status !== 0) return t.skip(`${PYTHON} -m nbconvert is not available (apt-get install python3-nbconvert)`);
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'tslab-dl-nbconvert-'));
    try {
      const result = spawnSync(PYTHON, ['-m', 'nbconvert', '--to', 'script', '--output-dir', dir, FIXTURE], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(fs.readdirSync(dir), ['lesson.ts']);
      assert.match(fs.readFileSync(path.join(dir, 'lesson.ts'), 'utf8'), /const doubled = await Promise\.all/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('bin/tslab-dl.js dispatches export and import to the built command', (t) => {
    const built = path.join(ROOT, 'dist', 'lib', 'export', 'cli.js');
    if (!fs.existsSync(built)) return t.skip(`${built} is missing: run \`npm run build\``);
    for (const command of ['export', 'import']) {
      const result = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'tslab-dl.js'), command, '--help'], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /tslab-dl import <script\.ts> \[-o <notebook\.ipynb>\] \[--force\]/);
    }
  });
});
