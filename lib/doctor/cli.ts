/**
 * `npx tslab-dl doctor [--json]`: the doctor's report (lib/doctor/doctor.ts) on the command line.
 */
import { parseCommandLine } from '../core/command-line';
import { diagnose, formatReport } from './doctor';

const USAGE = `Usage: tslab-dl doctor [--json]

Checks Node, npm, tslab, TypeScript and TensorFlow.js versions; each TensorFlow.js backend
(tfjs-node-gpu, webgpu, tfjs-node, wasm, cpu) and the one chosen; onnxruntime-node, its execution
providers (CUDA, WebGPU, CPU) and the one that would run the frozen layers, with the Vulkan loader,
drivers and WebGPU adapter the WebGPU provider needs; the legacy CUDA route (tfjs-node-gpu):
nvidia-smi and the CUDA 11 / cuDNN 8 libraries libtensorflow needs; the fix for each missing
piece; Jupyter and the tslab-dl kernelspec.

Exit code 0 when a TensorFlow.js backend works, 1 when none does.
`;

const SPEC = {
  command: 'tslab-dl doctor',
  usage: USAGE,
  options: { json: { type: 'boolean', description: 'print the report as JSON' } },
} as const;

/** `npx tslab-dl doctor [--json]`: argv is [command, ...options]. */
export async function main(argv: string[]): Promise<number> {
  const args = argv[0] === 'doctor' ? argv.slice(1) : argv;
  const line = parseCommandLine(SPEC, args);
  if (line.exit !== undefined) return line.exit;
  const report = await diagnose();
  process.stdout.write(line.values.json ? JSON.stringify(report, null, 2) + '\n' : formatReport(report) + '\n');
  return report.ok ? 0 : 1;
}
