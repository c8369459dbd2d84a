// The lesson notebook as a script (the check of `tslab-dl export`): exported, run with tsx on a small synthetic
// set, it runs to the end and prints the same final line as the notebook run through the kernel.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { closedUrl } from './support/closed-url';

const ROOT = path.resolve(__dirname, '..');
const LESSON = path.join(ROOT, 'notebooks', '01-transfer-learning.ipynb');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
/** Small enough for CI: 60 training and 20 validation images, 3 epochs, no ImageNet weights. */
const SAMPLES = '60';
const EPOCHS = '3';

function missing(): string | undefined {
  if (!fs.existsSync(LESSON)) return `${LESSON} does not exist yet`;
  const index = path.join(ROOT, 'dist', 'lib', 'index.js');
  if (!fs.existsSync(index)) return `${index} is missing: run \`npm run build\` (npm test does)`;
  return undefined;
}

function finalLine(output: string): string | undefined {
  return output
    .split('\n')
    .filter((line) => line.startsWith('Final validation accuracy'))
    .pop();
}

describe('the lesson notebook, exported', { timeout: 900_000 }, () => {
  let work: string;
  let script: SpawnSyncReturns<string> | undefined;
  const dataFolder = () => path.join(work, 'data', 'dataset_dollarstreet');

  let offline: NodeJS.ProcessEnv = {};
  before(async () => {
    if (missing()) return;
    // Downloads refused at once: the lesson runs on the synthetic twin whatever the network.
    const closed = await closedUrl();
    offline = { TSLAB_DL_ZENODO_URL: closed, TSLAB_DL_WEIGHTS_BASE_URL: `${closed}/` };
    fs.mkdirSync(path.join(ROOT, 'out'), { recursive: true });
    work = fs.mkdtempSync(path.join(ROOT, 'out', 'test-export-lesson-'));
    const exported = spawnSync(
      process.execPath,
      [
        '--import',
        pathToFileURL(require.resolve('tsx')).href,
        '-e',
        'require(process.env.CLI).main(process.argv.slice(1)).then((c) => { process.exitCode = c; })',
        'export',
        LESSON,
        '-o',
        path.join(work, 'lesson.ts'),
      ],
      { encoding: 'utf8', env: { ...process.env, CLI: path.join(ROOT, 'lib', 'export', 'cli.ts') } },
    );
    assert.equal(exported.status, 0, exported.stderr);
    script = spawnSync(TSX, ['lesson.ts'], {
      cwd: work,
      encoding: 'utf8',
      env: {
        ...process.env,
        ...offline,
        TSLAB_DL_DATA: dataFolder(),
        TSLAB_DL_SAMPLES: SAMPLES,
        TSLAB_DL_EPOCHS: EPOCHS,
        TSLAB_DL_WEIGHTS: 'none',
        TSLAB_DL_FEATURE_CACHE: 'memory',
        TSLAB_DL_CACHE: path.join(work, 'cache'),
        TSLAB_DL_RESULTS: path.join(work, 'results'),
      },
    });
  });
  after(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('runs to the end with `npx tsx` on a small synthetic set', (t) => {
    const why = missing();
    if (why) return t.skip(why);
    assert.equal(script!.status, 0, script!.stdout + script!.stderr);
    const printed = script!.stdout;
    // model.summary() in the terminal: the lesson's parameter counts.
    assert.match(printed, /Total params: 7,?093,?360/);
    assert.match(printed, /Trainable params: 53,?808/);
    assert.match(
      finalLine(printed) ?? '',
      new RegExp(`^Final validation accuracy: \\d+\\.\\d% \\(best \\d+\\.\\d%\\) after [1-${EPOCHS}] epochs$`),
    );
    assert.match(printed, /USING SYNTHETIC STAND-IN DATA/);
  });

  test('prints the same final line as the notebook run through the kernel', (t) => {
    const why = missing();
    if (why) return t.skip(why);
    const probe = spawnSync('/usr/bin/python3', ['-c', 'import nbclient, jupyter_client'], { encoding: 'utf8' });
    if (probe.status !== 0)
      return t.skip('/usr/bin/python3 cannot import nbclient (apt-get install python3-nbclient): no notebook run to compare with');
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-export-lesson-'));
    try {
      const notebook = spawnSync(
        process.execPath,
        [
          path.join(ROOT, 'scripts', 'lesson.mjs'),
          '--samples',
          SAMPLES,
          '--epochs',
          EPOCHS,
          '--weights',
          'none',
          '--cache',
          'memory',
          '--data',
          dataFolder(),
          '--out',
          out,
        ],
        { encoding: 'utf8', cwd: ROOT, env: { ...process.env, ...offline, TSLAB_DL_CACHE: path.join(work, 'cache') } },
      );
      if (notebook.status !== 0) {
        // The notebook itself fails in the kernel: test/lesson.test.ts fails on that; here there is nothing to compare with.
        const error =
          (notebook.stdout + notebook.stderr).split('\n').find((line) => /^\w*Error: /.test(line)) ?? `exit status ${notebook.status}`;
        return t.skip(`the notebook run through the kernel failed (${error}), so there is no final line to compare with`);
      }
      const expected = finalLine(notebook.stdout);
      assert.ok(expected, `the notebook run printed no final line:\n${notebook.stdout}`);
      assert.equal(finalLine(script!.stdout), expected);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
