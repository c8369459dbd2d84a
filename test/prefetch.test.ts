/**
 * `npx tslab-dl prefetch` as an instructor runs it (the real command line, in a child process):
 * the shared cache it fills (synthetic data and stand-in weights offline; Dollar Street and
 * ImageNet-layout files downloaded from servers on 127.0.0.1), a second run that keeps what is
 * there, the lesson notebook run through the real kernel reading everything from it, and bad
 * input refused with a clear error before anything is written. ImageNet weights in the shared
 * cache are read (verified) or refused by getWeightsFile, tested against a local server too.
 */
import { spawn } from 'node:child_process';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeSyntheticDollarStreet, SYNTHETIC_MANIFEST } from '../lib/data';
import { getWeightsFile } from '../lib/weights/imagenet';
import { resetSharedCacheVerdicts, sharedCacheStats } from '../lib/core/shared-cache';
import { closedUrl } from './support/closed-url';
import { jupyterMissing, ROOT } from './support/jupyter';
import { Cell, codeCells, textOf } from './support/notebook-output';
import { startZenodoServer } from './support/zenodo-server';
import { snapshotLines } from './support/tree-snapshot';

const BIN = path.join(ROOT, 'bin', 'tslab-dl.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-prefetch-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command args` without blocking this process (a test server may have to answer it). */
function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd = ROOT): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const prefetch = (args: string[], env: NodeJS.ProcessEnv = {}) => run(process.execPath, [BIN, 'prefetch', ...args], env);

describe('npx tslab-dl prefetch', { timeout: 900_000 }, () => {
  const shared = path.join(tmp, 'shared');

  test('offline (synthetic data, stand-in weights): fills the folder, and a second run keeps what is there', async () => {
    const first = await prefetch(['--to', shared, '--data', 'synthetic', '--samples', '20', '--weights', 'stand-in']);
    assert.equal(first.status, 0, first.stderr + first.stdout);
    assert.match(first.stdout, /prefetch: data: making a synthetic set of 20 training images/);
    assert.match(first.stdout, /prefetch: features \(train, (onnx-\w+|tfjs)\): computed/);
    assert.match(first.stdout, /prefetch: features \(validation, (onnx-\w+|tfjs)\): computed/);
    assert.match(first.stdout, new RegExp(`Learners' kernels need TSLAB_DL_SHARED_CACHE=${shared}\\.`));
    const manifest = JSON.parse(fs.readFileSync(path.join(shared, 'manifest.json'), 'utf8'));
    assert.equal(manifest.format, 'tslab-dl-shared-cache/1');
    assert.deepEqual(manifest.prefetched.applications, ['densenet121']);
    assert.deepEqual(
      Object.keys(manifest.files).map((n) => n.replace(/[0-9a-f]{16,}/, 'H')),
      [
        'data/dataset_dollarstreet/synthetic.json',
        'data/dataset_dollarstreet/test_images.npy',
        'data/dataset_dollarstreet/test_labels.npy',
        'data/dataset_dollarstreet/train_images.npy',
        'data/dataset_dollarstreet/train_labels.npy',
        'features/H.features',
        'features/H.features',
        'models/standin/densenet121_standin_H_notop.h5',
      ],
    );
    for (const line of snapshotLines(shared)) assert.match(line, / (644|755) /, line);

    // Again: nothing remade (the files keep their mtimes), the manifest written anew.
    const before = snapshotLines(shared, (n) => n === 'manifest.json');
    const second = await prefetch(['--to', shared, '--data', 'synthetic', '--samples', '20', '--weights', 'stand-in']);
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stdout, /the synthetic set in .* is up to date/);
    assert.equal((second.stdout.match(/: already there: /g) ?? []).length, 2, second.stdout);
    assert.doesNotMatch(second.stdout, /Frozen base features/);
    assert.deepEqual(
      snapshotLines(shared, (n) => n === 'manifest.json'),
      before,
    );

    // A damaged feature entry is found by its hash and made again.
    const entry = Object.keys(manifest.files).find((n: string) => n.startsWith('features/'))!;
    const bytes = fs.readFileSync(path.join(shared, entry));
    bytes[bytes.length - 1] ^= 0xff;
    fs.writeFileSync(path.join(shared, entry), bytes);
    const third = await prefetch(['--to', shared, '--data', 'synthetic', '--samples', '20', '--weights', 'stand-in']);
    assert.equal(third.status, 0, third.stderr);
    assert.match(third.stdout, /changed since the last prefetch: removing it/);
    assert.equal((third.stdout.match(/: computed: /g) ?? []).length, 1, third.stdout);
    const repaired = fs.readFileSync(path.join(shared, entry));
    assert.equal(createHash('sha256').update(repaired).digest('hex'), manifest.files[entry].sha256);
  });

  test("the lesson notebook, run by the kernel from a folder without data, reads the shared cache's data, weights and features", async (t) => {
    const missing = jupyterMissing();
    if (missing) return t.skip(missing);
    assert.ok(fs.existsSync(path.join(shared, 'manifest.json')), 'the test above filled it');
    const before = snapshotLines(shared);
    const work = path.join(tmp, 'learner');
    const closed = await closedUrl();
    const lesson = await run(
      process.execPath,
      [
        path.join(ROOT, 'scripts', 'lesson.mjs'),
        '--weights',
        'stand-in',
        '--epochs',
        '2',
        '--cache',
        'disk',
        '--out',
        path.join(work, 'out'),
      ],
      {
        TSLAB_DL_SHARED_CACHE: shared,
        TSLAB_DL_CACHE: path.join(work, 'cache'),
        KERAS_HOME: path.join(work, 'keras'),
        TSLAB_DL_ZENODO_URL: closed,
        TSLAB_DL_WEIGHTS_BASE_URL: `${closed}/`,
      },
    );
    assert.equal(lesson.status, 0, lesson.stdout + lesson.stderr);
    const cells: Cell[] = codeCells(path.join(work, 'out', '01-transfer-learning.ipynb'));
    const all = cells.map(textOf).join('\n');
    assert.ok(
      all.includes(`reading the instructor's copy in ${path.join(shared, 'data', 'dataset_dollarstreet')} (the shared cache)`),
      all,
    );
    assert.match(all, /train images \[ 20, 64, 64, 3 \]/);
    assert.ok(
      all.includes(`saved in Keras' layout as ${path.join(shared, 'models', 'standin')}`),
      'the stand-in weights are the shared ones',
    );
    assert.match(all, /Frozen prefix \(429 layers\) computed once \(from the shared cache\)/);
    assert.doesNotMatch(all, /Frozen base features/, 'no features computed in the kernel');
    assert.doesNotMatch(all + lesson.stderr, /not using .* from the shared cache/);
    assert.deepEqual(snapshotLines(shared), before, 'the shared cache is unchanged');
    assert.deepEqual(snapshotLines(path.join(work, 'cache', 'features')), [], 'nothing written to the per-user feature cache');
  });

  test('downloads: Dollar Street from a Zenodo on 127.0.0.1 (md5-checked); ImageNet weights that fail their md5 leave no file and no manifest', async () => {
    const published = path.join(tmp, 'published');
    await makeSyntheticDollarStreet(published, { train: 15, test: 5 });
    fs.rmSync(path.join(published, SYNTHETIC_MANIFEST)); // served as the real data is: four .npy files
    const zenodo = await startZenodoServer(published);
    const weights = http.createServer((req, res) => res.writeHead(200, { 'content-length': 9 }).end('not h5 !!'));
    await new Promise<void>((resolve) => weights.listen(0, '127.0.0.1', resolve));
    const weightsUrl = `http://127.0.0.1:${(weights.address() as AddressInfo).port}/`;
    try {
      const target = path.join(tmp, 'downloaded');
      const env = { TSLAB_DL_ZENODO_URL: zenodo.url, TSLAB_DL_WEIGHTS_BASE_URL: weightsUrl, HOME: path.join(tmp, 'root-home') };
      const good = await prefetch(['--to', target, '--data', 'download', '--weights', 'stand-in', '--no-features'], env);
      assert.equal(good.status, 0, good.stderr + good.stdout);
      assert.match(good.stdout, /prefetch: features: skipped \(--no-features\)/);
      for (const name of ['train_images.npy', 'train_labels.npy', 'test_images.npy', 'test_labels.npy']) {
        assert.ok(
          fs.readFileSync(path.join(target, 'data', 'dataset_dollarstreet', name)).equals(fs.readFileSync(path.join(published, name))),
          name,
        );
      }
      const manifest = JSON.parse(fs.readFileSync(path.join(target, 'manifest.json'), 'utf8'));
      assert.equal(manifest.prefetched.data, 'download');
      assert.ok(!Object.keys(manifest.files).some((n) => n.startsWith('features/')));

      // A folder of the four files, copied as they are.
      const copied = path.join(tmp, 'copied');
      const copy = await prefetch(['--to', copied, '--data', published, '--weights', 'stand-in', '--no-features']);
      assert.equal(copy.status, 0, copy.stderr + copy.stdout);
      for (const name of ['train_images.npy', 'train_labels.npy', 'test_images.npy', 'test_labels.npy']) {
        assert.ok(
          fs.readFileSync(path.join(copied, 'data', 'dataset_dollarstreet', name)).equals(fs.readFileSync(path.join(published, name))),
          name,
        );
      }
      assert.equal(JSON.parse(fs.readFileSync(path.join(copied, 'manifest.json'), 'utf8')).prefetched.data, published);

      const bad = path.join(tmp, 'bad-weights');
      const failed = await prefetch(['--to', bad, '--data', 'download', '--weights', 'imagenet', '--applications', 'densenet121'], env);
      assert.equal(failed.status, 1, failed.stdout);
      assert.match(
        failed.stderr,
        /^tslab-dl prefetch: Could not get DenseNet121 ImageNet weights .*the checksum does not match: expected md5/m,
      );
      assert.match(failed.stderr, /densenet121_weights_tf_dim_ordering_tf_kernels_notop\.h5/);
      assert.ok(!fs.existsSync(path.join(bad, 'manifest.json')), 'no manifest: learners trust nothing there');
      const models = path.join(bad, 'models');
      assert.deepEqual(fs.existsSync(models) ? fs.readdirSync(models) : [], [], 'no weights file, whole or partial');
    } finally {
      await zenodo.close();
      await new Promise((resolve) => weights.close(resolve));
    }
  });

  test('bad input: a clear error, exit 2, and nothing written', async () => {
    const target = path.join(tmp, 'never');
    const cases: [string[], RegExp][] = [
      [['--applications', 'densenet121,resnet'], /unknown application "resnet"; the applications are densenet121, .*mobilenetv2/],
      [['--samples', '0', '--data', 'synthetic'], /--samples must be a positive integer .* Received "0"/],
      [['--samples', '2.5', '--data', 'synthetic'], /--samples must be a positive integer .* Received "2\.5"/],
      [['--samples', '10'], /samples only applies to synthetic data; data is "download"/],
      [['--weights', 'random'], /weights must be 'imagenet' or 'stand-in'\. Received "random"/],
      [
        ['--data', path.join(tmp, 'no-such-folder')],
        /data must be 'download', 'synthetic' or a folder holding the four Dollar Street files; .*no-such-folder holds none of them/,
      ],
      [['--executor', 'gpu'], /--executor must be one of auto, onnx/],
    ];
    for (const [args, message] of cases) {
      const result = await prefetch(['--to', target, ...args]);
      assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`^tslab-dl prefetch: ${message.source}`), args.join(' '));
      assert.match(result.stderr, /Usage: tslab-dl prefetch \[--to DIR\]/);
      assert.ok(!fs.existsSync(target), `${args.join(' ')}: nothing written`);
    }
  });

  test('a folder that cannot be written: the error names it (and sudo, for a permission problem); nothing is written', async () => {
    const blocker = path.join(tmp, 'a-file');
    fs.writeFileSync(blocker, '');
    const result = await prefetch(['--to', path.join(blocker, 'shared'), '--data', 'synthetic', '--samples', '5', '--weights', 'stand-in']);
    assert.equal(result.status, 1);
    assert.match(
      result.stderr,
      new RegExp(
        `^tslab-dl prefetch: cannot write the shared cache folder ${blocker}/shared \\((ENOTDIR|EEXIST): a file is where a folder should be\\)`,
      ),
    );
    assert.equal(fs.readFileSync(blocker, 'utf8'), '');

    // Permissions: as an ordinary user (root ignores them), in a folder root owns.
    if (process.getuid?.() !== 0) return;
    const locked = path.join(tmp, 'root-only');
    fs.mkdirSync(locked, { mode: 0o755 });
    fs.chmodSync(tmp, 0o755);
    const asNobody = await run('setpriv', [
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      BIN,
      'prefetch',
      '--to',
      path.join(locked, 'shared'),
      '--data',
      'synthetic',
      '--weights',
      'stand-in',
    ]);
    assert.equal(asNobody.status, 1, asNobody.stderr + asNobody.stdout);
    assert.match(asNobody.stderr, new RegExp(`cannot write the shared cache folder ${locked}/shared \\(EACCES: permission denied\\)`));
    assert.match(asNobody.stderr, /run the prefetch as root \(`sudo npx tslab-dl prefetch`\)/);
    assert.deepEqual(fs.readdirSync(locked), []);
  });
});

describe('ImageNet weights in the shared cache', () => {
  test('are used once verified, without a download; refused when changed, and downloaded into the per-user cache', async () => {
    const bytes = Buffer.from('a weights file, as Keras publishes it');
    const md5 = createHash('md5').update(bytes).digest('hex');
    const requests: string[] = [];
    const server = http.createServer((req, res) => {
      requests.push(req.url ?? '');
      res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const root = path.join(tmp, 'weights-shared');
    const fileName = 'net_weights_notop.h5';
    fs.mkdirSync(path.join(root, 'models'), { recursive: true });
    fs.writeFileSync(path.join(root, 'models', fileName), bytes);
    const manifest = {
      format: 'tslab-dl-shared-cache/1',
      version: 'test',
      created: new Date().toISOString(),
      prefetched: {},
      files: { [`models/${fileName}`]: { sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length } },
    };
    fs.writeFileSync(path.join(root, 'manifest.json'), JSON.stringify(manifest));
    const spec = { fileName, url: `http://example.invalid/${fileName}`, md5 };
    const options = {
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
      cacheDir: path.join(tmp, 'weights-user', 'models'),
      kerasCacheDir: path.join(tmp, 'weights-keras'),
      sharedCache: root,
    };
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (...args: unknown[]) => void warnings.push(args.join(' '));
    try {
      resetSharedCacheVerdicts();
      const hits = sharedCacheStats.weightsHits;
      assert.equal(await getWeightsFile(spec, options), path.join(root, 'models', fileName));
      assert.equal(sharedCacheStats.weightsHits, hits + 1);
      assert.deepEqual(requests, []);
      // Same size, one byte changed: refused, downloaded (md5-checked) into the learner's own cache.
      const changed = Buffer.from(bytes);
      changed[0] ^= 0x20;
      fs.writeFileSync(path.join(root, 'models', fileName), changed);
      assert.equal(await getWeightsFile(spec, options), path.join(options.cacheDir, fileName));
      assert.deepEqual(requests, [`/${fileName}`]);
      assert.equal(warnings.length, 1);
      assert.ok(warnings[0].includes(path.join(root, 'models', fileName)), warnings[0]);
      assert.match(warnings[0], /manifest\.json says .*downloading a copy into your own cache instead.*npx tslab-dl prefetch/);
      assert.ok(fs.readFileSync(path.join(root, 'models', fileName)).equals(changed), 'the shared file is left as it was');
    } finally {
      console.warn = warn;
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
