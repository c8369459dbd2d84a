/**
 * Which WebGPU adapter this machine offers, through Dawn's Node bindings (the `webgpu` package):
 * the GPU routes (ONNX Runtime's WebGPU execution provider, tfjs' webgpu backend) are chosen
 * automatically only for a hardware adapter. A software one (Mesa's lavapipe/llvmpipe, SwiftShader)
 * runs the same code, far slower than the CPU routes: tests use it, nothing picks it by itself.
 *
 * Dawn loads the system's Vulkan loader (libvulkan.so.1) and the drivers it lists
 * (VK_ICD_FILENAMES); with neither there is simply no adapter.
 */

export interface WebGpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation of Vulkan (lavapipe, llvmpipe, SwiftShader): never chosen automatically. */
  software: boolean;
}

export interface WebGpuProbe {
  /** The adapter Dawn offers for 'high-performance', or undefined. */
  adapter?: WebGpuAdapterInfo;
  /** Why there is none (the package, the Vulkan loader, no driver), in words a learner can act on. */
  reason?: string;
  /**
   * The Vulkan drivers' manifests, when every one is a software driver and Dawn was therefore not
   * asked (lib/backends/vulkan.ts, probeHardwareWebGpu): forcing a GPU route would use one of them.
   */
  softwareDrivers?: string[];
}

type GpuLike = { requestAdapter(options?: { powerPreference?: string }): Promise<AdapterLike | null> };
type AdapterLike = { info?: Partial<Omit<WebGpuAdapterInfo, 'software'>>; isFallbackAdapter?: boolean };

let gpu: GpuLike | undefined;

/** Dawn's GPU object (created once per process; `navigator.gpu` for tfjs' webgpu backend). */
export function dawnGpu(): GpuLike {
  if (!gpu) {
    const webgpu = require('webgpu') as { create(flags: string[]): GpuLike; globals: Record<string, unknown> };
    // tfjs' webgpu backend and ONNX Runtime look for these globals (GPUBufferUsage, ...).
    for (const [name, value] of Object.entries(webgpu.globals)) {
      if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
    }
    gpu = webgpu.create([]);
  }
  return gpu;
}

/** Whether an adapter is a CPU implementation of Vulkan. */
export function isSoftwareAdapter(info: Partial<Omit<WebGpuAdapterInfo, 'software'>>, fallback = false): boolean {
  const text = `${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''} ${info.vendor ?? ''}`.toLowerCase();
  return fallback || /software|llvmpipe|lavapipe|swiftshader|\bcpu\b/.test(text);
}

let probed: Promise<WebGpuProbe> | undefined;

/** The adapter, probed once per process (a second probe would create a second Dawn instance). */
export function probeWebGpu(): Promise<WebGpuProbe> {
  probed ??= (async (): Promise<WebGpuProbe> => {
    let instance: GpuLike;
    try {
      instance = dawnGpu();
    } catch (e) {
      return { reason: `the \`webgpu\` package (Dawn for Node) could not be loaded: ${(e as Error).message.split('\n')[0]}` };
    }
    let adapter: AdapterLike | null;
    try {
      adapter = await instance.requestAdapter({ powerPreference: 'high-performance' });
    } catch (e) {
      return { reason: `Dawn could not ask for an adapter: ${(e as Error).message.split('\n')[0]}` };
    }
    if (!adapter) {
      return {
        reason:
          'no WebGPU adapter: Dawn found no Vulkan driver (install the Vulkan loader, `apt-get install libvulkan1`, ' +
          "and the GPU driver's Vulkan support: for NVIDIA the driver's ICD, nvidia_icd.json)",
      };
    }
    const info = adapter.info ?? {};
    return {
      adapter: {
        vendor: info.vendor ?? '',
        architecture: info.architecture ?? '',
        device: info.device ?? '',
        description: info.description ?? '',
        software: isSoftwareAdapter(info, adapter.isFallbackAdapter === true),
      },
    };
  })();
  return probed;
}

/** The adapter's name for people: its description, else its device, else its vendor. */
export function adapterName(adapter: Pick<WebGpuAdapterInfo, 'description' | 'device' | 'vendor'>): string {
  return adapter.description || adapter.device || adapter.vendor || 'unnamed adapter';
}

/** One line for reports: "NVIDIA H200 (hardware)" / "llvmpipe ... (software: not chosen automatically)". */
export function describeAdapter(adapter: WebGpuAdapterInfo): string {
  return `${adapterName(adapter)} (${adapter.software ? 'software: never chosen automatically' : 'hardware'})`;
}
