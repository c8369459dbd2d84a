// scripts/setup-backend.mjs (`npm run setup:gpu` / `setup:native`), run against scratch projects,
// never against this checkout: what it would do, and that a failed install leaves
// package.json, package-lock.json and node_modules exactly as they were.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as dns } from 'node:dns';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'scripts', 'setup-backend.mjs');

/** The environment without npm's per-run variables, so a nested npm acts on the scratch project only. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return env;
}

function runSetup(args: string[], timeout = 300_000) {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', env: cleanEnv(), timeout });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function snapshot(dir: string, files: string[]): Map<string, string | undefined> {
  return new Map(files.map((f) => [f, fs.existsSync(path.join(dir, f)) ? fs.readFileSync(path.join(dir, f), 'base64') : undefined]));
}

const madeDirs: string[] = [];
after(() => {
  for (const dir of madeDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function scratch(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-setup-'));
  madeDirs.push(dir);
  return dir;
}

describe('setup-backend.mjs', () => {
  test('--dry-run on a copy of this project says what it would do and changes nothing', () => {
    const dir = scratch();
    for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
    const before = snapshot(dir, ['package.json', 'package-lock.json']);
    for (const [target, pkg] of [
      ['gpu', '@tensorflow/tfjs-node-gpu'],
      ['native', '@tensorflow/tfjs-node'],
    ]) {
      const { code, out } = runSetup([target, '--dry-run', '--project', dir]);
      assert.equal(code, 0, out);
      assert.ok(out.includes(`1. package.json: "allowScripts": { "${pkg}": true }`), out);
      assert.ok(out.includes(`2. npm install --save-exact --foreground-scripts ${pkg}@4.22.0`), out);
      assert.ok(out.includes('Dry run: nothing was changed.'), out);
    }
    assert.deepEqual(snapshot(dir, ['package.json', 'package-lock.json']), before);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['package-lock.json', 'package.json']);
  });

  test('arguments are checked first: the target, --project, an explicit denial in allowScripts', () => {
    let r = runSetup([]);
    assert.equal(r.code, 2);
    assert.match(r.out, /say which backend to add: gpu, native or cuda/);
    r = runSetup(['cuda12']);
    assert.equal(r.code, 2);
    assert.match(r.out, /unknown argument "cuda12"/);
    r = runSetup(['gpu', '--project', '/nonexistent/project']);
    assert.equal(r.code, 2);
    assert.match(r.out, /\/nonexistent\/project\/package\.json does not exist: pass --project <folder with package\.json>\./);
    const dir = scratch();
    const text = JSON.stringify({ name: 'denies', private: true, allowScripts: { '@tensorflow/tfjs-node': false } }, null, 2) + '\n';
    fs.writeFileSync(path.join(dir, 'package.json'), text);
    r = runSetup(['native', '--project', dir]);
    assert.equal(r.code, 2);
    assert.match(
      r.out,
      /denies @tensorflow\/tfjs-node's install script \("allowScripts": \{"@tensorflow\/tfjs-node": false\}\); remove that entry first/,
    );
    assert.equal(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'), text);
  });

  test('a failed install (libtensorflow cannot be downloaded) is reported and leaves everything as it was', async (t) => {
    const reachable = await dns.lookup('storage.googleapis.com').then(
      () => true,
      () => false,
    );
    if (reachable)
      return t.skip('storage.googleapis.com resolves here: the install would download libtensorflow (hundreds of MB) instead of failing');
    // A scratch project with one (local) dependency, so node_modules and npm's hidden lockfile exist.
    const dir = scratch();
    fs.mkdirSync(path.join(dir, 'local-dep'));
    fs.writeFileSync(path.join(dir, 'local-dep', 'package.json'), JSON.stringify({ name: 'local-dep', version: '1.0.0' }));
    fs.writeFileSync(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: 'scratch', version: '0.0.0', private: true, dependencies: { 'local-dep': 'file:./local-dep' } }, null, 2) +
        '\n',
    );
    const first = spawnSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: dir,
      encoding: 'utf8',
      env: cleanEnv(),
    });
    assert.equal(first.status, 0, first.stderr);
    const files = ['package.json', 'package-lock.json', 'node_modules/.package-lock.json'];
    const before = snapshot(dir, files);
    const listing = () =>
      ['node_modules', 'node_modules/.bin'].map((d) => (fs.existsSync(path.join(dir, d)) ? fs.readdirSync(path.join(dir, d)).sort() : []));
    const topLevel = listing();

    const { code, out } = runSetup(['gpu', '--project', dir]);
    assert.equal(code, 1, out);
    assert.match(out, /setup:gpu failed: npm install failed \(exit code \d+\): /);
    // The registry is reachable but the libtensorflow host is not (or, offline, npm fails sooner).
    assert.match(out, /getaddrinfo|ENOTFOUND|EAI_AGAIN|ENETUNREACH|ECONNREFUSED/);
    assert.match(out, /package\.json, package-lock\.json and node_modules are as they were/);
    assert.deepEqual(snapshot(dir, files), before);
    assert.deepEqual(listing(), topLevel, 'node_modules or node_modules/.bin changed');
    assert.equal(fs.existsSync(path.join(dir, 'node_modules', '@tensorflow')), false);
  });
});
