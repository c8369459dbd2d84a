#!/usr/bin/env node
// Opt-in native backends: `npm run setup:gpu` adds @tensorflow/tfjs-node-gpu, `npm run setup:native`
// adds @tensorflow/tfjs-node, each allowed to run its install script (which downloads libtensorflow);
// `npm run setup:cuda` fetches ONNX Runtime's CUDA provider for onnxruntime-node (scripts/setup-ort-cuda.mjs).
//
// npm 11 runs no dependency install script unless package.json lists the package under
// `allowScripts`, so we add that entry, then `npm install` the package. If anything fails,
// package.json, package-lock.json and node_modules are put back exactly as they were: a plain
// `npm install` must never need these packages.
//
//   node scripts/setup-backend.mjs gpu|native|cuda [--dry-run] [--project DIR] [--force]
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommandLine, usageError } from './command-line.mjs';
import { CudaSetupError, setupOrtCuda } from './setup-ort-cuda.mjs';

const TFJS_VERSION = '4.22.0';
const TARGETS = {
  gpu: { pkg: '@tensorflow/tfjs-node-gpu', other: '@tensorflow/tfjs-node', what: 'the CUDA GPU backend' },
  native: { pkg: '@tensorflow/tfjs-node', other: '@tensorflow/tfjs-node-gpu', what: 'the native CPU backend' },
};
const ALL_TARGETS = [...Object.keys(TARGETS), 'cuda'];
const SPEC = {
  command: 'setup-backend',
  usage: `Usage: node scripts/setup-backend.mjs gpu|native|cuda [--dry-run] [--project DIR] [--force]

  gpu       add ${TARGETS.gpu.pkg}@${TFJS_VERSION} (legacy route: CUDA 11.2 + cuDNN 8.1, Linux x64)
  native    add ${TARGETS.native.pkg}@${TFJS_VERSION} (libtensorflow on the CPU)
  cuda      fetch ONNX Runtime's CUDA provider for onnxruntime-node (Linux x64, NVIDIA driver,
            CUDA 12 runtime and cuDNN 9): the frozen layers then run on CUDA`,
  positionals: true,
  options: {
    'dry-run': { type: 'boolean', description: 'say what would be done, change nothing' },
    project: { type: 'string', valueName: 'DIR', description: 'the project to change (default: the tslab-dl folder this script is in)' },
    force: { type: 'boolean', description: 'cuda: download even where the NVIDIA driver (libcuda.so.1) does not load' },
  },
};

class SetupError extends Error {}

/** The options, or the exit code after --help (0) or a mistake in the arguments (2, with the usage). */
function parseArguments(argv) {
  const line = parseCommandLine(SPEC, argv);
  if (line.exit !== undefined) return line.exit;
  const [target, ...more] = line.positionals;
  if (target === undefined) return usageError(SPEC, 'say which backend to add: gpu, native or cuda');
  const unknown = [target, ...more].find((arg, i) => i > 0 || !ALL_TARGETS.includes(arg));
  if (unknown !== undefined) return usageError(SPEC, `unknown argument ${JSON.stringify(unknown)}`);
  const { 'dry-run': dryRun = false, force = false, project } = line.values;
  return { target, dryRun, force, project: path.resolve(project ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..')) };
}

/** Runs npm with the same npm that runs this script (`npm run setup:gpu`), or the one on PATH. */
function npm(args, cwd, { capture = true } = {}) {
  const execPath = process.env.npm_execpath;
  const [file, fullArgs] = execPath && /\.(c?js|mjs)$/.test(execPath) ? [process.execPath, [execPath, ...args]] : ['npm', args];
  console.log(`$ npm ${args.join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(file, fullArgs, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const forward = (stream) => (chunk) => {
      output += chunk;
      if (capture) stream.write(chunk);
    };
    child.stdout.on('data', forward(process.stdout));
    child.stderr.on('data', forward(process.stderr));
    child.on('error', (e) => resolve({ code: -1, output: output + String(e.message) }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), signal, output }));
  });
}

/**
 * What node_modules holds, as far as npm's own rollback can get it wrong: the hidden lockfile,
 * the top-level and scoped package folders, and the links in .bin.
 */
function treeFingerprint(project) {
  const modules = path.join(project, 'node_modules');
  const list = (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []);
  const entries = [];
  for (const name of list(modules)) {
    entries.push(name);
    if (name.startsWith('@') || name === '.bin') for (const inner of list(path.join(modules, name))) entries.push(`${name}/${inner}`);
  }
  const hidden = readIfExists(path.join(modules, '.package-lock.json'));
  return JSON.stringify({ entries, hidden: hidden?.toString('base64') });
}

/**
 * npm's rollback of a failed install leaves the new packages' links in node_modules/.bin, pointing
 * nowhere, and the folders it made: remove exactly those (new, dangling or empty), nothing else.
 */
function removeLeftovers(project, before) {
  const modules = path.join(project, 'node_modules');
  const known = new Set(JSON.parse(before).entries);
  const binDir = path.join(modules, '.bin');
  if (fs.existsSync(binDir)) {
    for (const name of fs.readdirSync(binDir)) {
      const link = path.join(binDir, name);
      if (!known.has(`.bin/${name}`) && fs.lstatSync(link).isSymbolicLink() && !fs.existsSync(link)) fs.rmSync(link);
    }
  }
  for (const name of fs.existsSync(modules) ? fs.readdirSync(modules) : []) {
    const dir = path.join(modules, name);
    if (!known.has(name) && fs.lstatSync(dir).isDirectory() && fs.readdirSync(dir).length === 0) fs.rmdirSync(dir);
  }
}

function readIfExists(file) {
  return fs.existsSync(file) ? fs.readFileSync(file) : undefined;
}

/** Writes bytes back (or removes a file that did not exist), through a temp file and rename. */
function restoreFile(file, bytes) {
  if (bytes === undefined) {
    fs.rmSync(file, { force: true });
    return;
  }
  if (fs.existsSync(file) && Buffer.compare(fs.readFileSync(file), bytes) === 0) return;
  const temp = `${file}.setup-backend-${process.pid}`;
  fs.writeFileSync(temp, bytes);
  fs.renameSync(temp, file);
}

function writeJsonLike(file, original, data) {
  // Keep the file's own indentation and final newline so the diff shows only our lines.
  const indent = /^[ \t]+(?=")/m.exec(original)?.[0] ?? '  ';
  const temp = `${file}.setup-backend-${process.pid}`;
  fs.writeFileSync(temp, JSON.stringify(data, null, indent) + (original.endsWith('\n') ? '\n' : ''));
  fs.renameSync(temp, file);
}

/** The most telling line of a failed install: the error the install script threw. */
function failureReason(output) {
  const lines = output
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const patterns = [
    /getaddrinfo \S+ \S+/,
    /ECONNREFUSED.*|ETIMEDOUT.*|ECONNRESET.*/,
    /^Error: .*/,
    /node-pre-gyp.*fail.*/i,
    /^npm error (?!code|path|command|A complete log).*/,
  ];
  for (const re of patterns) {
    const hit = lines.find((l) => re.test(l));
    if (hit) return hit.replace(/^npm error /, '');
  }
  return lines.slice(-1)[0] ?? 'no output';
}

/** Loads the package in a child process: does it load, and does TensorFlow see a GPU? */
function probe(project, pkg) {
  const code = `try { const tf = require(${JSON.stringify(pkg)}); const b = tf.backend();
    console.log(JSON.stringify({ loads: true, backend: tf.getBackend(), gpu: Boolean(b && b.isUsingGpuDevice) })); }
  catch (e) { console.log(JSON.stringify({ loads: false, error: String(e && e.message).split('\\n')[0] })); }`;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', code], { cwd: project, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('close', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').slice(-1)[0]));
      } catch {
        resolve({ loads: false, error: out.trim() || 'the probe printed nothing' });
      }
    });
  });
}

async function main(argv) {
  const options = parseArguments(argv);
  if (typeof options === 'number') return options;
  if (options.target === 'cuda') {
    if (!fs.existsSync(path.join(options.project, 'package.json'))) {
      throw new SetupError(`${path.join(options.project, 'package.json')} does not exist: pass --project <folder with package.json>.`);
    }
    return setupOrtCuda(options);
  }
  const { pkg, other, what } = TARGETS[options.target];
  const spec = `${pkg}@${TFJS_VERSION}`;
  const project = options.project;
  const packageJsonFile = path.join(project, 'package.json');
  const lockFile = path.join(project, 'package-lock.json');
  if (!fs.existsSync(packageJsonFile))
    throw new SetupError(`${packageJsonFile} does not exist: pass --project <folder with package.json>.`);
  if (options.target === 'gpu' && !(process.platform === 'linux' && process.arch === 'x64')) {
    throw new SetupError(
      `${pkg} ships libtensorflow with CUDA for Linux x64 only; this is ${process.platform}-${process.arch}. Try \`npm run setup:native\`.`,
    );
  }

  const before = { packageJson: fs.readFileSync(packageJsonFile), lock: readIfExists(lockFile), tree: treeFingerprint(project) };
  const text = before.packageJson.toString('utf8');
  const data = JSON.parse(text);
  const allowScripts = { ...(data.allowScripts ?? {}) };
  const denied = Object.entries(allowScripts).find(([key, value]) => value === false && (key === pkg || key.startsWith(`${pkg}@`)));
  if (denied) {
    throw new SetupError(
      `${packageJsonFile} denies ${pkg}'s install script ("allowScripts": {"${denied[0]}": false}); remove that entry first if you want ${what}.`,
    );
  }
  // Name-only, as `npm install-scripts approve` writes it when the lockfile has no "resolved" URLs
  // (npm's omit-lockfile-registry-resolved): a pinned entry cannot be checked then. The version
  // itself is pinned in dependencies by --save-exact.
  allowScripts[pkg] = true;

  console.log(`Adding ${what}: ${spec}, allowed to run its install script (it downloads libtensorflow 2.9.1).`);
  console.log(`  project: ${project}`);
  console.log(`  1. package.json: "allowScripts": { "${pkg}": true }`);
  console.log(`  2. npm install --save-exact --foreground-scripts ${spec}`);
  console.log(`  3. load ${pkg} in a child process and ask TensorFlow which device it uses`);
  if (options.dryRun) {
    console.log('Dry run: nothing was changed.');
    return 0;
  }

  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    console.error('\nInterrupted: npm stops, then everything is put back.');
  };
  process.on('SIGINT', onSigint);
  let failure;
  try {
    writeJsonLike(packageJsonFile, text, { ...data, allowScripts });
    const install = await npm(['install', '--save-exact', '--no-audit', '--no-fund', '--foreground-scripts', spec], project);
    if (interrupted) failure = 'interrupted';
    else if (install.code !== 0) failure = `npm install failed (exit code ${install.code}): ${failureReason(install.output)}`;
    else {
      const loaded = await probe(project, pkg);
      if (!loaded.loads) failure = `${pkg} installed but does not load: ${loaded.error}`;
      else {
        console.log(`\n${pkg}@${TFJS_VERSION} is installed and loads; TensorFlow runs on the ${loaded.gpu ? 'GPU' : 'CPU'}.`);
        if (options.target === 'gpu' && !loaded.gpu) {
          console.log('TensorFlow found no usable GPU, so tslab-dl will not choose tfjs-node-gpu yet.');
          console.log('Run `npx tslab-dl doctor` to see which CUDA/cuDNN library is missing and how to add it.');
        }
        if (fs.existsSync(path.join(project, 'node_modules', other))) {
          console.log(`${other} is installed too: tslab-dl tries tfjs-node-gpu first (when a GPU is usable), then tfjs-node.`);
        }
        console.log('Restart your Jupyter kernels to use it.');
        return 0;
      }
    }
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
  } finally {
    process.off('SIGINT', onSigint);
  }

  // Put everything back: the two files byte for byte, then node_modules as npm had it.
  console.error(`\nsetup:${options.target} failed: ${failure}`);
  restoreFile(packageJsonFile, before.packageJson);
  restoreFile(lockFile, before.lock);
  const treeRestored = () => {
    removeLeftovers(project, before.tree);
    return treeFingerprint(project) === before.tree;
  };
  let restored = treeRestored();
  if (!restored) {
    console.error('Putting node_modules back as it was:');
    await npm(['install', '--ignore-scripts', '--no-audit', '--no-fund'], project);
    restored = treeRestored();
  }
  if (restored) {
    console.error(`package.json, package-lock.json and node_modules are as they were; the other backends (wasm, cpu) work as before.`);
  } else {
    console.error(
      `package.json and package-lock.json are as they were, but node_modules differs: run \`npm install\` in ${project} to repair it.`,
    );
  }
  if (/getaddrinfo|ENOTFOUND|ECONNREFUSED|ETIMEDOUT|ECONNRESET|storage\.googleapis\.com/.test(failure)) {
    console.error(
      `${pkg}'s install script downloads libtensorflow from storage.googleapis.com, which this machine cannot reach.\n` +
        'Run `npm run setup:' +
        options.target +
        '` on a machine that can reach it (the script honours HTTPS_PROXY).',
    );
  }
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e) => {
    const known = e instanceof SetupError || e instanceof CudaSetupError;
    process.stderr.write(`setup-backend: ${known ? e.message : (e?.stack ?? e)}\n`);
    process.exitCode = known ? 2 : 1;
  },
);
