/**
 * The channel between the library and the tslab-dl kernel: the kernel publishes an object on
 * `globalThis[KERNEL_HOOK]` (kernel/hook.ts) through which the library displays outputs
 * (lib/notebook/display.ts) and learns that the user pressed the interrupt button
 * (lib/notebook/interrupt.ts). A `Symbol.for` key, so any copy of the library finds it.
 */
import type { DisplayOptions, MimeBundle } from './display';

/** What the tslab-dl kernel puts on `globalThis[KERNEL_HOOK]`. */
export interface KernelHook {
  display(data: MimeBundle, options: DisplayOptions): void;
  /** True once the user asked to interrupt the running cell. */
  readonly interruptRequested: boolean;
}

/** The key under which the tslab-dl kernel publishes its {@link KernelHook}. */
export const KERNEL_HOOK = Symbol.for('tslab-dl.kernel');

/** The kernel's hook, when this process runs in the tslab-dl kernel. */
export function kernelHook(): KernelHook | undefined {
  return (globalThis as { [KERNEL_HOOK]?: KernelHook })[KERNEL_HOOK];
}
