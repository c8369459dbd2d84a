// A workshop on JupyterHub, end to end: Debian's JupyterHub 3 on 127.0.0.1 with three local
// learners (created here, removed after) and the LocalProcessSpawner; the tslab-dl kernelspec in a
// temporary prefix that every server sees (JUPYTER_PATH); a shared cache that root fills once with
// `tslab-dl prefetch`. Through the hub's REST API the three servers start, the unchanged lesson
// notebook goes into each learner's home, and it runs in the three kernels at the same time
// (test/python/jupyterhub_workshop.py). Checked: every cell finished without error and printed a
// final accuracy; the frozen features came from the shared cache (none computed); the shared cache
// is byte for byte as before and the learners could not write into it; what the learners' kernels
// wrote in their homes is theirs. Each kernel's peak RSS and the wall time go to
// out/jupyterhub-workshop.json. Needs root, `npm run build`, and the apt packages in .ci/run.
// For a bigger room by hand: TSLAB_DL_WORKSHOP_LEARNERS, _SAMPLES, _EPOCHS, _TIMEOUT_S.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closedUrl } from './support/closed-url';
import { JUPYTER_PYTHON, ROOT, isolatedJupyterEnv, jupyterMissing } from './support/jupyter';
import { jupyterhubMissing, startHub, type RunningHub } from './support/jupyterhub';
import {
  createTestUsers,
  killProcessesOf,
  lendTraversal,
  processesOf,
  removeStaleTestUsers,
  removeTestUsers,
  runAs,
  type TestUser,
} from './support/test-users';
import { snapshotTree } from './support/tree-snapshot';

const BIN = path.join(ROOT, 'bin', 'tslab-dl.js');
const NOTEBOOK = path.join(ROOT, 'notebooks', '01-transfer-learning.ipynb');
const DRIVER = path.join(__dirname, 'python', 'jupyterhub_workshop.py');
const RESULTS = path.join(ROOT, 'out', 'jupyterhub-workshop.json');
/** A setting for measuring bigger rooms by hand (e.g. TSLAB_DL_WORKSHOP_LEARNERS=8); the defaults keep CI short. */
function setting(name: string, fallback: number): number {
  const value = process.env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!(Number.isInteger(n) && n > 0)) throw new Error(`${name} must be a positive integer. Received ${JSON.stringify(value)}.`);
  return n;
}
const LEARNERS = setting('TSLAB_DL_WORKSHOP_LEARNERS', 3);
/** Training images of the synthetic set (validation: a third): small, so three runs fit in a few minutes. */
const SAMPLES = setting('TSLAB_DL_WORKSHOP_SAMPLES', 96);
const EPOCHS = setting('TSLAB_DL_WORKSHOP_EPOCHS', 3);
const DRIVER_TIMEOUT_S = setting('TSLAB_DL_WORKSHOP_TIMEOUT_S', 300);

/** Run in the learners' kernels once the notebook is done: what the library counted. */
const PROBE = [
  "import * as workshopProbe from 'tslab-dl';",
  "console.log('WORKSHOP_PROBE ' + JSON.stringify({",
  '  featureStats: workshopProbe.featureStats,',
  '  sharedCacheStats: workshopProbe.sharedCacheStats,',
  '}));',
].join('\n');

interface CellRun {
  source: string;
  status: string;
  outputs: { type: string; name?: string; text?: string; ename?: string; evalue?: string }[];
}

interface LearnerRecord {
  error?: string;
  server_ready_s?: number;
  uploaded?: string;
  cells?: CellRun[];
  notebook_s?: number;
  probe?: CellRun;
  kernel_pid?: number;
  kernel_status?: { uid: number; VmHWM: number; VmRSS: number };
  total_s?: number;
}

interface WorkshopRun {
  learners: Record<string, LearnerRecord>;
  wall_s: number;
  notebooks_wall_s: number | null;
}

function textOf(cell: CellRun): string {
  return cell.outputs.map((o) => o.text ?? `${o.ename}: ${o.evalue}`).join('\n');
}

/** Runs the driver (async: the hub and the servers keep running meanwhile); kills it after `timeoutS`. */
function runDriver(settings: object, dir: string, timeoutS: number, started: (driver: ChildProcess) => void): Promise<WorkshopRun> {
  const file = path.join(dir, 'driver-settings.json');
  fs.writeFileSync(file, JSON.stringify(settings), { mode: 0o600 });
  return new Promise((resolve, reject) => {
    const child = spawn(JUPYTER_PYTHON, [DRIVER, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    started(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${DRIVER} failed (exit ${code ?? signal}):\n${stderr.slice(-8000)}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!));
    });
  });
}

/** Every file and folder under `folder` whose owner is not `uid`. */
function notOwnedBy(folder: string, uid: number): string[] {
  if (!fs.existsSync(folder)) return [];
  const snapshot = snapshotTree(folder);
  return Object.entries(snapshot)
    .filter(([, e]) => e.uid !== uid)
    .map(([p, e]) => `${path.join(folder, p)} (uid ${e.uid})`);
}

test(
  `${LEARNERS} learners run the lesson notebook at once on JupyterHub, features read from the shared cache, which stays unchanged`,
  { timeout: (DRIVER_TIMEOUT_S + 180) * 1000 },
  async (t) => {
    const missing = jupyterhubMissing() ?? jupyterMissing(['jupyter_client']);
    if (missing) return t.skip(missing);
    assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'lib', 'index.js')), 'run `npm run build` first: the kernel loads dist/');

    // Cleanup, in reverse order of set-up, whatever happens; also when the test runner exits early.
    const cleanups: (() => void)[] = [];
    const cleanUp = () => {
      while (cleanups.length > 0) {
        try {
          cleanups.pop()!();
        } catch (e) {
          console.error(`cleanup: ${(e as Error).message}`);
        }
      }
    };
    const onSignal = (signal: NodeJS.Signals) => {
      cleanUp();
      process.kill(process.pid, signal);
    };
    process.once('exit', cleanUp);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let users: TestUser[] = [];
    try {
      removeStaleTestUsers();
      const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-hub-'));
      cleanups.push(() => fs.rmSync(work, { recursive: true, force: true }));
      // Readable by the learners, writable by root only: the kernelspec prefix and the shared cache.
      const shared = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-hub-shared-'));
      cleanups.push(() => fs.rmSync(shared, { recursive: true, force: true }));
      fs.chmodSync(shared, 0o755);
      const prefix = path.join(shared, 'prefix');
      const cache = path.join(shared, 'cache');
      const closed = await closedUrl();
      const offline = { TSLAB_DL_ZENODO_URL: closed, TSLAB_DL_WEIGHTS_BASE_URL: `${closed}/` };

      const install = spawnSync(process.execPath, [BIN, 'install', '--prefix', prefix, '--python', JUPYTER_PYTHON], {
        encoding: 'utf8',
        env: isolatedJupyterEnv(path.join(work, 'jupyter')),
      });
      assert.equal(install.status, 0, `installing the kernelspec into ${prefix} failed:\n${install.stdout}${install.stderr}`);

      const prefetch = spawnSync(
        process.execPath,
        [BIN, 'prefetch', '--to', cache, '--data', 'synthetic', '--samples', String(SAMPLES), '--weights', 'stand-in'],
        { encoding: 'utf8', env: { ...process.env, ...offline, TSLAB_DL_CACHE: path.join(work, 'root-cache') } },
      );
      assert.equal(prefetch.status, 0, `tslab-dl prefetch --to ${cache} failed:\n${prefetch.stdout}${prefetch.stderr}`);
      t.diagnostic(`prefetch: ${prefetch.stdout.trim().split('\n').pop()}`);
      spawnSync('chmod', ['-R', 'u+rwX,go+rX,go-w', shared]);

      // The learners' homes in a folder of their own, with no node_modules above them: the kernel
      // gives their notebooks its own tslab-dl (kernel/own-library.ts).
      const homes = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-hub-homes-'));
      cleanups.push(() => fs.rmSync(homes, { recursive: true, force: true }));
      fs.chmodSync(homes, 0o755);
      users = createTestUsers(LEARNERS, homes);
      cleanups.push(() => {
        for (const problem of removeTestUsers(users)) console.error(`cleanup: ${problem}`);
      });
      // The learners reach the checkout, the kernelspec, the cache and their homes even when one of
      // them lies under a private folder (a clone in /root, a private TMPDIR): o+x, for the test only.
      for (const folder of [ROOT, shared, homes]) {
        const lent = lendTraversal(folder);
        cleanups.push(() => lent.restore());
        if (lent.changed.length > 0) t.diagnostic(`o+x lent for the test on ${lent.changed.join(', ')}`);
      }
      const readable = [BIN, path.join(ROOT, 'dist', 'lib', 'index.js'), path.join(ROOT, 'node_modules', 'tslab', 'package.json')];
      for (const file of [...readable, path.join(cache, 'manifest.json')]) {
        const read = runAs(users[0], ['test', '-r', file]);
        assert.equal(
          read.status,
          0,
          `the learner ${users[0].name} cannot read ${file}: the checkout and the cache must be readable by all users`,
        );
      }
      // The kernelspec runs the node that installed it: the learners must be able to run it too.
      const kernelJson = path.join(prefix, 'share', 'jupyter', 'kernels', 'tslab-dl', 'kernel.json');
      const node = (JSON.parse(fs.readFileSync(kernelJson, 'utf8')) as { argv: string[] }).argv[0];
      const nodeRuns = runAs(users[0], [node, '--version']);
      assert.equal(nodeRuns.status, 0, `the learner ${users[0].name} cannot run ${node} (from ${kernelJson}): ${nodeRuns.output}`);
      const write = runAs(users[0], ['touch', path.join(cache, 'learner-was-here')]);
      assert.notEqual(write.status, 0, `the learner ${users[0].name} could write into the shared cache ${cache}`);
      const before = snapshotTree(cache);

      const hub: RunningHub = await startHub({
        dir: work,
        users: users.map((u) => u.name),
        environment: {
          PATH: '/usr/local/bin:/usr/bin:/bin',
          JUPYTER_PATH: path.join(prefix, 'share', 'jupyter'),
          TSLAB_DL_SHARED_CACHE: cache,
          TSLAB_DL_WEIGHTS: 'stand-in',
          TSLAB_DL_EPOCHS: String(EPOCHS),
          TSLAB_DL_SAMPLES: String(SAMPLES),
          ...offline,
        },
      });
      cleanups.push(() => hub.stop());
      // First the learners' servers and kernels, so that the hub, stopping, has none left to wait for.
      cleanups.push(() => killProcessesOf(users.map((u) => u.uid)));

      const run = await runDriver(
        {
          hub_url: hub.url,
          token: hub.token,
          users: users.map((u) => u.name),
          notebook: NOTEBOOK,
          kernel_name: 'tslab-dl',
          probe_source: PROBE,
          cell_timeout_s: 240,
          start_timeout_s: 120,
          total_timeout_s: DRIVER_TIMEOUT_S,
        },
        work,
        DRIVER_TIMEOUT_S + 30,
        (driver) => cleanups.push(() => driver.exitCode === null && driver.signalCode === null && driver.kill('SIGKILL')),
      );

      const summary = users.map((user) => {
        const record = run.learners[user.name];
        assert.equal(record.error, undefined, `${user.name}: ${record.error}\n${hub.log().slice(-4000)}`);
        const cells = record.cells!;
        const codeCells = (JSON.parse(fs.readFileSync(NOTEBOOK, 'utf8')).cells as { cell_type: string }[]).filter(
          (c) => c.cell_type === 'code',
        );
        const failed = cells.filter((c) => c.status !== 'ok' || c.outputs.some((o) => o.type === 'error'));
        assert.deepEqual(
          failed.map((c) => `${c.source}\n-> ${textOf(c)}`),
          [],
          `${user.name}: cells failed`,
        );
        assert.equal(cells.length, codeCells.length, `${user.name}: every code cell ran`);
        const all = cells.map(textOf).join('\n');
        const final = /Final validation accuracy: (\d+\.\d)% \(best (\d+\.\d)%\) after (\d+) epochs/.exec(all);
        assert.ok(final, `${user.name}: no final accuracy in the outputs:\n${all.slice(-3000)}`);
        assert.ok(Number(final[3]) >= 1 && Number(final[3]) <= EPOCHS, `${user.name}: ${final[3]} epochs, TSLAB_DL_EPOCHS is ${EPOCHS}`);

        const probeText = textOf(record.probe!);
        const probe = /WORKSHOP_PROBE (.*)/.exec(probeText);
        assert.ok(probe, `${user.name}: the probe printed nothing usable: ${probeText}`);
        const stats = JSON.parse(probe[1]) as {
          featureStats: { computed: number; sharedHits: number; sharedRefused: number };
          sharedCacheStats: { filesRefused: number; dataHits: number; standInHits: number };
        };
        assert.equal(stats.featureStats.computed, 0, `${user.name}: features were computed, not read from the shared cache: ${probe[1]}`);
        assert.ok(stats.featureStats.sharedHits > 0, `${user.name}: no feature read from the shared cache: ${probe[1]}`);
        assert.equal(stats.featureStats.sharedRefused, 0, `${user.name}: shared feature entries refused: ${probe[1]}`);
        // The data and the stand-in weights came from the shared cache too, every file verified.
        const shared = stats.sharedCacheStats;
        assert.equal(shared.filesRefused, 0, `${user.name}: shared files refused: ${probe[1]}`);
        assert.ok(
          shared.dataHits >= 1 && shared.standInHits >= 1,
          `${user.name}: data or weights not read from the shared cache: ${probe[1]}`,
        );

        // The kernel ran as the learner, and what it wrote in the learner's home is the learner's.
        assert.equal(record.kernel_status!.uid, user.uid, `${user.name}: the kernel's uid`);
        assert.equal(record.uploaded, path.basename(NOTEBOOK));
        assert.ok(fs.existsSync(path.join(user.home, path.basename(NOTEBOOK))), `${user.name}: the notebook is in ${user.home}`);
        assert.deepEqual(notOwnedBy(user.home, user.uid), [], `${user.name}: files in the home not owned by the learner`);
        const ownCache = path.join(user.home, '.cache', 'tslab-dl');
        return {
          user: user.name,
          finalValAccuracy: Number(final[1]),
          epochs: Number(final[3]),
          kernelPeakRssMiB: Math.round(record.kernel_status!.VmHWM / 1024),
          serverReadyS: record.server_ready_s,
          notebookS: record.notebook_s,
          featureStats: stats.featureStats,
          sharedCacheStats: stats.sharedCacheStats,
          ownCacheFiles: fs.existsSync(ownCache) ? Object.values(snapshotTree(ownCache)).filter((e) => e.type === 'file').length : 0,
        };
      });

      assert.deepEqual(snapshotTree(cache), before, 'the shared cache changed while the learners ran');
      // Same notebook, same seed, same shared features: the three learners' heads train alike.
      assert.equal(
        new Set(summary.map((s) => s.finalValAccuracy)).size,
        1,
        `the learners' final accuracies differ: ${summary.map((s) => s.finalValAccuracy).join(', ')}`,
      );
      const report = {
        learners: LEARNERS,
        samples: SAMPLES,
        epochs: EPOCHS,
        cpus: os.cpus().length,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        notebooksWallS: run.notebooks_wall_s,
        wallS: run.wall_s,
        perLearner: summary,
      };
      fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
      fs.writeFileSync(RESULTS, JSON.stringify(report, null, 2) + '\n');
      t.diagnostic(
        `${LEARNERS} learners at once: notebooks ${run.notebooks_wall_s} s (all ${run.wall_s} s); kernel peak RSS ` +
          `${summary.map((s) => `${s.kernelPeakRssMiB} MiB`).join(', ')}; written to ${path.relative(ROOT, RESULTS)}`,
      );
    } finally {
      cleanUp();
      process.removeListener('exit', cleanUp);
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
    assert.deepEqual(processesOf(users.map((u) => u.uid)), [], 'processes of the learners left after the cleanup');
    assert.deepEqual(
      users.filter((u) => runAs(u, ['true']).status === 0).map((u) => u.name),
      [],
      'learners left after the cleanup',
    );
  },
);
