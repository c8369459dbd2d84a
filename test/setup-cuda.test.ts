/**
 * `npm run setup:cuda` (scripts/setup-backend.mjs cuda, scripts/setup-ort-cuda.mjs), run against
 * scratch projects holding a copy of onnxruntime-node, never against this checkout: what it would
 * do; that it refuses to download where the NVIDIA driver is missing; and that a failed download
 * or a provider that does not run leaves the package's binary folder exactly as it was.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closedUrl } from './support/closed-url';

const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'scripts', 'setup-backend.mjs');
const ORT = path.join(ROOT, 'node_modules', 'onnxruntime-node');
const BIN = path.join('node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64');
const linuxX64 = process.platform === 'linux' && process.arch === 'x64';

/** The environment without npm's per-run variables and proxies, plus `extra`. */
function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|GLOBAL_AGENT_|https?_proxy$|no_proxy$)/i.test(k)) clean[k] = v;
  return { ...clean, ...extra };
}

function runSetup(args: string[], extra: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', env: env(extra), timeout: 300_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Every file under `dir`: relative path -> sha256. */
function hashes(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      else out.set(path.relative(dir, f), createHash('sha256').update(fs.readFileSync(f)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}

const madeDirs: string[] = [];
after(() => {
  for (const dir of madeDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * A project whose node_modules links to this one's, except onnxruntime-node: a copy of its
 * package.json, dist/, script/ and linux-x64 binaries, which the setup may change.
 */
function scratchProject(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-setup-cuda-test-'));
  madeDirs.push(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'scratch', private: true }) + '\n');
  const modules = path.join(dir, 'node_modules');
  fs.mkdirSync(modules);
  for (const name of fs.readdirSync(path.join(ROOT, 'node_modules'))) {
    if (name !== 'onnxruntime-node') fs.symlinkSync(path.join(ROOT, 'node_modules', name), path.join(modules, name));
  }
  const copy = path.join(modules, 'onnxruntime-node');
  for (const part of ['package.json', 'dist', 'script']) fs.cpSync(path.join(ORT, part), path.join(copy, part), { recursive: true });
  fs.cpSync(path.join(ORT, 'bin', 'napi-v6', 'linux', 'x64'), path.join(dir, BIN), { recursive: true });
  return dir;
}

function driverLoads(): boolean {
  const r = spawnSync(process.execPath, [
    '-e',
    "try { process.dlopen({ exports: {} }, 'libcuda.so.1') } catch (e) { if (!/self-register/.test(e.message)) process.exit(1) }",
  ]);
  return r.status === 0;
}

describe('setup:cuda', () => {
  test('--dry-run says what it would run and changes nothing', (t) => {
    if (!linuxX64) return t.skip('the CUDA provider is for Linux x64 only');
    const before = hashes(path.join(ORT, 'bin', 'napi-v6', 'linux', 'x64'));
    const { code, out } = runSetup(['cuda', '--dry-run']);
    assert.equal(code, 0, out);
    assert.match(
      out,
      /1\. run its install script \(node \.\/script\/install\) with ONNXRUNTIME_NODE_INSTALL=cuda12: it downloads\n +Microsoft\.ML\.OnnxRuntime\.Gpu\.Linux 1\.30\.0 from api\.nuget\.org and puts libonnxruntime_providers_cuda\.so/,
    );
    assert.match(out, /2\. open a session on the CUDA provider alone \(no CPU fallback\) in a child process/);
    assert.match(out, /Dry run: nothing was changed\./);
    assert.deepEqual(hashes(path.join(ORT, 'bin', 'napi-v6', 'linux', 'x64')), before);
  });

  test('without the NVIDIA driver it downloads nothing and says what to install', (t) => {
    if (!linuxX64) return t.skip('the CUDA provider is for Linux x64 only');
    if (driverLoads()) return t.skip('libcuda.so.1 loads here');
    const dir = scratchProject();
    const pkgDir = path.join(dir, 'node_modules', 'onnxruntime-node');
    const before = hashes(pkgDir);
    const { code, out } = runSetup(['cuda', '--project', dir]);
    assert.equal(code, 2, out);
    assert.match(
      out,
      /the NVIDIA driver's library libcuda\.so\.1 does not load here \(.*\), so the CUDA provider could not run: nothing was downloaded\. Install the NVIDIA driver first/,
    );
    assert.deepEqual(hashes(pkgDir), before);
  });

  test('a download that fails (no network) is reported, and the binary folder is as it was', async (t) => {
    if (!linuxX64) return t.skip('the CUDA provider is for Linux x64 only');
    const dir = scratchProject();
    const before = hashes(path.join(dir, BIN));
    // Its downloads go through global-agent: a proxy where nothing listens fails them at once, whatever the network.
    const { code, out } = runSetup(['cuda', '--force', '--project', dir], { GLOBAL_AGENT_HTTPS_PROXY: await closedUrl() });
    assert.equal(code, 1, out);
    assert.match(out, /setup:cuda failed: onnxruntime-node's install script failed \(exit code 1\): .*ECONNREFUSED/);
    assert.match(
      out,
      /node_modules\/onnxruntime-node\/bin\/napi-v6\/linux\/x64 is as before \(package\.json and package-lock\.json were not touched\)/,
    );
    assert.match(out, /downloads from api\.nuget\.org, which this machine cannot reach/);
    assert.deepEqual(hashes(path.join(dir, BIN)), before);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'node_modules', 'onnxruntime-node')).sort(), ['bin', 'dist', 'package.json', 'script']);
  });

  test('a provider that downloads but does not run is taken out again: new files removed, changed ones restored', (t) => {
    if (!linuxX64) return t.skip('the CUDA provider is for Linux x64 only');
    const dir = scratchProject();
    const pkgDir = path.join(dir, 'node_modules', 'onnxruntime-node');
    // An earlier provider library, and an install script that replaces it and adds the others (not libraries at all).
    fs.writeFileSync(path.join(dir, BIN, 'libonnxruntime_providers_shared.so'), 'an earlier copy\n');
    fs.writeFileSync(
      path.join(pkgDir, 'script', 'fake-install.js'),
      `const fs = require('fs'); const path = require('path');
       if (process.env.ONNXRUNTIME_NODE_INSTALL !== 'cuda12') { console.error('wrong flag ' + process.env.ONNXRUNTIME_NODE_INSTALL); process.exit(3); }
       const bin = path.join(__dirname, '..', 'bin', 'napi-v6', 'linux', 'x64');
       for (const f of ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so', 'libonnxruntime_providers_tensorrt.so']) fs.writeFileSync(path.join(bin, f), 'not a library');
       console.log('Extracting (pretend)');`,
    );
    const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
    pkg.scripts.postinstall = 'node ./script/fake-install';
    fs.writeFileSync(path.join(pkgDir, 'package.json'), JSON.stringify(pkg, null, 2));
    const before = hashes(path.join(dir, BIN));
    const { code, out } = runSetup(['cuda', '--force', '--project', dir]);
    assert.equal(code, 1, out);
    assert.match(out, /Extracting \(pretend\)/);
    assert.match(out, /setup:cuda failed: the CUDA provider was downloaded but does not run: /);
    assert.match(out, /is as before/);
    assert.match(
      out,
      /Install the CUDA 12 runtime and cuDNN 9 \(https:\/\/onnxruntime\.ai\/docs\/execution-providers\/CUDA-ExecutionProvider\.html#requirements\)/,
    );
    assert.deepEqual(hashes(path.join(dir, BIN)), before);
    assert.equal(fs.readFileSync(path.join(dir, BIN, 'libonnxruntime_providers_shared.so'), 'utf8'), 'an earlier copy\n');
  });
});
