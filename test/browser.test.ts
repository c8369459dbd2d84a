// Functions passed to page.waitForFunction run in the browser; they reach its globals through
// globalThis so that this file type-checks without the DOM library.
/**
 * The lesson notebook in a real Jupyter web UI: Debian's classic Notebook server on 127.0.0.1,
 * driven by headless Chromium through playwright-core. Selects the tslab-dl kernel, runs all
 * cells on a small synthetic set, waits for the history plot, and fails on any error output.
 * A screenshot goes to out/test/browser-lesson.png.
 */
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closedUrl } from './support/closed-url';
import { jupyterMissing, jupyterSandbox, JUPYTER_PYTHON, ROOT } from './support/jupyter';

const CHROMIUM = '/usr/bin/chromium';
const NOTEBOOK = '01-transfer-learning.ipynb';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function waitForServer(url: string, server: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`the notebook server exited:\n${log()}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the notebook server did not answer within 60 s:\n${log()}`);
}

function whyNotRunnable(): string | undefined {
  if (!fs.existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install chromium)`;
  const missing = jupyterMissing(['notebook']);
  if (missing) return missing;
  if (spawnSync(JUPYTER_PYTHON, ['-c', 'import notebook; assert notebook.__version__.startswith("6")']).status !== 0) {
    return 'this test drives the classic Notebook 6 UI (Debian jupyter-notebook)';
  }
  return undefined;
}

test('the lesson notebook runs top to bottom in Jupyter Notebook in Chromium', { timeout: 900_000 }, async (t) => {
  const reason = whyNotRunnable();
  if (reason) {
    t.skip(reason);
    return;
  }
  const { chromium } = await import('playwright-core');
  fs.mkdirSync(path.join(ROOT, 'out', 'test'), { recursive: true });
  // Downloads refused at once: the lesson runs on the synthetic twin whatever the network.
  const closed = await closedUrl();
  const sandbox = jupyterSandbox({
    TSLAB_DL_SAMPLES: '60',
    TSLAB_DL_EPOCHS: '3',
    TSLAB_DL_WEIGHTS: 'none',
    TSLAB_DL_ZENODO_URL: closed,
    TSLAB_DL_WEIGHTS_BASE_URL: `${closed}/`,
  });
  // A copy, since running all cells in the UI autosaves outputs into the file; inside the project,
  // where `import ... from 'tslab-dl'` resolves as it does for notebooks/.
  const notebookDir = fs.mkdtempSync(path.join(ROOT, 'out', 'test', 'browser-notebooks-'));
  fs.copyFileSync(path.join(ROOT, 'notebooks', NOTEBOOK), path.join(notebookDir, NOTEBOOK));

  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  let serverLog = '';
  const server = spawn(
    JUPYTER_PYTHON,
    [
      '-m',
      'notebook',
      '--no-browser',
      '--ip=127.0.0.1',
      `--port=${port}`,
      '--port-retries=0',
      `--NotebookApp.token=${token}`,
      `--notebook-dir=${notebookDir}`,
      '--allow-root',
    ],
    { env: sandbox.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  server.stdout!.on('data', (d) => (serverLog += d));
  server.stderr!.on('data', (d) => (serverLog += d));
  const base = `http://127.0.0.1:${port}`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  try {
    await waitForServer(`${base}/api/status?token=${token}`, server, () => serverLog);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${base}/notebooks/${NOTEBOOK}?token=${token}`);
    await page.waitForFunction(() => (globalThis as any).Jupyter?.notebook?.kernel?.is_connected?.(), null, { timeout: 120_000 });

    // Select the kernel through the menus, as a learner would.
    await page.click('#kernellink');
    await page.hover('#menu-change-kernel');
    await page.click('#kernel-submenu-tslab-dl');
    await page.waitForFunction(
      () => {
        const nb = (globalThis as any).Jupyter.notebook;
        return (
          nb.kernel?.name === 'tslab-dl' &&
          nb.kernel.is_connected() &&
          (globalThis as any).document.querySelector('#kernel_indicator_icon.kernel_idle_icon')
        );
      },
      null,
      { timeout: 120_000 },
    );
    const kernelName = await page.textContent('.kernel_indicator_name');
    assert.equal(kernelName?.trim(), 'TypeScript (tslab-dl)');

    await page.click('#celllink');
    await page.click('#run_all_cells');
    // Done when every code cell has an execution count and the kernel is idle again.
    await page.waitForFunction(
      () => {
        const nb = (globalThis as any).Jupyter.notebook;
        const cells = nb.get_cells().filter((c: any) => c.cell_type === 'code');
        const allRan = cells.every((c: any) => typeof c.input_prompt_number === 'number');
        return (
          (allRan && (globalThis as any).document.querySelector('#kernel_indicator_icon.kernel_idle_icon')) ||
          (globalThis as any).document.querySelector('.output_error')
        );
      },
      null,
      { timeout: 840_000, polling: 1000 },
    );
    fs.mkdirSync(path.join(ROOT, 'out', 'test'), { recursive: true });
    await page.screenshot({ path: path.join(ROOT, 'out', 'test', 'browser-lesson.png'), fullPage: true });

    const errors = await page.$$eval('.output_error', (nodes) => nodes.map((n) => (n as { textContent: string | null }).textContent));
    assert.deepEqual(errors, [], `cells showed errors:\n${errors.join('\n---\n')}`);
    const plots = await page.$$eval('.output_svg svg, .output_subarea svg', (nodes) => nodes.length);
    assert.ok(plots >= 1, 'the history plot (an inline SVG) did not appear');
    const text = await page.textContent('#notebook-container');
    assert.match(text ?? '', /Final validation accuracy: \d+(\.\d)?%/);
    assert.match(text ?? '', /7,?093,?360/, "model.summary() should show the lesson's parameter count");
  } finally {
    await browser.close();
    server.kill('SIGTERM');
    await new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r)));
    sandbox.dispose();
    fs.rmSync(notebookDir, { recursive: true, force: true });
  }
});
