/**
 * What the WebGPU route needs from this machine, for the doctor: the Vulkan loader, the Vulkan
 * drivers it would load, and the adapter Dawn then offers. ONNX Runtime's WebGPU provider (and
 * the `webgpu` package) run on Dawn (https://dawn.googlesource.com/dawn), which on Linux uses
 * Vulkan through the system's loader, libvulkan.so.1; the loader finds drivers through JSON
 * manifests ("ICDs") in fixed folders, or only those VK_DRIVER_FILES / VK_ICD_FILENAMES name
 * (https://github.com/KhronosGroup/Vulkan-Loader/blob/main/docs/LoaderDriverInterface.md#driver-discovery-on-linux).
 *
 * The loader reads those variables when it starts, so the adapter is probed in a child process
 * with the environment under test, as lib/backends/cuda-libraries.ts does for CUDA; a Vulkan driver that crashes
 * takes only the child down.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { dlopenInChild } from './cuda-libraries';
import { isSoftwareAdapter, WebGpuAdapterInfo, WebGpuProbe } from './webgpu-adapter';

export interface VulkanCheck {
  loader: { soname: 'libvulkan.so.1'; loads: boolean; path?: string; error?: string; fix?: string };
  /** The driver manifests the loader would read, and where the list comes from. */
  drivers: { files: string[]; from: 'VK_DRIVER_FILES' | 'VK_ICD_FILENAMES' | 'search'; nvidia: boolean };
  /** The adapter Dawn offers for 'high-performance', or why there is none. */
  probe: WebGpuProbe;
  /** What to install, one line each. */
  fixes: string[];
}

export const VULKAN_LOADER_FIX = '`sudo apt-get install libvulkan1` (the Vulkan loader)';
export const NVIDIA_ICD_FIX =
  "the NVIDIA driver's Vulkan ICD, nvidia_icd.json: it comes with the driver (Debian: `apt-get install nvidia-vulkan-icd`; " +
  "Ubuntu: the driver's libnvidia-gl-<version> package); in a container, start it with NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics " +
  'so that the NVIDIA Container Toolkit mounts it';

// The loader's search folders on Linux (LoaderDriverInterface.md), XDG defaults included.
function driverFolders(env: NodeJS.ProcessEnv): string[] {
  const config = (env.XDG_CONFIG_DIRS || '/etc/xdg').split(':').filter(Boolean);
  const data = (env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':').filter(Boolean);
  const home = env.XDG_DATA_HOME || path.join(env.HOME ?? os.homedir(), '.local', 'share');
  return [
    ...config.map((d) => path.join(d, 'vulkan', 'icd.d')),
    '/usr/local/etc/vulkan/icd.d',
    '/etc/vulkan/icd.d',
    ...data.map((d) => path.join(d, 'vulkan', 'icd.d')),
    path.join(home, 'vulkan', 'icd.d'),
  ];
}

/** The driver manifests the loader would read with `env`. */
export function vulkanDrivers(env: NodeJS.ProcessEnv = process.env): VulkanCheck['drivers'] {
  for (const name of ['VK_DRIVER_FILES', 'VK_ICD_FILENAMES'] as const) {
    const value = env[name];
    if (value) {
      const files = value.split(':').filter(Boolean);
      return { files, from: name, nvidia: files.some((f) => /nvidia/i.test(path.basename(f))) };
    }
  }
  const files: string[] = [];
  for (const dir of new Set(driverFolders(env))) {
    try {
      for (const f of fs.readdirSync(dir).sort()) if (f.endsWith('.json')) files.push(path.join(dir, f));
    } catch {
      // no such folder
    }
  }
  return { files, from: 'search', nvidia: files.some((f) => /nvidia/i.test(path.basename(f))) };
}

// Asks Dawn (the `webgpu` package) for an adapter, as lib/backends/webgpu-adapter.ts does, and prints it.
const ADAPTER_SCRIPT = `
const webgpu = require(process.argv[1]);
const say = (x) => { process.stdout.write(JSON.stringify(x)); process.exit(0); };
let gpu;
try { gpu = webgpu.create([]); } catch (e) { say({ error: 'Dawn could not start: ' + String(e && e.message).split('\\n')[0] }); }
gpu.requestAdapter({ powerPreference: 'high-performance' }).then(
  (a) => say(a ? { info: { vendor: a.info.vendor, architecture: a.info.architecture, device: a.info.device, description: a.info.description }, fallback: a.isFallbackAdapter === true } : {}),
  (e) => say({ error: 'Dawn could not ask for an adapter: ' + String(e && e.message).split('\\n')[0] }),
);
`;

/** The adapter Dawn offers in a fresh process with `env`; Dawn's own warning says why one was refused. */
export function probeWebGpuInChild(env: NodeJS.ProcessEnv = process.env, from = __dirname): Promise<WebGpuProbe> {
  let webgpu: string;
  try {
    webgpu = require.resolve('webgpu', { paths: [from] });
  } catch (e) {
    return Promise.resolve({ reason: `the \`webgpu\` package (Dawn for Node) is not installed: ${(e as Error).message.split('\n')[0]}` });
  }
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', ADAPTER_SCRIPT, webgpu], { env, timeout: 60_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      let answer: { info?: Omit<WebGpuAdapterInfo, 'software'>; fallback?: boolean; error?: string };
      try {
        answer = JSON.parse(stdout);
      } catch {
        const why = error?.signal
          ? `it was killed by ${error.signal} (a Vulkan driver crashed?)`
          : stderr.trim().split('\n').slice(-1)[0] || 'no output';
        return resolve({ reason: `the WebGPU probe process failed: ${why}` });
      }
      if (answer.error) return resolve({ reason: answer.error });
      if (!answer.info) {
        // Dawn prints why it refused a driver, e.g. "Vulkan shaderUniform*ArrayDynamicIndexing required."
        const refused = stderr.split('\n').find((l) => /^(Warning|Error):.*(required|not supported|failed)/i.test(l.trim()));
        return resolve({
          reason: `no WebGPU adapter: Dawn found no usable Vulkan driver${refused ? ` (it says: ${refused.trim().replace(/^(Warning|Error):\s*/, '')})` : ''}`,
        });
      }
      const info = answer.info;
      resolve({
        adapter: {
          vendor: info.vendor ?? '',
          architecture: info.architecture ?? '',
          device: info.device ?? '',
          description: info.description ?? '',
          software: isSoftwareAdapter(info, answer.fallback),
        },
      });
    });
  });
}

/** Whether a driver manifest names a CPU implementation of Vulkan (Mesa's lavapipe, SwiftShader). */
function isSoftwareDriver(manifest: string): boolean {
  const software = /lvp|lavapipe|swiftshader/i;
  try {
    const library = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { ICD?: { library_path?: string } }).ICD?.library_path ?? '';
    return software.test(path.basename(library));
  } catch {
    return software.test(path.basename(manifest));
  }
}

let hardwareProbe: Promise<WebGpuProbe> | undefined;

/**
 * The adapter the automatic choices look at (lib/backends/selection.ts, lib/onnx/providers.ts), found without
 * a word on this process' output: Dawn writes why it refuses a driver straight to stderr (e.g.
 * Debian 12's own lavapipe: "Vulkan shaderUniform*ArrayDynamicIndexing required"), which would
 * show in every cell and script. So: no driver manifest, no probe; software drivers only (read from
 * the manifests), no probe; otherwise Dawn is asked in a child process. Once per process.
 */
export function probeHardwareWebGpu(env: NodeJS.ProcessEnv = process.env): Promise<WebGpuProbe> {
  hardwareProbe ??= (async (): Promise<WebGpuProbe> => {
    const drivers = vulkanDrivers(env);
    const present = drivers.files.filter((f) => fs.existsSync(f));
    if (present.length === 0) {
      const named =
        drivers.from === 'search' ? '' : ` (${drivers.from} names ${drivers.files.join(', ') || 'nothing'}, which does not exist)`;
      return { reason: `no WebGPU adapter: no Vulkan driver is installed${named}` };
    }
    if (present.every(isSoftwareDriver)) {
      const names = present.map((f) => path.basename(f));
      return {
        reason: `no hardware WebGPU adapter: only software Vulkan drivers (${names.join(', ')}), which emulate a GPU on the CPU`,
        softwareDrivers: present,
      };
    }
    return probeWebGpuInChild(env);
  })();
  return hardwareProbe;
}

/** Forgets the automatic probe's answer (tests). */
export function resetHardwareProbe(): void {
  hardwareProbe = undefined;
}

/** The loader, the drivers and the adapter, with what to install; `gpuSeen`: an NVIDIA GPU is there (lib/backends/cuda-libraries.ts). */
export async function checkVulkan(env: NodeJS.ProcessEnv = process.env, gpuSeen = false): Promise<VulkanCheck> {
  const [verdicts, probe] = await Promise.all([dlopenInChild(['libvulkan.so.1'], env).catch(() => new Map()), probeWebGpuInChild(env)]);
  const verdict = verdicts.get('libvulkan.so.1') ?? { loads: false, error: 'not checked' };
  const dirs = [
    ...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/lib/x86_64-linux-gnu',
    '/usr/lib/x86_64-linux-gnu',
    '/lib64',
    '/usr/lib64',
    '/usr/lib',
  ];
  const where = verdict.loads ? dirs.map((d) => path.join(d, 'libvulkan.so.1')).find((f) => fs.existsSync(f)) : undefined;
  const loader = {
    soname: 'libvulkan.so.1' as const,
    loads: verdict.loads,
    path: where,
    error: verdict.error,
    fix: verdict.loads ? undefined : VULKAN_LOADER_FIX,
  };
  const drivers = vulkanDrivers(env);
  const fixes: string[] = [];
  if (!loader.loads) fixes.push(VULKAN_LOADER_FIX);
  if (gpuSeen && !drivers.nvidia) fixes.push(NVIDIA_ICD_FIX);
  else if (!probe.adapter && loader.loads && drivers.files.length === 0)
    fixes.push("your GPU's Vulkan driver (for NVIDIA: " + NVIDIA_ICD_FIX + ')');
  return { loader, drivers, probe, fixes };
}
