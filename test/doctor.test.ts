// `npx tslab-dl doctor` on this machine, checked against what the machine says through other
// means (package files, ldconfig, Jupyter's own commands), and `await doctor()` in a notebook.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import {
  checkSharedCache,
  diagnose,
  doctor,
  DoctorReport,
  formatReport,
  kernelspecCheck,
  probeNativePackage,
  sharedCacheLine,
} from '../lib/doctor/doctor';
import { SHARED_MANIFEST_FORMAT } from '../lib/core/shared-cache';
import { main } from '../lib/doctor/cli';
import { MimeBundle } from '../lib/notebook/display';
import { KERNEL_HOOK } from '../lib/notebook/kernel-hook';
import { lavapipeEnv } from './support/vulkan';

const ROOT = path.resolve(__dirname, '..');
const version = (pkg: string) =>
  JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version as string;
const installed = (pkg: string) => fs.existsSync(path.join(ROOT, 'node_modules', pkg, 'package.json'));
const SONAMES = [
  'libcuda.so.1',
  'libcudart.so.11.0',
  'libcublas.so.11',
  'libcublasLt.so.11',
  'libcufft.so.10',
  'libcurand.so.10',
  'libcusolver.so.11',
  'libcusparse.so.11',
  'libcudnn.so.8',
];

/** Runs the doctor's main() in a fresh process, the way bin/tslab-dl.js does. */
function runDoctor(args: string[], env: NodeJS.ProcessEnv = {}) {
  const script = `require('./lib/doctor/cli').main(process.argv.slice(1)).then((code) => { process.exitCode = code; })`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script, 'doctor', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 180_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ldconfigNames(): Set<string> {
  const out = spawnSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' }).stdout ?? '';
  return new Set(
    out
      .split('\n')
      .map((l) => l.trim().split(' ')[0])
      .filter(Boolean),
  );
}

/** Whether Jupyter (Debian's, under /usr/bin/python3) lists a tslab-dl kernelspec, asked directly. */
function kernelspecListed(): boolean | undefined {
  const r = spawnSync('/usr/bin/python3', ['-m', 'jupyter_client.kernelspecapp', 'list', '--json'], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  return 'tslab-dl' in JSON.parse(r.stdout).kernelspecs;
}

const noNvidiaSmi = () => spawnSync('sh', ['-c', 'command -v nvidia-smi'], { encoding: 'utf8' }).stdout.trim() === '';

describe('npx tslab-dl doctor', () => {
  let text = '';
  let json: DoctorReport;

  test('on this machine (no GPU, no tfjs-node): exit code 0, wasm chosen, and exactly why the rest is missing', (t) => {
    if (installed('@tensorflow/tfjs-node') || installed('@tensorflow/tfjs-node-gpu')) return t.skip('tfjs-node(-gpu) is installed here');
    const r = runDoctor([], { LD_LIBRARY_PATH: '/nonexistent/cuda/lib64', TSLAB_DL_BACKEND: '' });
    text = r.stdout;
    assert.equal(r.code, 0, r.stderr);
    assert.match(text, /^tslab-dl doctor\n/);
    // Versions, read here from the packages themselves.
    assert.match(text, new RegExp(`\\n  node +${process.version.replace(/\./g, '\\.')}\\n`));
    for (const pkg of ['tslab', 'typescript', '@tensorflow/tfjs']) assert.ok(text.includes(`  ${pkg.padEnd(20)} ${version(pkg)}\n`), pkg);
    assert.ok(text.includes(`  tslab's TypeScript   ${version('@tslab/typescript-for-tslab')}\n`));
    const npm = spawnSync('npm', ['--version'], { encoding: 'utf8' }).stdout.trim();
    assert.ok(text.includes(`  npm                  ${npm}\n`), `npm ${npm}`);
    // Backends.
    assert.ok(text.includes('  tfjs-node-gpu  not installed (`npm run setup:gpu` adds it)\n'));
    assert.ok(text.includes('  tfjs-node      not installed (`npm run setup:native` adds it)\n'));
    assert.ok(text.includes(`  wasm           chosen (@tensorflow/tfjs-backend-wasm ${version('@tensorflow/tfjs-backend-wasm')})\n`));
    assert.ok(text.includes('  cpu            not tried: wasm comes first and was chosen\n'));
    assert.ok(text.includes('  => backend: wasm\n'));
    // The GPU path: what ldconfig and PATH say, independently of the doctor's dlopen.
    assert.ok(text.includes('  LD_LIBRARY_PATH    /nonexistent/cuda/lib64\n'));
    if (noNvidiaSmi()) assert.ok(text.includes('  nvidia-smi         not found on PATH\n'));
    const cached = ldconfigNames();
    for (const soname of SONAMES) {
      const line = text.split('\n').find((l) => l.startsWith(`  ${soname} `));
      assert.ok(line, `no line for ${soname}`);
      if (cached.has(soname)) assert.match(line!, / found /);
      else {
        assert.match(line!, new RegExp(`^  ${soname.replace(/\./g, '\\.')} +missing \\(`));
        const next = text.split('\n')[text.split('\n').indexOf(line!) + 1];
        assert.match(next, /^ +fix: /);
      }
    }
    if (noNvidiaSmi() && !fs.existsSync('/dev/nvidia0')) {
      assert.match(
        text,
        /=> the GPU path cannot be used: no NVIDIA GPU found \(nvidia-smi is not on PATH and there is no \/dev\/nvidia0\)/,
      );
    }
    // ONNX Runtime and Jupyter.
    assert.match(text, new RegExp(`\\n  version ${version('onnxruntime-node').replace(/\./g, '\\.')}; execution providers bundled: cpu`));
    // Its providers, the Vulkan side of WebGPU, and what runs the frozen layers.
    assert.match(text, /\n  libvulkan\.so\.1     (found|missing)/);
    assert.match(text, /\n  WebGPU adapter     /);
    assert.match(text, /\n  provider cuda      /);
    assert.match(text, /\n  provider cpu       usable: always available\n/);
    assert.match(text, /\n  => the frozen layers run on: ONNX Runtime on /);
    if (!fs.existsSync(path.join(ROOT, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so'))) {
      assert.match(
        text,
        /provider cuda      not usable: listed, but its library \(libonnxruntime_providers_cuda\.so\) is not installed\n +fix: `npm run setup:cuda` downloads it/,
      );
    }
    assert.match(text, /\nLegacy CUDA route: tfjs-node-gpu \(libtensorflow 2\.9\.1: CUDA 11\.2, cuDNN 8\.1\)\n/);
    const listed = kernelspecListed();
    if (listed === true) assert.match(text, /kernelspec +tslab-dl installed in /);
    if (listed === false)
      assert.match(text, /kernelspec +tslab-dl not installed\n +no kernelspec named tslab-dl: run `npx tslab-dl install`/);
    if (fs.existsSync('/usr/bin/jupyter')) assert.match(text, /\n  jupyter +\/usr\/bin\/jupyter \(jupyter_core /);
    assert.match(text, /\nResult: OK, TensorFlow\.js runs on wasm\.\n$/);
  });

  test('--json parses and says what the text says', (t) => {
    if (!text) return t.skip('the text report did not run');
    const r = runDoctor(['--json'], { LD_LIBRARY_PATH: '/nonexistent/cuda/lib64', TSLAB_DL_BACKEND: '' });
    assert.equal(r.code, 0, r.stderr);
    json = JSON.parse(r.stdout);
    assert.equal(json.ok, true);
    assert.equal(json.backend.chosen, 'wasm');
    assert.equal(json.backend.usingGpu, false);
    assert.deepEqual(
      json.backend.candidates.map((c) => [c.name, c.status]),
      [
        ['tfjs-node-gpu', 'not installed'],
        ['webgpu', 'not tried'],
        ['tfjs-node', 'not installed'],
        ['wasm', 'chosen'],
        ['cpu', 'not tried'],
      ],
    );
    for (const c of json.backend.candidates) assert.match(text, new RegExp(`\\n  ${c.name} +${c.status}`));
    for (const [name, v] of Object.entries(json.versions)) assert.ok(text.includes(`  ${name.padEnd(20)} ${v ?? 'not installed'}\n`), name);
    assert.equal(json.gpu.ldLibraryPath, '/nonexistent/cuda/lib64');
    for (const lib of [json.gpu.driver, ...json.gpu.libraries]) {
      const line = text.split('\n').find((l) => l.startsWith(`  ${lib.soname} `))!;
      assert.equal(/ found /.test(line), lib.loads, lib.soname);
      if (!lib.loads) assert.ok(text.includes(`fix: ${lib.fix}`), lib.soname);
    }
    assert.equal(json.gpu.usable, text.includes('=> the GPU path can be used'));
    assert.equal(json.onnxruntime.version, version('onnxruntime-node'));
    assert.ok(json.onnxruntime.providers.some((p) => p.name === 'cpu' && p.bundled));
    assert.deepEqual(
      json.onnxruntime.routes.map((r) => r.name),
      ['cuda', 'webgpu', 'cpu'],
    );
    assert.ok(text.includes(`=> the frozen layers run on: ${json.onnxruntime.frozenLayers}\n`));
    assert.equal(json.webgpu.loader.loads, text.includes('libvulkan.so.1     found'));
    assert.equal(json.jupyter.kernelspec.installed, kernelspecListed() ?? false);
  });

  test('when no backend can start (TSLAB_DL_BACKEND names a missing one): exit code 1, and the reason', () => {
    const r = runDoctor([], { TSLAB_DL_BACKEND: 'tfjs-node' });
    if (installed('@tensorflow/tfjs-node')) return;
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /=> no backend: The tfjs-node backend \(asked for by TSLAB_DL_BACKEND\) cannot be used:/);
    assert.match(r.stdout, /\nResult: NOT OK, no TensorFlow\.js backend works here \(see above\)\.\n$/);
  });

  test('options: --help, and an unknown option is refused', async () => {
    const writes: string[] = [];
    const [out, err] = [process.stdout.write, process.stderr.write];
    process.stdout.write = process.stderr.write = ((chunk: string) => writes.push(String(chunk)) > 0) as any;
    let help: number, bad: number;
    try {
      help = await main(['doctor', '--help']);
      bad = await main(['doctor', '--jsno']);
    } finally {
      [process.stdout.write, process.stderr.write] = [out, err];
    }
    assert.equal(help, 0);
    assert.match(writes[0], /^Usage: tslab-dl doctor \[--json\]/);
    assert.equal(bad, 2);
    assert.match(writes[1], /^tslab-dl doctor: unknown option "--jsno"\./);
  });

  test('through the built command line, bin/tslab-dl.js doctor --json', (t) => {
    const built = path.join(ROOT, 'dist', 'lib', 'doctor', 'doctor.js');
    if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < fs.statSync(path.join(ROOT, 'lib', 'doctor', 'doctor.ts')).mtimeMs) {
      return t.skip('dist/lib/doctor/doctor.js is missing or older than lib/doctor/doctor.ts: run `npm run build` first');
    }
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'tslab-dl.js'), 'doctor', '--json'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 180_000,
      env: { ...process.env, TSLAB_DL_BACKEND: '' },
    });
    assert.equal(r.status, 0, r.stderr);
    const report: DoctorReport = JSON.parse(r.stdout);
    assert.equal(report.ok, true);
    assert.ok(report.backend.chosen);
  });
});

describe('the WebGPU route on a software Vulkan (lavapipe)', () => {
  test('names the software adapter, says it is never chosen automatically, and that the CPU provider runs the frozen layers', (t) => {
    const lavapipe = lavapipeEnv();
    if (!lavapipe.env) return t.skip(lavapipe.missing);
    const env = { ...lavapipe.env, TSLAB_DL_BACKEND: 'wasm', TSLAB_DL_EXECUTOR: '' };
    const r = runDoctor([], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\n  Vulkan drivers     lvp_icd\.json \(from VK_DRIVER_FILES\); no NVIDIA ICD \(nvidia_icd\.json\)\n/);
    assert.match(
      r.stdout,
      /\n  WebGPU adapter     llvmpipe: Mesa [^\n]* \(vendor mesa; software: never chosen automatically, executor 'onnx-webgpu' forces it\)\n/,
    );
    assert.match(r.stdout, /\n  provider webgpu    usable when forced \(a software adapter, see above\)\n/);
    assert.match(r.stdout, /\n  => the frozen layers run on: ONNX Runtime on the CPU \(executor 'auto'\)\n/);
    const json: DoctorReport = JSON.parse(runDoctor(['--json'], env).stdout);
    assert.equal(json.webgpu.probe.adapter?.software, true);
    assert.equal(json.onnxruntime.chosen, 'cpu');
    const webgpu = json.onnxruntime.routes.find((x) => x.name === 'webgpu')!;
    assert.deepEqual([webgpu.usable, webgpu.automatic], [true, false]);
  });

  test('TSLAB_DL_EXECUTOR forcing WebGPU: the doctor says the frozen layers run on the software adapter', (t) => {
    const lavapipe = lavapipeEnv();
    if (!lavapipe.env) return t.skip(lavapipe.missing);
    const r = runDoctor([], { ...lavapipe.env, TSLAB_DL_BACKEND: 'wasm', TSLAB_DL_EXECUTOR: 'onnx-webgpu' });
    assert.match(
      r.stdout,
      /\n  => the frozen layers run on: ONNX Runtime on WebGPU: llvmpipe[^\n]* \(software\) \(TSLAB_DL_EXECUTOR=onnx-webgpu\)\n/,
    );
  });
});

describe('await doctor() in a notebook', () => {
  test('shows the report once, as HTML and as the same text, and returns nothing', async () => {
    const shown: MimeBundle[] = [];
    (globalThis as any)[KERNEL_HOOK] = { display: (data: MimeBundle) => shown.push(data), interruptRequested: false };
    let result: unknown;
    try {
      result = await doctor();
    } finally {
      delete (globalThis as any)[KERNEL_HOOK];
    }
    assert.equal(result, undefined);
    assert.equal(shown.length, 1);
    const html = String(shown[0]['text/html']);
    const plain = String(shown[0]['text/plain']);
    const report = await diagnose();
    assert.match(html, new RegExp(`^<h3>tslab-dl doctor: OK, TensorFlow\\.js runs on <b>${report.backend.chosen}</b>`));
    assert.ok(html.includes('<td style="text-align:left;vertical-align:top"><code>libcudart.so.11.0</code></td>'));
    // The text part is the terminal report (the kernel's own checks may differ in timing, not content).
    assert.equal(plain.split('\n').slice(0, 20).join('\n'), formatReport(report).split('\n').slice(0, 20).join('\n'));
  });
});

describe('loading an installed tfjs-node(-gpu) in a child process', () => {
  // Stand-ins for the native packages, which cannot be installed here (their install script downloads libtensorflow).
  const madeDirs: string[] = [];
  after(() => {
    for (const dir of madeDirs) fs.rmSync(dir, { recursive: true, force: true });
  });
  function standIn(source: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-probe-'));
    madeDirs.push(dir);
    fs.writeFileSync(path.join(dir, 'index.js'), source);
    return path.join(dir, 'index.js');
  }

  test('a package whose native addon is missing: fails to load, with its own message', async () => {
    const main = standIn(`throw new Error('The Node.js native addon module (tfjs_binding.node) can not be found.\\nRebuild it.');`);
    assert.deepEqual(await probeNativePackage(main), {
      loads: false,
      error: 'The Node.js native addon module (tfjs_binding.node) can not be found. Rebuild it.',
    });
  });

  test('a package that registers a tensorflow backend without a GPU device: loads, on the CPU', async () => {
    const main = standIn(`
const tf = require(${JSON.stringify(require.resolve('@tensorflow/tfjs'))});
const { MathBackendCPU } = require(${JSON.stringify(require.resolve('@tensorflow/tfjs-backend-cpu'))});
tf.registerBackend('tensorflow', () => Object.assign(new MathBackendCPU(), { isUsingGpuDevice: false }), 3);
tf.setBackend('tensorflow');
module.exports = tf;`);
    assert.deepEqual(await probeNativePackage(main), { loads: true, tfBackend: 'tensorflow', usingGpu: false });
  });
});

describe('doctor: the shared cache', () => {
  const saved = process.env.TSLAB_DL_SHARED_CACHE;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-doctor-shared-'));
  after(() => {
    if (saved === undefined) delete process.env.TSLAB_DL_SHARED_CACHE;
    else process.env.TSLAB_DL_SHARED_CACHE = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('names the folder, and what its manifest lists or that it has none', () => {
    process.env.TSLAB_DL_SHARED_CACHE = dir;
    assert.match(sharedCacheLine(checkSharedCache()), /no readable manifest\.json: run `sudo npx tslab-dl prefetch`/);
    const manifest = {
      format: SHARED_MANIFEST_FORMAT,
      version: '0.1.0',
      created: '2026-12-05T00:00:00.000Z',
      prefetched: {},
      files: {
        'models/a.h5': { sha256: 'a'.repeat(64), size: 1_500_000 },
        'features/b.features': { sha256: 'b'.repeat(64), size: 500_000 },
      },
    };
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    const check = checkSharedCache();
    assert.deepEqual(check, { root: dir, files: 2, megabytes: 2, created: manifest.created });
    assert.equal(sharedCacheLine(check), `${dir}: 2 files, 2.0 MB, prefetched 2026-12-05T00:00:00.000Z`);
  });
});

describe('doctor: the kernelspec', () => {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-doctor-kernelspec-'));
  after(() => fs.rmSync(prefix, { recursive: true, force: true }));

  test("an installed kernelspec without the kernel's memory settings is a problem that says to install again", async (t) => {
    if (!fs.existsSync('/usr/bin/python3')) return t.skip('no Jupyter here');
    const install = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'tslab-dl.js'), 'install', '--prefix', prefix], {
      encoding: 'utf8',
    });
    assert.equal(install.status, 0, install.stderr);
    const env = { ...process.env, JUPYTER_PATH: path.join(prefix, 'share', 'jupyter') };
    const fresh = await kernelspecCheck(env, undefined);
    assert.equal(fresh.installed, true);
    assert.deepEqual(
      fresh.problems.filter((p) => /memory settings/.test(p)),
      [],
    );
    // What an older checkout wrote: the V8 flags, one malloc setting of three.
    const file = path.join(prefix, 'share', 'jupyter', 'kernels', 'tslab-dl', 'kernel.json');
    const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
    spec.env = { MALLOC_ARENA_MAX: '2' };
    fs.writeFileSync(file, JSON.stringify(spec));
    const old = await kernelspecCheck(env, undefined);
    assert.deepEqual(
      old.problems.filter((p) => /memory settings/.test(p)),
      [
        "it lacks the kernel's memory settings (MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072), so every kernel it starts " +
          'takes more memory: run `npx tslab-dl install` again (with the same --user, --sys-prefix or --prefix)',
      ],
    );
  });
});
