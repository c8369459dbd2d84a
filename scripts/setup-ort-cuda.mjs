// `npm run setup:cuda` (scripts/setup-backend.mjs cuda): ONNX Runtime's CUDA execution provider for
// onnxruntime-node, opt-in.
//
// Every linux-x64 onnxruntime-node lists CUDA, but its provider libraries are too large for npm:
// the package's own install script downloads them from NuGet (Microsoft.ML.OnnxRuntime.Gpu.Linux,
// the same version) into bin/napi-v6/linux/x64. npm 11 runs no dependency install script unless
// allowScripts lists it, and this project denies it ("onnxruntime-node": false): a plain
// `npm install` must never need the network for it. So this runs that script explicitly, with the
// flag it documents (ONNXRUNTIME_NODE_INSTALL=cuda12, a manifest of its script/install-metadata.js),
// then opens a CUDA session in a child process to check that the provider really loads (it needs
// the NVIDIA driver, the CUDA 12 runtime and cuDNN 9:
// https://onnxruntime.ai/docs/execution-providers/CUDA-ExecutionProvider.html#requirements).
// On any failure the package's binary folder is put back exactly as it was. package.json and
// package-lock.json are not touched; a later `npm ci` reinstalls the package without the provider.
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const PACKAGE = 'onnxruntime-node';
const REQUIREMENTS = 'https://onnxruntime.ai/docs/execution-providers/CUDA-ExecutionProvider.html#requirements';

export class CudaSetupError extends Error {}

/** The folders the install script writes to: bin/napi-v<N>/linux/x64. */
function binFolders(pkgDir) {
  const bin = path.join(pkgDir, 'bin');
  if (!fs.existsSync(bin)) return [];
  return fs
    .readdirSync(bin)
    .filter((d) => /^napi-v\d+$/.test(d))
    .map((d) => path.join(bin, d, 'linux', 'x64'));
}

/** Every file under those folders: relative path -> sha256. */
function snapshot(pkgDir) {
  const files = new Map();
  const walk = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else files.set(path.relative(pkgDir, file), createHash('sha256').update(fs.readFileSync(file)).digest('hex'));
    }
  };
  for (const dir of binFolders(pkgDir)) walk(dir);
  return files;
}

function sameSnapshot(a, b) {
  return a.size === b.size && [...a].every(([file, hash]) => b.get(file) === hash);
}

/** Copies every file of those folders aside, so that any change can be undone. */
function backUp(pkgDir, files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-setup-cuda-'));
  for (const file of files.keys()) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(path.join(pkgDir, file), path.join(dir, file));
  }
  return dir;
}

/** Puts the folders back as the snapshot says: new files removed, changed or missing ones copied back. */
function restore(pkgDir, before, backupDir) {
  const now = snapshot(pkgDir);
  for (const file of now.keys()) if (!before.has(file)) fs.rmSync(path.join(pkgDir, file), { force: true });
  for (const [file, hash] of before) {
    if (now.get(file) === hash) continue;
    const temp = `${path.join(pkgDir, file)}.setup-cuda-${process.pid}`;
    fs.copyFileSync(path.join(backupDir, file), temp);
    fs.renameSync(temp, path.join(pkgDir, file));
  }
  return sameSnapshot(snapshot(pkgDir), before);
}

/** The command the package names as its install script ("node ./script/install"), as a file to run. */
function installScript(pkgDir, pkg) {
  const command = pkg.scripts?.install ?? pkg.scripts?.postinstall;
  const m = /^node\s+(\S+)\s*$/.exec(command ?? '');
  if (!m) {
    throw new CudaSetupError(
      `${PACKAGE} ${pkg.version} names no install script of the form "node <file>" (scripts: ${JSON.stringify(pkg.scripts ?? {})}); ` +
        'this script does not know how to fetch its CUDA provider: see its README.',
    );
  }
  const file = path.resolve(pkgDir, m[1]);
  const candidates = [file, `${file}.js`];
  const found = candidates.find((f) => fs.existsSync(f));
  if (!found)
    throw new CudaSetupError(`${PACKAGE}'s install script ${m[1]} is missing from ${pkgDir}: run \`npm ci\` to repair the package.`);
  return { command, file: found };
}

/** The CUDA manifest the install script knows for linux/x64 (cuda12 in 1.30), and the files it writes. */
function cudaManifest(pkgDir) {
  let metadata;
  try {
    metadata = createRequire(import.meta.url)(path.join(pkgDir, 'script', 'install-metadata.js'));
  } catch {
    return { name: 'cuda12', files: [] };
  }
  const names = (metadata.requirements?.['linux/x64'] ?? [])
    .filter((n) => /^cuda\d+$/.test(n))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
  const name = names.at(-1) ?? 'cuda12';
  return { name, files: Object.keys(metadata.manifests?.[`linux/x64:${name}`] ?? {}).map((f) => path.basename(f)) };
}

/** Whether the NVIDIA driver's library loads here (a fresh process: LD_LIBRARY_PATH counts). */
function driverLoads() {
  const code = `try { process.dlopen({ exports: {} }, 'libcuda.so.1'); } catch (e) { if (!String(e.message).includes('did not self-register')) { console.log(String(e.message).split('\\n')[0]); process.exit(1); } }`;
  try {
    execFileSync(process.execPath, ['-e', code], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { loads: true };
  } catch (e) {
    return { loads: false, error: (e.stdout || e.message).trim() };
  }
}

// Opens a session on the CUDA provider alone (no CPU fallback: session.disable_cpu_ep_fallback,
// onnxruntime_session_options_config_keys.h) for y = Relu(x), built here as ONNX protobuf bytes
// (onnx.proto: ModelProto.ir_version 1, graph 7, opset_import 8; GraphProto.node 1, input 11,
// output 12; NodeProto.input 1, output 2, op_type 4), and runs it.
const VERIFY = `
const ort = require(process.argv[1]);
const varint = (n) => { const out = []; do { let b = n & 0x7f; n >>>= 7; if (n) b |= 0x80; out.push(b); } while (n); return out; };
const field = (num, bytes) => [...varint((num << 3) | 2), ...varint(bytes.length), ...bytes];
const int = (num, v) => [...varint(num << 3), ...varint(v)];
const str = (num, s) => field(num, [...Buffer.from(s)]);
const valueInfo = (name) => [...str(1, name), ...field(2, field(1, [...int(1, 1), ...field(2, [...field(1, int(1, 2)), ...field(1, int(1, 2))])]))];
const graph = [...field(1, [...str(1, 'x'), ...str(2, 'y'), ...str(4, 'Relu')]), ...str(2, 'g'), ...field(11, valueInfo('x')), ...field(12, valueInfo('y'))];
const model = Uint8Array.from([...int(1, 8), ...field(7, graph), ...field(8, [...str(1, ''), ...int(2, 17)])]);
(async () => {
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cuda'], extra: { session: { disable_cpu_ep_fallback: '1' } } });
  const { y } = await session.run({ x: new ort.Tensor('float32', Float32Array.from([-1, 2, -3, 4]), [2, 2]) });
  if (Array.from(y.data).join() !== '0,2,0,4') throw new Error('Relu on CUDA returned ' + Array.from(y.data));
  console.log(JSON.stringify({ ok: true }));
})().catch((e) => console.log(JSON.stringify({ ok: false, error: String(e && e.message).split('\\n')[0] })));
`;

function verify(project, pkgDir) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', VERIFY, pkgDir], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code, signal) => {
      try {
        resolve(JSON.parse(out.trim().split('\n').slice(-1)[0]));
      } catch {
        // ONNX Runtime's own log names the library it could not load.
        const why = err
          .split('\n')
          .map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').trim())
          .find((l) => /error|fail/i.test(l));
        resolve({
          ok: false,
          error: signal ? `the check process was killed by ${signal}` : why || `the check process exited with code ${code}`,
        });
      }
    });
  });
}

/** Runs the package's install script with `env`, its output shown; resolves with the exit code and output. */
function runInstall(pkgDir, file, env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { cwd: pkgDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const forward = (stream) => (chunk) => {
      output += chunk;
      stream.write(chunk);
    };
    child.stdout.on('data', forward(process.stdout));
    child.stderr.on('data', forward(process.stderr));
    child.on('error', (e) => resolve({ code: -1, output: output + e.message }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), output }));
  });
}

/** The most telling line of a failed install script. */
function failureReason(output) {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  for (const re of [/getaddrinfo \S+ \S+/, /ECONNREFUSED.*|ETIMEDOUT.*|ECONNRESET.*|EAI_AGAIN.*/, /^Error: .*/, /Failed to .*/]) {
    const hit = lines.find((l) => re.test(l));
    if (hit) return hit;
  }
  return lines.slice(-1)[0] ?? 'no output';
}

/**
 * Fetches and checks the CUDA provider; returns the exit code (0 done, 1 failed and put back).
 * Throws CudaSetupError (exit code 2) before changing anything when it cannot start.
 */
export async function setupOrtCuda({ project, dryRun = false, force = false }) {
  if (!(process.platform === 'linux' && process.arch === 'x64')) {
    throw new CudaSetupError(`${PACKAGE}'s CUDA provider is published for Linux x64 only; this is ${process.platform}-${process.arch}.`);
  }
  const pkgDir = path.join(project, 'node_modules', PACKAGE);
  const pkgFile = path.join(pkgDir, 'package.json');
  if (!fs.existsSync(pkgFile)) throw new CudaSetupError(`${pkgFile} does not exist: run \`npm install\` in ${project} first.`);
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8'));
  const { command, file } = installScript(pkgDir, pkg);
  const manifest = cudaManifest(pkgDir);
  const folders = binFolders(pkgDir).map((d) => path.relative(project, d));

  console.log(`Adding ONNX Runtime's CUDA execution provider to ${PACKAGE} ${pkg.version}.`);
  console.log(`  project: ${project}`);
  console.log(`  1. run its install script (${command}) with ONNXRUNTIME_NODE_INSTALL=${manifest.name}: it downloads`);
  console.log(
    `     Microsoft.ML.OnnxRuntime.Gpu.Linux ${pkg.version} from api.nuget.org and puts ${manifest.files.join(', ') || 'its CUDA libraries'} in ${folders.join(', ')}`,
  );
  console.log('  2. open a session on the CUDA provider alone (no CPU fallback) in a child process');
  console.log('  package.json and package-lock.json are not changed.');
  if (dryRun) {
    console.log('Dry run: nothing was changed.');
    return 0;
  }
  if (!force) {
    const driver = driverLoads();
    if (!driver.loads) {
      throw new CudaSetupError(
        `the NVIDIA driver's library libcuda.so.1 does not load here (${driver.error}), so the CUDA provider could not run: nothing was downloaded. ` +
          `Install the NVIDIA driver first (in a container: docker run --gpus all ...). --force downloads anyway. Requirements: ${REQUIREMENTS}`,
      );
    }
  }

  const before = snapshot(pkgDir);
  const backupDir = backUp(pkgDir, before);
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    console.error('\nInterrupted: the install script stops, then everything is put back.');
  };
  process.on('SIGINT', onSigint);
  let failure;
  try {
    // The flag its script documents: ONNXRUNTIME_NODE_INSTALL=<manifest> forces that download.
    /** @type {NodeJS.ProcessEnv} */
    const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: manifest.name };
    // Its downloads go through global-agent, which reads GLOBAL_AGENT_* only: pass the usual proxy on.
    const proxy = env.HTTPS_PROXY ?? env.https_proxy ?? env.HTTP_PROXY ?? env.http_proxy;
    if (proxy && !env.GLOBAL_AGENT_HTTPS_PROXY && !env.GLOBAL_AGENT_HTTP_PROXY) env.GLOBAL_AGENT_HTTPS_PROXY = proxy;
    const noProxy = env.NO_PROXY ?? env.no_proxy;
    if (noProxy && !env.GLOBAL_AGENT_NO_PROXY) env.GLOBAL_AGENT_NO_PROXY = noProxy;
    const install = await runInstall(pkgDir, file, env);
    if (interrupted) failure = 'interrupted';
    else if (install.code !== 0)
      failure = `${PACKAGE}'s install script failed (exit code ${install.code}): ${failureReason(install.output)}`;
    else {
      const check = await verify(project, pkgDir);
      if (check.ok) {
        console.log(
          `\nONNX Runtime's CUDA provider is installed and runs: executor 'auto' / 'onnx' now runs the frozen layers on CUDA ('onnx-cuda' forces it).`,
        );
        console.log(
          `\`npm ci\` or a reinstall of ${PACKAGE} removes it again: run \`npm run setup:cuda\` after one. Restart your Jupyter kernels to use it.`,
        );
        return 0;
      }
      failure = `the CUDA provider was downloaded but does not run: ${check.error}`;
    }
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
  } finally {
    process.off('SIGINT', onSigint);
  }

  console.error(`\nsetup:cuda failed: ${failure}`);
  let restored = false;
  try {
    restored = restore(pkgDir, before, backupDir);
  } finally {
    if (restored) fs.rmSync(backupDir, { recursive: true, force: true });
  }
  if (restored)
    console.error(
      `${folders.join(', ')} ${folders.length === 1 ? 'is' : 'are'} as before (package.json and package-lock.json were not touched): ONNX Runtime runs on the CPU (or WebGPU) as before.`,
    );
  else
    console.error(
      `${PACKAGE}'s binary folder differs from before; the original files are in ${backupDir}. Run \`npm ci\` in ${project} to repair it.`,
    );
  if (/getaddrinfo|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|nuget/i.test(failure)) {
    console.error(
      `${PACKAGE}'s install script downloads from api.nuget.org, which this machine cannot reach: run \`npm run setup:cuda\` where it can (it honours HTTPS_PROXY).`,
    );
  } else if (/does not run/.test(failure)) {
    console.error(
      `Install the CUDA 12 runtime and cuDNN 9 (${REQUIREMENTS}), put their folder on LD_LIBRARY_PATH, and run \`npm run setup:cuda\` again.`,
    );
  }
  return 1;
}
