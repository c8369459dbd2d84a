/**
 * What the CUDA path (tfjs-node-gpu) needs from this machine, and whether it has it.
 *
 * tfjs-node-gpu 4.22 runs libtensorflow 2.9.1, built for CUDA 11.2 and cuDNN 8.1. When
 * TensorFlow starts it dlopens the CUDA libraries below by these exact names
 * (stream_executor/platform/default/dlopen_checker.cc and dso_loader.cc; the numbers are the
 * sonames of CUDA 11.x, set in third_party/gpus/cuda_configure.bzl). If any one is missing it
 * logs a warning, registers no GPU device and silently runs everything on the CPU. So we dlopen
 * the same names ourselves, in a child process that gets the environment under test (the
 * loader reads LD_LIBRARY_PATH only when a process starts), and say which one is missing and
 * how to get it.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { findOnPath, splitPathList } from '../core/find-on-path';

/** One shared library TensorFlow needs for the GPU, and where to get it. */
export interface CudaLibrary {
  soname: string;
  /** What it is, in a few words. */
  role: string;
  /** Debian 12 (non-free) / Ubuntu 22.04 (multiverse) package that ships it. */
  apt?: string;
  /** pip wheel that ships it (its files land in site-packages/nvidia/<pipModule>/lib). */
  pip?: string;
  pipModule?: string;
}

/** The driver library: it comes with the NVIDIA driver, never with CUDA. */
export const CUDA_DRIVER: CudaLibrary = { soname: 'libcuda.so.1', role: 'NVIDIA driver, CUDA driver API' };

/** The CUDA 11 / cuDNN 8 libraries libtensorflow 2.9 dlopens before it registers a GPU. */
export const CUDA_LIBRARIES: readonly CudaLibrary[] = [
  {
    soname: 'libcudart.so.11.0',
    role: 'CUDA 11 runtime',
    apt: 'libcudart11.0',
    pip: 'nvidia-cuda-runtime-cu11',
    pipModule: 'cuda_runtime',
  },
  { soname: 'libcublas.so.11', role: 'cuBLAS 11', apt: 'libcublas11', pip: 'nvidia-cublas-cu11', pipModule: 'cublas' },
  { soname: 'libcublasLt.so.11', role: 'cuBLASLt 11', apt: 'libcublaslt11', pip: 'nvidia-cublas-cu11', pipModule: 'cublas' },
  { soname: 'libcufft.so.10', role: 'cuFFT 10', apt: 'libcufft10', pip: 'nvidia-cufft-cu11', pipModule: 'cufft' },
  { soname: 'libcurand.so.10', role: 'cuRAND 10', apt: 'libcurand10', pip: 'nvidia-curand-cu11', pipModule: 'curand' },
  { soname: 'libcusolver.so.11', role: 'cuSOLVER 11', apt: 'libcusolver11', pip: 'nvidia-cusolver-cu11', pipModule: 'cusolver' },
  { soname: 'libcusparse.so.11', role: 'cuSPARSE 11', apt: 'libcusparse11', pip: 'nvidia-cusparse-cu11', pipModule: 'cusparse' },
  // cuDNN is in no Debian/Ubuntu archive; 8.x later than 8.1 works (same soname, newer minor).
  { soname: 'libcudnn.so.8', role: 'cuDNN 8', pip: "'nvidia-cudnn-cu11<9'", pipModule: 'cudnn' },
];

/** Whether the dynamic loader finds and loads one library, and what to do if not. */
export interface LibraryCheck {
  soname: string;
  role: string;
  /** dlopen() of the bare soname succeeded, as it must for TensorFlow. */
  loads: boolean;
  /** Where the loader takes it from (LD_LIBRARY_PATH, the ldconfig cache, default folders). */
  path?: string;
  /** The loader's own message when it does not load. */
  error?: string;
  /** Copies with this exact name in folders the loader does not search. */
  elsewhere: string[];
  /** Other versions the loader does know (e.g. libcudart.so.12 when 11.0 is wanted). */
  otherVersions: string[];
  /** The exact fix, when it does not load. */
  fix?: string;
}

/** What nvidia-smi says, when it exists. */
export interface NvidiaSmi {
  found: boolean;
  /** One line per GPU, as `nvidia-smi -L` prints them. */
  gpus: string[];
  /** The plain `nvidia-smi` output (the driver and CUDA versions, memory in use). */
  output?: string;
  error?: string;
}

/**
 * What {@link checkGpu} finds for tfjs-node-gpu's CUDA route: nvidia-smi, the GPU device files,
 * the driver, and whether each CUDA library it needs loads.
 */
export interface GpuCheck {
  /** What nvidia-smi reports (GPUs, driver version), or why it could not run. */
  nvidiaSmi: NvidiaSmi;
  /** /dev/nvidia0, /dev/nvidia1, ...: the GPUs this process can open. */
  deviceFiles: string[];
  /** The NVIDIA driver library (libcuda.so.1). */
  driver: LibraryCheck;
  /** The CUDA and cuDNN libraries tfjs-node-gpu needs ({@link CUDA_LIBRARIES}). */
  libraries: LibraryCheck[];
  /** A GPU is visible and every library loads: TensorFlow should register the GPU. */
  usable: boolean;
  /** Why not, one line each; empty when usable. */
  problems: string[];
  /** LD_LIBRARY_PATH as the check saw it. */
  ldLibraryPath: string;
}

// dlopen through Node itself: a library that loads but is no Node addon throws
// "Module did not self-register", which proves the loader found and loaded it.
const DLOPEN_SCRIPT = `
const out = {};
for (const name of JSON.parse(process.argv[1])) {
  try { process.dlopen({ exports: {} }, name); out[name] = { loads: true }; }
  catch (e) {
    const message = String(e && e.message);
    out[name] = message.includes('did not self-register') ? { loads: true } : { loads: false, error: message };
  }
}
process.stdout.write(JSON.stringify(out));
`;

function run(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as any).code === 'number' ? (error as any).code : null) : 0;
      resolve({ code, stdout, stderr, error: error ?? undefined });
    });
  });
}

/** dlopen()s each name in a fresh process with `env`; the loader's verdict per name. */
export async function dlopenInChild(
  sonames: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Map<string, { loads: boolean; error?: string }>> {
  const result = await run(process.execPath, ['-e', DLOPEN_SCRIPT, JSON.stringify(sonames)], env);
  let parsed: Record<string, { loads: boolean; error?: string }>;
  try {
    parsed = JSON.parse(result.stdout);
  } catch {
    const why = (result.stderr || result.error?.message || 'no output').trim().split('\n')[0];
    throw new Error(`Could not check the CUDA libraries: the dlopen helper process failed (${why}).`);
  }
  return new Map(Object.entries(parsed));
}

/** `ldconfig -p`: soname -> path, for the x86-64 (or this machine's) entries. */
function ldconfigCache(env: NodeJS.ProcessEnv): Promise<Map<string, string>> {
  const cache = new Map<string, string>();
  const ldconfig = ['/sbin/ldconfig', '/usr/sbin/ldconfig'].find((p) => fs.existsSync(p)) ?? 'ldconfig';
  return run(ldconfig, ['-p'], env, 10_000).then(({ stdout }) => {
    for (const line of stdout.split('\n')) {
      const m = /^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)/.exec(line);
      if (!m) continue;
      const is64 = m[2].includes('64');
      if (os.arch() === 'x64' && !is64) continue;
      if (!cache.has(m[1])) cache.set(m[1], m[3]);
    }
    return cache;
  });
}

const DEFAULT_LIB_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64', '/lib', '/usr/lib'];

/** Expands `*` path segments against the file system (no other glob syntax). */
function expandPattern(pattern: string): string[] {
  let found = ['/'];
  for (const part of pattern.split('/').filter(Boolean)) {
    const next: string[] = [];
    for (const base of found) {
      if (!part.includes('*')) {
        next.push(path.join(base, part));
        continue;
      }
      const re = new RegExp(
        '^' +
          part
            .split('*')
            .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*') +
          '$',
      );
      let entries: string[] = [];
      try {
        entries = fs.readdirSync(base);
      } catch {
        continue;
      }
      for (const entry of entries) if (re.test(entry)) next.push(path.join(base, entry));
    }
    found = next;
  }
  return found.filter((p) => fs.existsSync(p));
}

/** Folders where CUDA libraries usually sit without being on the loader's path. */
function cudaFolders(env: NodeJS.ProcessEnv): string[] {
  const home = env.HOME ?? os.homedir();
  const patterns = [
    '/usr/local/cuda/lib64',
    '/usr/local/cuda-*/lib64',
    '/usr/local/cuda-*/lib',
    '/usr/local/cuda-*/targets/x86_64-linux/lib',
    '/usr/lib/cuda/lib64',
    '/opt/conda/lib',
    '/usr/local/lib/python3*/dist-packages/nvidia/*/lib',
    '/usr/lib/python3/dist-packages/nvidia/*/lib',
    `${home}/.local/lib/python3*/site-packages/nvidia/*/lib`,
  ];
  for (const prefix of [env.CONDA_PREFIX, env.VIRTUAL_ENV]) {
    if (prefix) patterns.push(`${prefix}/lib`, `${prefix}/lib/python3*/site-packages/nvidia/*/lib`);
  }
  return [...new Set(patterns.flatMap(expandPattern))];
}

function stem(soname: string): string {
  return soname.slice(0, soname.indexOf('.so') + 3);
}

function fixFor(lib: CudaLibrary, check: Omit<LibraryCheck, 'fix'>): string | undefined {
  if (check.loads) return undefined;
  if (check.elsewhere.length > 0) {
    const dir = path.dirname(check.elsewhere[0]);
    return `it is in ${dir}, where the loader does not look: \`export LD_LIBRARY_PATH=${dir}:$LD_LIBRARY_PATH\` in the shell that starts Jupyter or node (or add ${dir} to a file in /etc/ld.so.conf.d/ and run \`sudo ldconfig\`)`;
  }
  if (check.error && !/cannot open shared object file: No such file or directory/.test(check.error)) {
    return `it exists but does not load (${check.error}): reinstall it, or install what the message names`;
  }
  if (lib === CUDA_DRIVER) {
    return 'it comes with the NVIDIA driver: install the driver for your GPU (Debian: `apt-get install nvidia-driver` from non-free; Ubuntu: `ubuntu-drivers install`); in a container, start it with the NVIDIA Container Toolkit (`docker run --gpus all ...`)';
  }
  const ways: string[] = [];
  if (lib.apt) ways.push(`\`sudo apt-get install ${lib.apt}\` (Debian 12 non-free, Ubuntu 22.04 multiverse)`);
  else ways.push("NVIDIA's CUDA apt repository: `sudo apt-get install libcudnn8`");
  if (lib.pip && lib.pipModule) {
    ways.push(
      `\`pip install ${lib.pip}\`, then \`export LD_LIBRARY_PATH=$(python3 -c 'import nvidia.${lib.pipModule} as m; print(m.__path__[0])')/lib:$LD_LIBRARY_PATH\``,
    );
  }
  let fix = ways.join(', or ');
  if (check.otherVersions.length > 0) {
    fix += ` (the loader has ${check.otherVersions.join(', ')}, another version: libtensorflow 2.9 needs exactly ${lib.soname}; CUDA 11 libraries install beside other CUDA versions)`;
  }
  return fix;
}

/** Checks each library the way TensorFlow loads it, with where it is and the fix when it is not. */
export async function checkLibraries(libraries: readonly CudaLibrary[], env: NodeJS.ProcessEnv = process.env): Promise<LibraryCheck[]> {
  const [verdicts, cache] = await Promise.all([
    dlopenInChild(
      libraries.map((l) => l.soname),
      env,
    ),
    ldconfigCache(env),
  ]);
  const searchDirs = [...splitPathList(env.LD_LIBRARY_PATH), ...DEFAULT_LIB_DIRS];
  const extraDirs = cudaFolders(env).filter((dir) => !searchDirs.includes(dir));
  return libraries.map((lib) => {
    const verdict = verdicts.get(lib.soname) ?? { loads: false, error: 'not checked' };
    const onPath = searchDirs.map((dir) => path.join(dir, lib.soname)).find((p) => fs.existsSync(p)) ?? cache.get(lib.soname);
    const elsewhere = verdict.loads ? [] : extraDirs.map((dir) => path.join(dir, lib.soname)).filter((p) => fs.existsSync(p));
    const prefix = stem(lib.soname) + '.';
    const otherVersions = [...cache.keys()].filter((name) => name.startsWith(prefix) && name !== lib.soname).sort();
    const check = {
      soname: lib.soname,
      role: lib.role,
      loads: verdict.loads,
      path: verdict.loads ? onPath : undefined,
      error: verdict.error,
      elsewhere,
      otherVersions,
    };
    return { ...check, fix: fixFor(lib, check) };
  });
}

/** Runs `nvidia-smi -L` and `nvidia-smi` when it is on PATH. */
export async function runNvidiaSmi(env: NodeJS.ProcessEnv = process.env): Promise<NvidiaSmi> {
  const binary = findOnPath('nvidia-smi', env);
  if (!binary) return { found: false, gpus: [], error: 'nvidia-smi is not on PATH' };
  const [list, full] = await Promise.all([run(binary, ['-L'], env, 20_000), run(binary, [], env, 20_000)]);
  const gpus = list.stdout
    .split('\n')
    .filter((line) => /^GPU \d+:/.test(line.trim()))
    .map((line) => line.trim());
  const failed = list.code !== 0 ? (list.stdout + list.stderr).trim().split('\n')[0] || `exit code ${list.code}` : undefined;
  return {
    found: true,
    gpus,
    output: full.stdout.trimEnd() || undefined,
    error: failed ?? (gpus.length === 0 ? 'nvidia-smi lists no GPU' : undefined),
  };
}

function nvidiaDeviceFiles(): string[] {
  try {
    return fs
      .readdirSync('/dev')
      .filter((name) => /^nvidia\d+$/.test(name))
      .map((name) => `/dev/${name}`);
  } catch {
    return [];
  }
}

/** Everything the CUDA path needs, checked on this machine with `env` (LD_LIBRARY_PATH, PATH). */
export async function checkGpu(env: NodeJS.ProcessEnv = process.env): Promise<GpuCheck> {
  const [nvidiaSmi, checks] = await Promise.all([runNvidiaSmi(env), checkLibraries([CUDA_DRIVER, ...CUDA_LIBRARIES], env)]);
  const [driver, ...libraries] = checks;
  const deviceFiles = nvidiaDeviceFiles();
  const problems: string[] = [];
  const gpuSeen = nvidiaSmi.gpus.length > 0 || (!nvidiaSmi.found && deviceFiles.length > 0);
  if (!gpuSeen) {
    problems.push(
      nvidiaSmi.found
        ? `no NVIDIA GPU: ${nvidiaSmi.error}`
        : `no NVIDIA GPU found (nvidia-smi is not on PATH and there is no /dev/nvidia0)`,
    );
  }
  // TensorFlow sees only the GPUs CUDA_VISIBLE_DEVICES lets through ('' and -1 hide all of them).
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined && (visible.trim() === '' || visible.trim().startsWith('-'))) {
    problems.push(`CUDA_VISIBLE_DEVICES=${JSON.stringify(visible)} hides every GPU: unset it, or set it to the GPU to use (e.g. 0)`);
  }
  if (!driver.loads) problems.push(`the NVIDIA driver library ${driver.soname} does not load`);
  const missing = libraries.filter((l) => !l.loads).map((l) => l.soname);
  if (missing.length > 0) problems.push(`CUDA 11 / cuDNN 8 libraries the loader cannot load: ${missing.join(', ')}`);
  return { nvidiaSmi, deviceFiles, driver, libraries, usable: problems.length === 0, problems, ldLibraryPath: env.LD_LIBRARY_PATH ?? '' };
}
