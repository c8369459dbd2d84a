/**
 * Where onnxruntime spends its time, from the profile an executor records with `profilePrefix`
 * (a Chrome trace): the kernels grouped into convolutions (with the multiply-adds they do, from
 * their input and output shapes), BatchNormalization (onnxruntime runs it as a depthwise 1x1
 * Conv, with the ReLU after it fused in), Concat, and the rest.
 */
import * as fs from 'fs';

export type KernelGroup = 'convolution' | 'batch normalization' | 'concatenation' | 'other';

export interface OnnxProfile {
  /** Images through the timed runs (the first run, a warm-up, is left out). */
  images: number;
  /** Kernel time per image, in milliseconds, by group. */
  msPerImage: Record<KernelGroup, number>;
  /** Multiply-adds of the convolutions, per image. */
  convolutionMacsPerImage: number;
  /** The convolutions' arithmetic rate (2 flops per multiply-add). */
  convolutionGflops: number;
}

interface TraceEvent {
  cat?: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string; input_type_shape?: Record<string, number[]>[]; output_type_shape?: Record<string, number[]>[] };
}

const product = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);
const shapeOf = (entry: Record<string, number[]> | undefined): number[] | undefined => (entry ? Object.values(entry)[0] : undefined);

/** Reads the profile file `file` of one executor whose runs all had the same batch. */
export function summarizeOnnxProfile(file: string): OnnxProfile {
  const events = JSON.parse(fs.readFileSync(file, 'utf8')) as TraceEvent[];
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  if (runs.length < 2)
    throw new Error(`${file}: the profile holds ${runs.length} run(s); at least a warm-up and one timed run are needed.`);
  const timedFrom = runs[1].ts;
  const microseconds: Record<KernelGroup, number> = { convolution: 0, 'batch normalization': 0, concatenation: 0, other: 0 };
  let macs = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < timedFrom) continue;
    const op = e.args?.op_name ?? '';
    let group: KernelGroup = op === 'Concat' ? 'concatenation' : op === 'BatchNormalization' ? 'batch normalization' : 'other';
    if (op === 'Conv' || op === 'FusedConv') {
      const weights = shapeOf(e.args?.input_type_shape?.[1]) ?? [];
      const macsPerOutput = product(weights.slice(1));
      group = macsPerOutput > 1 ? 'convolution' : 'batch normalization';
      if (group === 'convolution') macs += product(shapeOf(e.args?.output_type_shape?.[0]) ?? []) * macsPerOutput;
    }
    microseconds[group] += e.dur;
  }
  // The batch of each run: the first dimension of the first kernel's input.
  const firstKernel = events.find((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
  const batch = shapeOf(firstKernel?.args?.input_type_shape?.[0])?.[0] ?? 1;
  const images = batch * (runs.length - 1);
  const msPerImage = Object.fromEntries(Object.entries(microseconds).map(([g, us]) => [g, us / 1000 / images])) as Record<
    KernelGroup,
    number
  >;
  return {
    images,
    msPerImage,
    convolutionMacsPerImage: macs / images,
    convolutionGflops: (2 * macs) / (microseconds.convolution / 1e6) / 1e9,
  };
}
