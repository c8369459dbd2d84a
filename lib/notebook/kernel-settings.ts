/**
 * The memory settings the tslab-dl kernel runs with: its kernelspec (kernel/kernelspec.ts) writes
 * them, and `npx tslab-dl doctor` checks that an installed kernelspec has them.
 */

/**
 * V8 heap settings of the kernel process. A kernel allocates in bursts (TypeScript compiling each
 * cell, then the cell's own work) and idles in between; with V8's defaults (16 MiB semi-spaces,
 * an old generation allowed to grow well beyond what is live before it is collected) a lesson's
 * kernel peaks at about 750 MB with about 550 MB live. Small semi-spaces and a 20% growth
 * allowance keep the peak near what is live for a few percent of time: on a JupyterHub every
 * learner's kernel is one of these (README.md, "Teaching a workshop").
 * https://v8.dev/blog/trash-talk describes both generations.
 */
export const KERNEL_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2', '--heap-growing-percent=20'];

/**
 * The kernel's environment, over the server's: glibc's malloc tuned for a process that allocates
 * large buffers now and then (https://www.gnu.org/software/libc/manual/html_node/Memory-Allocation-Tunables.html).
 * - MALLOC_ARENA_MAX=2: glibc gives each thread that allocates its own arena (up to 8 per core),
 *   and a kernel has many threads (V8's, libuv's, ONNX Runtime's); two take 30 MB off the peak.
 * - MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ at 128 KiB: left alone, glibc raises its
 *   mmap threshold (up to 32 MiB) each time a large block is freed, so the next large buffers (a
 *   file read, a tensor's values on their way to the wasm heap) come from the heap, which returns
 *   nothing to the system while a small block above them lives. Fixed thresholds give every
 *   block of 128 KiB or more back when it is freed: 30 to 40 MB off a lesson kernel.
 * Neither changes the lesson's speed measurably (README.md, "Teaching a workshop").
 */
export const KERNEL_ENVIRONMENT: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
};
