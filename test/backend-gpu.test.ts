// The CUDA check behind tfjs-node-gpu (lib/backends/cuda-libraries.ts): real dlopen() in a child process with the
// environment under test, against real shared libraries placed where the test says.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CUDA_DRIVER, CUDA_LIBRARIES, checkGpu, checkLibraries, runNvidiaSmi } from '../lib/backends/cuda-libraries';

// The libraries libtensorflow 2.9 (CUDA 11.2, cuDNN 8.1) dlopens, and the packages that ship them,
// written out here from TensorFlow's dlopen_checker.cc / cuda_configure.bzl and the Debian/PyPI names.
const EXPECTED: [soname: string, apt: string | undefined, pip: string][] = [
  ['libcudart.so.11.0', 'libcudart11.0', 'nvidia-cuda-runtime-cu11'],
  ['libcublas.so.11', 'libcublas11', 'nvidia-cublas-cu11'],
  ['libcublasLt.so.11', 'libcublaslt11', 'nvidia-cublas-cu11'],
  ['libcufft.so.10', 'libcufft10', 'nvidia-cufft-cu11'],
  ['libcurand.so.10', 'libcurand10', 'nvidia-curand-cu11'],
  ['libcusolver.so.11', 'libcusolver11', 'nvidia-cusolver-cu11'],
  ['libcusparse.so.11', 'libcusparse11', 'nvidia-cusparse-cu11'],
  ['libcudnn.so.8', undefined, 'nvidia-cudnn-cu11'],
];

function ldconfig(): Map<string, string> {
  const out = spawnSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' }).stdout ?? '';
  const found = new Map<string, string>();
  for (const line of out.split('\n')) {
    const m = /^\s*(\S+) \(([^)]*x86-64[^)]*)\) => (\S+)/.exec(line);
    if (m && !found.has(m[1])) found.set(m[1], m[3]);
  }
  return found;
}

/** A real, dependency-free shared library of this machine to copy under CUDA names. */
function realLibrary(): string | undefined {
  return ldconfig().get('libz.so.1');
}

const madeDirs: string[] = [];
after(() => {
  for (const dir of madeDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-gpu-'));
  madeDirs.push(dir);
  return dir;
}

const bareEnv = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME, ...extra });

describe('the CUDA libraries libtensorflow 2.9 needs', () => {
  test('are the eight TensorFlow dlopens, plus the driver', () => {
    assert.deepEqual(
      CUDA_LIBRARIES.map((l) => l.soname),
      EXPECTED.map((e) => e[0]),
    );
    assert.equal(CUDA_DRIVER.soname, 'libcuda.so.1');
  });

  test('with a bogus LD_LIBRARY_PATH, each one the loader does not know is missing, with the loader message and a package to install', async () => {
    const cached = ldconfig();
    const checks = await checkLibraries(CUDA_LIBRARIES, bareEnv({ LD_LIBRARY_PATH: '/nonexistent/bogus' }));
    for (const [soname, apt, pip] of EXPECTED) {
      const check = checks.find((c) => c.soname === soname)!;
      assert.equal(check.loads, cached.has(soname), soname);
      if (check.loads) continue;
      assert.equal(check.error, `${soname}: cannot open shared object file: No such file or directory`);
      assert.equal(check.path, undefined);
      if (apt) assert.ok(check.fix!.includes(`\`sudo apt-get install ${apt}\``), check.fix);
      else assert.ok(check.fix!.includes('`sudo apt-get install libcudnn8`'), check.fix);
      assert.ok(check.fix!.includes(`pip install ${soname === 'libcudnn.so.8' ? "'nvidia-cudnn-cu11<9'" : pip}`), check.fix);
      assert.ok(check.fix!.includes('export LD_LIBRARY_PATH='), check.fix);
      // Other versions the cache knows (e.g. CUDA 12's libcudart.so.12) are named, never taken for this one.
      const stem = soname.slice(0, soname.indexOf('.so') + 4);
      const others = [...cached.keys()].filter((n) => n.startsWith(stem) && n !== soname).sort();
      assert.deepEqual(check.otherVersions, others);
    }
  });

  test('copies in LD_LIBRARY_PATH are found there; with no GPU the only problem left is the missing GPU', async (t) => {
    const lib = realLibrary();
    if (!lib) return t.skip('no libz.so.1 in the ldconfig cache to copy');
    const dir = tempDir();
    for (const soname of [CUDA_DRIVER.soname, ...EXPECTED.map((e) => e[0])]) fs.copyFileSync(lib, path.join(dir, soname));
    const env = bareEnv({ LD_LIBRARY_PATH: `/nonexistent/first:${dir}`, PATH: '/nonexistent-bin' });
    const gpu = await checkGpu(env);
    for (const check of [gpu.driver, ...gpu.libraries]) {
      assert.deepEqual([check.soname, check.loads, check.path, check.fix], [check.soname, true, path.join(dir, check.soname), undefined]);
    }
    assert.equal(gpu.nvidiaSmi.found, false);
    if (fs.existsSync('/dev/nvidia0')) return;
    assert.equal(gpu.usable, false);
    assert.deepEqual(gpu.problems, ['no NVIDIA GPU found (nvidia-smi is not on PATH and there is no /dev/nvidia0)']);
  });

  test('a file with the right name that is not a library: found but does not load, and the loader says why', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'libcudnn.so.8'), 'not an ELF file\n'.repeat(20));
    const [check] = await checkLibraries([CUDA_LIBRARIES.find((l) => l.soname === 'libcudnn.so.8')!], bareEnv({ LD_LIBRARY_PATH: dir }));
    assert.equal(check.loads, false);
    assert.match(check.error!, /libcudnn\.so\.8: invalid ELF header/);
    assert.match(check.fix!, /^it exists but does not load \(.*invalid ELF header\): reinstall it, or install what the message names$/);
  });

  test('a copy outside the loader path (a conda prefix) gets the exact LD_LIBRARY_PATH line as its fix', async (t) => {
    const lib = realLibrary();
    if (!lib) return t.skip('no libz.so.1 in the ldconfig cache to copy');
    const prefix = tempDir();
    fs.mkdirSync(path.join(prefix, 'lib'));
    fs.copyFileSync(lib, path.join(prefix, 'lib', 'libcudart.so.11.0'));
    const [check] = await checkLibraries([CUDA_LIBRARIES[0]], bareEnv({ LD_LIBRARY_PATH: '/nonexistent/bogus', CONDA_PREFIX: prefix }));
    assert.equal(check.loads, ldconfig().has('libcudart.so.11.0'));
    if (check.loads) return t.skip('this machine has libcudart.so.11.0 on the loader path');
    assert.deepEqual(check.elsewhere, [path.join(prefix, 'lib', 'libcudart.so.11.0')]);
    assert.ok(
      check.fix!.startsWith(
        `it is in ${prefix}/lib, where the loader does not look: \`export LD_LIBRARY_PATH=${prefix}/lib:$LD_LIBRARY_PATH\``,
      ),
      check.fix,
    );
  });
});

describe('nvidia-smi', () => {
  // A stand-in nvidia-smi script on PATH: the real one needs a GPU and its driver.
  function fakeNvidiaSmi(script: string): string {
    const bin = tempDir();
    fs.writeFileSync(path.join(bin, 'nvidia-smi'), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    return bin;
  }

  test('the GPUs it lists count as GPUs, and its full output is kept; with every library present the GPU path is usable', async (t) => {
    const lib = realLibrary();
    if (!lib) return t.skip('no libz.so.1 in the ldconfig cache to copy');
    const bin = fakeNvidiaSmi(
      'if [ "$1" = "-L" ]; then echo "GPU 0: NVIDIA H200 (UUID: GPU-0000)"; else echo "| NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: 12.4 |"; fi',
    );
    const dir = tempDir();
    for (const soname of [CUDA_DRIVER.soname, ...EXPECTED.map((e) => e[0])]) fs.copyFileSync(lib, path.join(dir, soname));
    const gpu = await checkGpu(bareEnv({ PATH: bin, LD_LIBRARY_PATH: dir }));
    assert.deepEqual(gpu.nvidiaSmi, {
      found: true,
      gpus: ['GPU 0: NVIDIA H200 (UUID: GPU-0000)'],
      output: '| NVIDIA-SMI 550.54.15   Driver Version: 550.54.15   CUDA Version: 12.4 |',
      error: undefined,
    });
    assert.deepEqual([gpu.usable, gpu.problems], [true, []]);
    // The same machine with every GPU hidden from CUDA.
    const hidden = await checkGpu(bareEnv({ PATH: bin, LD_LIBRARY_PATH: dir, CUDA_VISIBLE_DEVICES: '-1' }));
    assert.deepEqual(
      [hidden.usable, hidden.problems],
      [false, ['CUDA_VISIBLE_DEVICES="-1" hides every GPU: unset it, or set it to the GPU to use (e.g. 0)']],
    );
  });

  test('a failing nvidia-smi (driver not loaded) is a problem in its own words', async () => {
    const bin = fakeNvidiaSmi(`echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."; exit 9`);
    const smi = await runNvidiaSmi(bareEnv({ PATH: bin }));
    assert.deepEqual([smi.found, smi.gpus], [true, []]);
    assert.equal(smi.error, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.");
    const gpu = await checkGpu(bareEnv({ PATH: bin, LD_LIBRARY_PATH: '/nonexistent' }));
    assert.equal(gpu.usable, false);
    assert.equal(gpu.problems[0], "no NVIDIA GPU: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.");
  });
});
