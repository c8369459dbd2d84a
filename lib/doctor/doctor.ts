/**
 * `npx tslab-dl doctor` and `await doctor()`: what this machine runs the lesson on, and what
 * is missing, with the fix for each thing. One report, three renderings: plain text for a
 * terminal, JSON for tools (`--json`), HTML in a notebook.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BACKEND_ORDER, BackendCandidate, BackendInfo, BackendName, ready } from '../backends/selection';
import { display, escapeXml, JUPYTER_DISPLAY, MimeBundle } from '../notebook/display';
import { KERNEL_ENVIRONMENT, KERNEL_NODE_FLAGS } from '../notebook/kernel-settings';
import { checkGpu, GpuCheck, LibraryCheck } from '../backends/cuda-libraries';
import { findOnPath } from '../core/find-on-path';
import { checkCudaProvider, describeProvider, OnnxProvider, ProviderStatus, providerStatuses } from '../onnx/providers';
import { checkVulkan, VulkanCheck } from '../backends/vulkan';
import { adapterName } from '../backends/webgpu-adapter';
import { DEFAULT_SHARED_CACHE, sharedCacheRoot } from '../core/cache-root';
import { readSharedManifest } from '../core/shared-cache';

export interface DoctorCandidate extends BackendCandidate {
  /** chosen; skipped (tried and unusable); loadable / fails to load (checked in a child process); not tried; not installed. */
  status: 'chosen' | 'skipped' | 'loadable' | 'fails to load' | 'not tried' | 'not installed';
}

export interface KernelspecCheck {
  installed: boolean;
  /** The command that listed the kernelspecs. */
  listedBy?: string;
  resourceDir?: string;
  argv?: string[];
  /** Problems with an installed kernelspec (a node binary or script that no longer exists). */
  problems: string[];
  error?: string;
}

/**
 * What {@link diagnose} finds on this machine and {@link doctor} shows: versions, the backends,
 * the GPU routes (CUDA for tfjs-node-gpu, WebGPU, ONNX Runtime's providers) and Jupyter.
 */
export interface DoctorReport {
  /** A TensorFlow.js backend works: the lesson can run. */
  ok: boolean;
  /** Versions of Node.js and the packages that matter (null: not installed). */
  versions: { [name: string]: string | null };
  /** The backend chosen (or why none could be), and every candidate with its reason. */
  backend: {
    chosen?: BackendName;
    tfBackend?: string;
    usingGpu: boolean;
    requestedBy?: BackendInfo['requestedBy'];
    /** Why no backend could be started. */
    error?: string;
    candidates: DoctorCandidate[];
  };
  /** The legacy CUDA route: tfjs-node-gpu (libtensorflow 2.9.1, CUDA 11.2, cuDNN 8.1). */
  gpu: GpuCheck;
  /** The WebGPU route: the Vulkan loader, its drivers, the adapter Dawn offers. */
  webgpu: VulkanCheck;
  /** ONNX Runtime, which runs the frozen layers when installed: its version and execution providers. */
  onnxruntime: {
    installed: boolean;
    version?: string;
    /** Execution providers this build lists; `bundled: false` ones need its install script (`npm run setup:cuda`). */
    providers: { name: string; bundled: boolean }[];
    error?: string;
    /** What each provider can do here, in the order 'onnx' tries them. */
    routes: ProviderStatus[];
    /** The provider executor 'auto' / 'onnx' would run the frozen layers on. */
    chosen?: OnnxProvider;
    /** One line: what runs the frozen layers, TSLAB_DL_EXECUTOR included. */
    frozenLayers: string;
  };
  /** The shared cache an instructor prefetched (`npx tslab-dl prefetch`), as this process sees it. */
  sharedCache: SharedCacheCheck;
  /** Jupyter: whether it was found, its versions, and the tslab-dl kernelspec. */
  jupyter: { found: boolean; command?: string; versions: { [name: string]: string }; error?: string; kernelspec: KernelspecCheck };
}

/** Where the shared cache is and what its manifest lists; `root` undefined when there is none. */
export interface SharedCacheCheck {
  root?: string;
  /** Files the manifest lists; undefined when it has no manifest that can be read. */
  files?: number;
  /** Megabytes the manifest lists. */
  megabytes?: number;
  /** When the prefetch wrote the manifest (ISO 8601). */
  created?: string;
}

/** The shared cache's root and manifest, without hashing anything (kernels verify each file as they read it). */
export function checkSharedCache(): SharedCacheCheck {
  const root = sharedCacheRoot();
  const manifest = root ? readSharedManifest(root) : undefined;
  if (!manifest) return { root };
  const files = Object.values(manifest.files);
  return { root, files: files.length, megabytes: files.reduce((sum, f) => sum + f.size, 0) / 1e6, created: manifest.created };
}

/** Options of {@link doctor} and {@link diagnose}. */
export interface DoctorOptions {
  /** Environment for the checks (PATH, LD_LIBRARY_PATH). Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

const KERNEL_NAME = 'tslab-dl';
const PACKAGE_ROOT = findPackageRoot(__dirname);

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      if (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name === 'tslab-dl') return dir;
    } catch {
      // keep going up
    }
    if (path.dirname(dir) === dir) return path.resolve(from, '..', '..');
  }
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  spawnError?: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8', cwd: PACKAGE_ROOT },
      (error, stdout, stderr) => {
        const code = error ? (typeof (error as any).code === 'number' ? (error as any).code : null) : 0;
        const spawnError =
          error && code === null ? ((error as any).killed ? `timed out after ${timeoutMs / 1000} s` : error.message) : undefined;
        resolve({ code, stdout, stderr, spawnError });
      },
    );
  });
}

function packageVersion(name: string, from = PACKAGE_ROOT): string | null {
  try {
    return JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`, { paths: [from] }), 'utf8')).version;
  } catch {
    return null;
  }
}

async function versions(env: NodeJS.ProcessEnv): Promise<DoctorReport['versions']> {
  // npm tells its version to the scripts it runs; otherwise ask it.
  let npm = /npm\/(\S+)/.exec(env.npm_config_user_agent ?? '')?.[1] ?? null;
  if (!npm) {
    const result = await run('npm', ['--version'], env, 20_000);
    npm = result.code === 0 ? result.stdout.trim() : null;
  }
  const tslabDir = (() => {
    try {
      return path.dirname(require.resolve('tslab/package.json', { paths: [PACKAGE_ROOT] }));
    } catch {
      return undefined;
    }
  })();
  return {
    node: process.version,
    npm,
    'tslab-dl': packageVersion('tslab-dl') ?? JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')).version,
    tslab: packageVersion('tslab'),
    // Installed as tslab's dependency; a plain tslab kernel compiles cells with it. tslab-dl's
    // kernel gives tslab's converter the project's `typescript` instead (kernel/tslab-alias.ts).
    "tslab's TypeScript": tslabDir ? packageVersion('@tslab/typescript-for-tslab', tslabDir) : null,
    typescript: packageVersion('typescript'),
    '@tensorflow/tfjs': packageVersion('@tensorflow/tfjs'),
  };
}

// Loads a native package in a child, so that the doctor never loads a second libtensorflow into
// a kernel that already runs on another backend.
const NATIVE_PROBE = `
const main = process.argv[1];
try {
  const tf = require(main);
  const backend = tf.backend();
  process.stdout.write(JSON.stringify({ loads: true, tfBackend: tf.getBackend(), usingGpu: Boolean(backend && backend.isUsingGpuDevice) }));
} catch (e) {
  process.stdout.write(JSON.stringify({ loads: false, error: String(e && e.message).split('\\n').filter(Boolean).slice(0, 3).join(' ') }));
}
`;

/**
 * Loads a tfjs-node(-gpu) package (its main file) in a child process: does it load, and does
 * TensorFlow list a GPU? The real error when it does not load.
 */
export async function probeNativePackage(
  main: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ loads: boolean; tfBackend?: string; usingGpu?: boolean; error?: string }> {
  const result = await run(process.execPath, ['-e', NATIVE_PROBE, main], env, 120_000);
  try {
    return JSON.parse(result.stdout);
  } catch {
    return { loads: false, error: (result.spawnError ?? result.stderr.trim().split('\n').slice(-1)[0]) || `exit code ${result.code}` };
  }
}

async function backends(env: NodeJS.ProcessEnv): Promise<{ section: DoctorReport['backend']; ok: boolean }> {
  let info: BackendInfo | undefined;
  let error: string | undefined;
  try {
    info = await ready();
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  const known = new Map((info?.candidates ?? []).map((c) => [c.name, c]));
  const candidates: DoctorCandidate[] = [];
  for (const name of BACKEND_ORDER) {
    const c = known.get(name);
    const version =
      c?.version ??
      packageVersion(name === 'cpu' ? '@tensorflow/tfjs' : name === 'wasm' ? '@tensorflow/tfjs-backend-wasm' : `@tensorflow/${name}`) ??
      undefined;
    const base: BackendCandidate = { name, installed: version !== undefined, version, usable: c?.usable, reason: c?.reason };
    if (info?.backend === name) candidates.push({ ...base, status: 'chosen' });
    else if (!base.installed)
      candidates.push({ ...base, status: 'not installed', reason: c?.reason ?? `@tensorflow/${name} is not installed` });
    else if ((name === 'tfjs-node' || name === 'tfjs-node-gpu') && !c?.reason?.startsWith('installed but failed to load')) {
      // Never loaded in this process (not tried, or skipped for want of a GPU): load it in a child.
      const probe = await probeNativePackage(require.resolve(`@tensorflow/${name}`, { paths: [PACKAGE_ROOT] }), env);
      const detail = probe.loads
        ? probe.usingGpu
          ? 'loads, and TensorFlow lists a GPU'
          : 'loads, on the CPU only'
        : `fails to load: ${probe.error}`;
      const status = c?.usable === false ? 'skipped' : probe.loads ? 'loadable' : 'fails to load';
      candidates.push({ ...base, status, reason: `${c?.reason ?? 'not tried'}; checked in a child process: ${detail}` });
    } else if (c?.usable === false) candidates.push({ ...base, status: 'skipped' });
    else candidates.push({ ...base, status: 'not tried', reason: c?.reason ?? 'not tried' });
  }
  return {
    ok: info !== undefined,
    section: {
      chosen: info?.backend,
      tfBackend: info?.tfBackend,
      usingGpu: info?.usingGpu ?? false,
      requestedBy: info?.requestedBy,
      error,
      candidates,
    },
  };
}

async function onnxruntime(env: NodeJS.ProcessEnv, vulkan: VulkanCheck): Promise<DoctorReport['onnxruntime']> {
  const version = packageVersion('onnxruntime-node') ?? undefined;
  const tfjsOnly = 'tfjs (onnxruntime-node is not usable)';
  if (!version) return { installed: false, providers: [], error: 'onnxruntime-node is not installed', routes: [], frozenLayers: tfjsOnly };
  let providers: DoctorReport['onnxruntime']['providers'];
  try {
    const ort = require(require.resolve('onnxruntime-node', { paths: [PACKAGE_ROOT] }));
    providers = (ort.listSupportedBackends?.() ?? []).map((b: { name: string; bundled: boolean }) => ({
      name: b.name,
      bundled: Boolean(b.bundled),
    }));
  } catch (e) {
    const error = `onnxruntime-node is installed but failed to load: ${(e as Error).message.split('\n')[0]}`;
    return { installed: true, version, providers: [], error, routes: [], frozenLayers: tfjsOnly };
  }
  // The adapter as the child process with `env` saw it; the CUDA library loaded with `env` too.
  const routes = await providerStatuses({ webgpu: async () => vulkan.probe, cuda: () => checkCudaProvider(env) });
  const chosen = routes.find((r) => r.automatic)?.name;
  const best = chosen ? describeProvider(chosen, routes) : tfjsOnly;
  const forced = env.TSLAB_DL_EXECUTOR;
  let frozenLayers: string;
  if (!forced || forced === 'auto' || forced === 'onnx')
    frozenLayers = `${best} (executor 'auto'${forced ? `, TSLAB_DL_EXECUTOR=${forced}` : ''})`;
  else if (forced === 'tfjs') frozenLayers = 'tfjs (TSLAB_DL_EXECUTOR=tfjs)';
  else if (['onnx-cuda', 'onnx-webgpu', 'onnx-cpu'].includes(forced)) {
    const route = routes.find((r) => r.name === forced.slice(5));
    frozenLayers = route?.usable
      ? `${describeProvider(route.name, routes)} (TSLAB_DL_EXECUTOR=${forced})`
      : `nothing: TSLAB_DL_EXECUTOR=${forced} asks for a provider that is not usable here (see above)`;
  } else
    frozenLayers = `nothing: TSLAB_DL_EXECUTOR=${JSON.stringify(forced)} is no executor ('auto', 'onnx', 'onnx-cuda', 'onnx-webgpu', 'onnx-cpu' or 'tfjs')`;
  return { installed: true, version, providers, routes, chosen, frozenLayers };
}

function parseJupyterVersions(text: string): { [name: string]: string } {
  const found: { [name: string]: string } = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][\w-]*)\s*:\s*(\S.*?)\s*$/.exec(line);
    if (m && m[2] !== 'not installed') found[m[1]] = m[2];
  }
  return found;
}

async function jupyter(env: NodeJS.ProcessEnv): Promise<DoctorReport['jupyter']> {
  const onPath = findOnPath('jupyter', env);
  // Debian's Jupyter lives under /usr/bin/python3, which may not be the python3 on PATH.
  const attempts: { command: string; file: string; args: string[] }[] = [];
  if (onPath) attempts.push({ command: onPath, file: onPath, args: [] });
  if (fs.existsSync('/usr/bin/python3'))
    attempts.push({ command: '/usr/bin/python3 -m jupyter', file: '/usr/bin/python3', args: ['-m', 'jupyter'] });
  let found: { command: string; versions: { [name: string]: string } } | undefined;
  let error = onPath ? undefined : 'jupyter is not on PATH';
  for (const attempt of attempts) {
    const result = await run(attempt.file, [...attempt.args, '--version'], env, 60_000);
    if (result.code === 0) {
      found = { command: attempt.command, versions: parseJupyterVersions(result.stdout) };
      break;
    }
    error = `${attempt.command} --version failed: ${(result.spawnError ?? result.stderr.trim().split('\n').slice(-1)[0]) || `exit code ${result.code}`}`;
  }
  const kernelspec = await kernelspecCheck(env, onPath);
  if (!found) {
    return {
      found: false,
      versions: {},
      error: `${error}. Install Jupyter: \`pip install jupyterlab\`, or Debian's \`apt-get install jupyter-notebook\``,
      kernelspec,
    };
  }
  return { found: true, command: found.command, versions: found.versions, kernelspec };
}

/**
 * The tslab-dl kernelspec Jupyter lists (with `env`, e.g. its JUPYTER_PATH), and what is wrong with
 * it: a node binary or script that no longer exists, another checkout, missing memory settings.
 */
export async function kernelspecCheck(env: NodeJS.ProcessEnv, jupyterOnPath: string | undefined): Promise<KernelspecCheck> {
  const attempts: { command: string; file: string; args: string[] }[] = [];
  if (jupyterOnPath)
    attempts.push({ command: `${jupyterOnPath} kernelspec list --json`, file: jupyterOnPath, args: ['kernelspec', 'list', '--json'] });
  // `jupyter kernelspec` needs the jupyter-kernelspec script, which some installs lack.
  if (fs.existsSync('/usr/bin/python3')) {
    attempts.push({
      command: '/usr/bin/python3 -m jupyter_client.kernelspecapp list --json',
      file: '/usr/bin/python3',
      args: ['-m', 'jupyter_client.kernelspecapp', 'list', '--json'],
    });
  }
  let error = 'no jupyter to ask';
  for (const attempt of attempts) {
    const result = await run(attempt.file, attempt.args, env, 60_000);
    let listing: {
      kernelspecs?: { [name: string]: { resource_dir: string; spec: { argv: string[]; env?: { [name: string]: string } } } };
    };
    try {
      listing = JSON.parse(result.stdout);
    } catch {
      error = `${attempt.command} failed: ${(result.spawnError ?? result.stderr.trim().split('\n').slice(-1)[0]) || `exit code ${result.code}`}`;
      continue;
    }
    const spec = listing.kernelspecs?.[KERNEL_NAME];
    if (!spec) {
      return {
        installed: false,
        listedBy: attempt.command,
        problems: [`no kernelspec named ${KERNEL_NAME}: run \`npx tslab-dl install\``],
      };
    }
    const argv = spec.spec.argv ?? [];
    const problems: string[] = [];
    if (argv[0] && path.isAbsolute(argv[0]) && !fs.existsSync(argv[0]))
      problems.push(`its node binary ${argv[0]} does not exist: run \`npx tslab-dl install\` again`);
    const script = argv.find((a) => a.endsWith(path.join('bin', 'tslab-dl.js')));
    if (script && !fs.existsSync(script)) problems.push(`its script ${script} does not exist: run \`npx tslab-dl install\` again`);
    else if (script && path.resolve(script) !== path.join(PACKAGE_ROOT, 'bin', 'tslab-dl.js')) {
      problems.push(
        `it runs the tslab-dl in ${path.dirname(path.dirname(script))}, not this one (${PACKAGE_ROOT}): run \`npx tslab-dl install\` here to switch`,
      );
    }
    const missing = [
      ...KERNEL_NODE_FLAGS.filter((flag) => !argv.includes(flag)),
      ...Object.entries(KERNEL_ENVIRONMENT)
        .filter(([name, value]) => spec.spec.env?.[name] !== value)
        .map(([name, value]) => `${name}=${value}`),
    ];
    if (missing.length > 0) {
      problems.push(
        `it lacks the kernel's memory settings (${missing.join(' ')}), so every kernel it starts takes more memory: run \`npx tslab-dl install\` again (with the same --user, --sys-prefix or --prefix)`,
      );
    }
    return { installed: true, listedBy: attempt.command, resourceDir: spec.resource_dir, argv, problems };
  }
  return { installed: false, problems: [], error };
}

/** Gathers the report: versions, backends, ONNX Runtime and its GPU routes (WebGPU, CUDA), tfjs-node-gpu's CUDA, Jupyter. Shows nothing. */
export async function diagnose(options: DoctorOptions = {}): Promise<DoctorReport> {
  const env = options.env ?? process.env;
  const gpuChecks = checkGpu(env).then(async (gpu) => {
    const gpuSeen = gpu.nvidiaSmi.gpus.length > 0 || gpu.deviceFiles.length > 0;
    const webgpu = await checkVulkan(env, gpuSeen);
    return { gpu, webgpu, onnx: await onnxruntime(env, webgpu) };
  });
  const [versionTable, backendPart, { gpu, webgpu, onnx }, jupyterPart] = await Promise.all([
    versions(env),
    backends(env),
    gpuChecks,
    jupyter(env),
  ]);
  return {
    ok: backendPart.ok,
    versions: versionTable,
    backend: backendPart.section,
    gpu,
    webgpu,
    onnxruntime: onnx,
    sharedCache: checkSharedCache(),
    jupyter: jupyterPart,
  };
}

/** What follows a candidate's status: its package when chosen, else what the reason adds to the status. */
function candidateDetail(c: DoctorCandidate): string {
  if (c.status === 'chosen')
    return ` (${c.name === 'cpu' ? '@tensorflow/tfjs' : c.name === 'wasm' ? '@tensorflow/tfjs-backend-wasm' : `@tensorflow/${c.name}`} ${c.version})`;
  const reason = (c.reason ?? '').replace(/^\S+ is not installed\s*/, '').replace(/^not tried: /, '');
  return reason ? (reason.startsWith('(') ? ` ${reason}` : `: ${reason}`) : '';
}

/** Escapes text for HTML and shows `commands` as code. */
function htmlText(text: string): string {
  return escapeXml(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

function libraryLine(lib: LibraryCheck): string {
  if (lib.loads) return `${lib.soname.padEnd(19)} found${lib.path ? ` at ${lib.path}` : ''} (${lib.role})`;
  const why = lib.error && !/No such file or directory/.test(lib.error) ? `does not load: ${lib.error}` : 'missing';
  return `${lib.soname.padEnd(19)} ${why} (${lib.role})\n${' '.repeat(23)}fix: ${lib.fix}`;
}

const FIX_INDENT = ' '.repeat(21);

/** The WebGPU adapter in words: name, vendor, software or hardware. */
function adapterText(v: VulkanCheck): string {
  const a = v.probe.adapter;
  if (!a) return `none: ${(v.probe.reason ?? '').replace(/^no WebGPU adapter: /, '')}`;
  const name = adapterName(a);
  return `${name} (vendor ${a.vendor || 'unknown'}; ${a.software ? "software: never chosen automatically, executor 'onnx-webgpu' forces it" : 'hardware'})`;
}

/** ONNX Runtime, the WebGPU route under it, and what would run the frozen layers, as text lines. */
function onnxLines(report: DoctorReport): string[] {
  const o = report.onnxruntime;
  const v = report.webgpu;
  const out = ['ONNX Runtime (onnxruntime-node): runs the frozen layers'];
  if (!o.installed || o.error) out.push(`  ${o.error}`);
  if (o.installed && o.version) {
    const bundled = o.providers.filter((p) => p.bundled).map((p) => p.name);
    const notBundled = o.providers.filter((p) => !p.bundled).map((p) => p.name);
    out.push(
      `  version ${o.version}; execution providers bundled: ${bundled.join(', ') || 'none'}${notBundled.length ? `; not bundled (need onnxruntime-node's install script): ${notBundled.join(', ')}` : ''}`,
    );
  }
  const drivers = v.drivers.files.length ? v.drivers.files.map((f) => path.basename(f)).join(', ') : 'none';
  const loader = v.loader.loads
    ? `found${v.loader.path ? ` at ${v.loader.path}` : ''}`
    : `missing${v.loader.error && !/No such file/.test(v.loader.error) ? ` (${v.loader.error})` : ''}`;
  out.push(`  libvulkan.so.1     ${loader} (the Vulkan loader, for WebGPU)`);
  out.push(
    `  Vulkan drivers     ${drivers}${v.drivers.from === 'search' ? '' : ` (from ${v.drivers.from})`}${v.drivers.nvidia ? '' : '; no NVIDIA ICD (nvidia_icd.json)'}`,
  );
  out.push(`  WebGPU adapter     ${adapterText(v)}`);
  const webgpu = o.routes.find((r) => r.name === 'webgpu');
  // The provider's own fix when the Vulkan checks found nothing more precise to install.
  const fixes = v.fixes.length > 0 || !webgpu || webgpu.usable || !webgpu.fix ? v.fixes : [webgpu.fix];
  for (const fix of fixes) out.push(`${FIX_INDENT}fix: ${fix}`);
  for (const r of o.routes) {
    const state = r.automatic ? 'usable' : r.usable ? 'usable when forced' : 'not usable';
    if (r.name === 'webgpu' && r.listed) {
      const adapter = r.adapter ? `${r.adapter.software ? 'a software' : 'a hardware'} adapter` : 'no adapter';
      out.push(
        `  provider webgpu    ${state} (${adapter}, see above)${r.usable && !r.automatic && !r.adapter?.software ? `: ${r.detail}` : ''}`,
      );
      continue;
    }
    out.push(`  provider ${r.name.padEnd(9)} ${state}: ${r.detail}`);
    if (!r.usable && r.fix) out.push(`${FIX_INDENT}fix: ${r.fix}`);
  }
  out.push(`  => the frozen layers run on: ${o.frozenLayers}`);
  return out;
}

/** The report as plain text, the way `npx tslab-dl doctor` prints it. */
export function formatReport(report: DoctorReport): string {
  const out: string[] = ['tslab-dl doctor', ''];
  out.push('Versions');
  for (const [name, version] of Object.entries(report.versions)) out.push(`  ${name.padEnd(20)} ${version ?? 'not installed'}`);
  out.push('', 'TensorFlow.js backends, in the order tried');
  for (const c of report.backend.candidates) out.push(`  ${c.name.padEnd(14)} ${c.status}${candidateDetail(c)}`);
  if (report.backend.chosen) {
    const gpu = report.backend.usingGpu ? ', on the GPU' : '';
    const by =
      report.backend.requestedBy && report.backend.requestedBy !== 'default' ? ` (asked for by ${report.backend.requestedBy})` : '';
    out.push(`  => backend: ${report.backend.chosen}${gpu}${by}`);
  } else {
    out.push(`  => no backend: ${report.backend.error}`);
  }
  out.push('', ...onnxLines(report));
  const g = report.gpu;
  out.push('', 'Legacy CUDA route: tfjs-node-gpu (libtensorflow 2.9.1: CUDA 11.2, cuDNN 8.1)');
  out.push(
    `  nvidia-smi         ${g.nvidiaSmi.found ? (g.nvidiaSmi.gpus.length ? g.nvidiaSmi.gpus.join('; ') : g.nvidiaSmi.error) : 'not found on PATH'}`,
  );
  out.push(`  GPU device files   ${g.deviceFiles.length ? g.deviceFiles.join(', ') : 'none (/dev/nvidia0 does not exist)'}`);
  out.push(`  LD_LIBRARY_PATH    ${g.ldLibraryPath || '(not set)'}`);
  for (const lib of [g.driver, ...g.libraries]) out.push(`  ${libraryLine(lib)}`);
  out.push(g.usable ? '  => the GPU path can be used' : `  => the GPU path cannot be used: ${g.problems.join('; ')}`);
  if (g.nvidiaSmi.output) out.push('', '  nvidia-smi says:', ...g.nvidiaSmi.output.split('\n').map((l) => `    ${l}`));
  out.push('', 'Shared cache (a workshop: npx tslab-dl prefetch)', `  ${sharedCacheLine(report.sharedCache)}`);
  const j = report.jupyter;
  out.push('', 'Jupyter');
  if (j.found) {
    const names = ['jupyter_core', 'jupyter_client', 'notebook', 'jupyterlab', 'nbclient'].filter((n) => j.versions[n]);
    out.push(`  jupyter            ${j.command} (${names.map((n) => `${n} ${j.versions[n]}`).join(', ')})`);
  } else {
    out.push(`  jupyter            not found: ${j.error}`);
  }
  const k = j.kernelspec;
  if (k.installed) {
    out.push(`  kernelspec         ${KERNEL_NAME} installed in ${k.resourceDir}`);
    out.push(`                     argv: ${(k.argv ?? []).join(' ')}`);
  } else {
    out.push(`  kernelspec         ${KERNEL_NAME} not installed${k.error ? ` (could not list kernelspecs: ${k.error})` : ''}`);
  }
  for (const problem of k.problems) out.push(`                     ${problem}`);
  out.push('');
  out.push(
    report.ok
      ? `Result: OK, TensorFlow.js runs on ${report.backend.chosen}${report.backend.usingGpu ? ' (GPU)' : ''}.`
      : 'Result: NOT OK, no TensorFlow.js backend works here (see above).',
  );
  return out.join('\n');
}

/** One line on the shared cache. */
export function sharedCacheLine(c: SharedCacheCheck): string {
  if (!c.root) return `none (TSLAB_DL_SHARED_CACHE is not set and ${DEFAULT_SHARED_CACHE} does not exist)`;
  if (c.files === undefined) return `${c.root}: no readable manifest.json: run \`sudo npx tslab-dl prefetch\` to fill it`;
  return `${c.root}: ${c.files} files, ${c.megabytes!.toFixed(1)} MB, prefetched ${c.created}`;
}

/** The report as an HTML fragment for a notebook. */
export function reportToHtml(report: DoctorReport): string {
  const e = htmlText;
  const row = (cells: string[]) => `<tr>${cells.map((c) => `<td style="text-align:left;vertical-align:top">${c}</td>`).join('')}</tr>`;
  const table = (rows: string[][]) => `<table>${rows.map(row).join('')}</table>`;
  const parts: string[] = [
    `<h3>tslab-dl doctor: ${report.ok ? `OK, TensorFlow.js runs on <b>${e(report.backend.chosen ?? '')}</b>${report.backend.usingGpu ? ' (GPU)' : ''}` : '<b>no TensorFlow.js backend works</b>'}</h3>`,
  ];
  parts.push('<h4>Versions</h4>', table(Object.entries(report.versions).map(([n, v]) => [e(n), e(v ?? 'not installed')])));
  parts.push(
    '<h4>TensorFlow.js backends, in the order tried</h4>',
    table(
      report.backend.candidates.map((c) => [
        e(c.name),
        c.status === 'chosen' ? '<b>chosen</b>' : e(c.status),
        e(candidateDetail(c).replace(/^:? ?/, '')),
      ]),
    ),
  );
  parts.push(
    `<h4>ONNX Runtime (runs the frozen layers)</h4><pre>${e(
      onnxLines(report)
        .slice(1)
        .map((l) => l.replace(/^  /, ''))
        .join('\n'),
    )}</pre>`,
  );
  const g = report.gpu;
  parts.push(
    '<h4>Legacy CUDA route: tfjs-node-gpu (libtensorflow 2.9.1: CUDA 11.2, cuDNN 8.1)</h4>',
    `<p>nvidia-smi: ${e(g.nvidiaSmi.found ? g.nvidiaSmi.gpus.join('; ') || g.nvidiaSmi.error || '' : 'not found on PATH')}; LD_LIBRARY_PATH: <code>${e(g.ldLibraryPath || '(not set)')}</code></p>`,
    table(
      [g.driver, ...g.libraries].map((l) => [
        `<code>${e(l.soname)}</code>`,
        e(l.role),
        l.loads ? `found ${e(l.path ?? '')}` : `<b>missing</b>: ${e(l.fix ?? '')}`,
      ]),
    ),
    `<p>${g.usable ? 'The GPU path can be used.' : `The GPU path cannot be used: ${e(g.problems.join('; '))}`}</p>`,
  );
  if (g.nvidiaSmi.output) parts.push(`<pre>${e(g.nvidiaSmi.output)}</pre>`);
  parts.push('<h4>Shared cache</h4>', `<p>${e(sharedCacheLine(report.sharedCache))}</p>`);
  const j = report.jupyter;
  const k = j.kernelspec;
  parts.push(
    '<h4>Jupyter</h4>',
    `<p>${e(j.found ? `${j.command}` : `not found: ${j.error}`)}; kernelspec ${KERNEL_NAME}: ${e(k.installed ? `installed in ${k.resourceDir}` : 'not installed')}${k.problems.length ? `<br>${e(k.problems.join('; '))}` : ''}</p>`,
  );
  return parts.join('\n');
}

function displayable(report: DoctorReport): { [JUPYTER_DISPLAY](): MimeBundle } {
  return { [JUPYTER_DISPLAY]: () => ({ 'text/plain': formatReport(report), 'text/html': reportToHtml(report) }) };
}

/**
 * Checks this machine and shows the report: as HTML in a notebook (`await doctor()`), as text in
 * a terminal. Returns nothing, so the notebook shows it once; use {@link diagnose} for the data.
 */
export async function doctor(options: DoctorOptions = {}): Promise<void> {
  display(displayable(await diagnose(options)));
}
