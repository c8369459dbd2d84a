/**
 * Runs a frozen tfjs model (or the part of it up to a chosen tensor) on
 * onnxruntime-node: the layers are translated once into an in-memory ONNX
 * graph; layers without a translation, and the layers after them, run on
 * tfjs, layer by layer, on the ONNX outputs.
 *
 * Inference semantics throughout: BatchNormalization uses its moving
 * statistics, Dropout and noise layers pass their input through. The weights
 * are copied when the session is created: create a new one after changing them.
 */
import * as tf from '@tensorflow/tfjs';
import type * as Ort from 'onnxruntime-node';
import { ready } from '../backends/selection';
import { ValueError } from '../core/errors';
import { valuesForReading } from '../core/tensor-reads';
import { foldBatchNormIntoConv } from './fold-batch-norm';
import { flattenLayerGraph, LayerGraph, OutputSpec } from './layer-graph';
import { encodeModel } from './model-proto';
import {
  chooseOnnxProvider,
  describeProvider,
  markProviderFailed,
  OnnxProvider,
  ProviderChoice,
  providerLabel,
  ProviderProbes,
  providerName,
  providerSessionOptions,
} from './providers';
import { defaultThreadCount, loadOnnxRuntime, ModuleLoader } from './runtime';
import { translateLayerGraph, Translation, UntranslatedLayer } from './translate';

/** Options of {@link createOnnxSession}: where the computation ends, threads, the execution provider, and tuning. */
export interface OnnxSessionOptions {
  /**
   * Where the computation ends: a SymbolicTensor of the model (e.g. the frozen base's
   * output), the name of a layer with one output, or a list of these. Defaults to the
   * model's outputs.
   */
  output?: OutputSpec | OutputSpec[];
  /** Threads one inference uses. Defaults to the number of cores. */
  threads?: number;
  /**
   * The execution provider: 'best' (CUDA when `npm run setup:cuda` installed it and it loads, WebGPU
   * on a hardware adapter, else the CPU; lib/onnx/providers.ts) or one by name, which must be usable
   * here (a software WebGPU adapter may be forced). A GPU provider runs the whole graph or the
   * session fails: with 'best' the session then says why in `providerNote` and takes the next
   * provider; a named one throws. Defaults to 'best'.
   */
  provider?: OnnxProvider | 'best';
  /** How the providers are checked (tests). */
  providerProbes?: Omit<ProviderProbes, 'loader'>;
  /** Raw onnxruntime execution providers, in order, overriding `provider` (with ONNX Runtime's own CPU fallback). */
  executionProviders?: string[];
  /** Fold each BatchNormalization that follows a Conv into the Conv's weights. Defaults to true. */
  foldBatchNorm?: boolean;
  /** onnxruntime's graph optimisations. Defaults to 'all'. */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Whether idle worker threads spin (onnxruntime's default) rather than sleep. Spinning is a
   * little faster on an idle machine and wastes cycles on a busy one. Defaults to true.
   */
  spinning?: boolean;
  /**
   * Most images per onnxruntime call: a larger requested batch is split. Defaults to 4: on this
   * project's 2-core machines DenseNet121 at 160x160 runs about 10% faster in calls of 8 images
   * than of 32 (its feature maps then stay in the caches), and calls of 4 run as fast as calls of
   * 8 with 50 MB less of feature maps (the kernel's peak memory); the results are the same.
   */
  maxImagesPerCall?: number;
  /**
   * Record how long each onnxruntime operator takes: the profile (a Chrome trace, JSON) goes to
   * a file whose path starts with this prefix, complete once the session is disposed.
   * `npm run bench` uses it to show where the time goes.
   */
  profilePrefix?: string;
  /** How onnxruntime-node is loaded (tests). Defaults to require. */
  loader?: ModuleLoader;
}

/** Options of {@link OnnxSession.run} and {@link OnnxSession.runAll}. */
export interface OnnxRunOptions {
  /** Images per batch (onBatchEnd is called after each; see also maxImagesPerCall). Defaults to 32. */
  batchSize?: number;
  /** Called after each batch with the number of samples done and the total. */
  onBatchEnd?: (done: number, total: number) => void | Promise<void>;
}

/**
 * A frozen tfjs model (or its part up to a chosen tensor) translated to ONNX and opened in
 * onnxruntime-node, made by {@link createOnnxSession}: layers without a translation, and those
 * after them, run on tfjs. Inference semantics (BatchNormalization's moving statistics, no
 * dropout); the weights were copied when it was made. Dispose it when done.
 */
export interface OnnxSession {
  /** Names of the model's input layers `run` expects tensors for, in order. */
  readonly inputNames: string[];
  /** The tfjs shape of each result (null for the batch dimension). */
  readonly outputShapes: (number | null)[][];
  /** The shape of the first (usually only) result. */
  readonly outputShape: (number | null)[];
  /** One line: which layers run on ONNX and, if any do not, where tfjs takes over and why. */
  readonly note: string;
  /** Layers translated to ONNX, and layers in total. */
  readonly translatedLayers: number;
  /** Layers in the computation, translated or not. */
  readonly totalLayers: number;
  /** Layers that have no translation (the layers after them run on tfjs too). */
  readonly untranslated: UntranslatedLayer[];
  /** Execution providers of the session (e.g. ['webgpu']); empty when all runs on tfjs. */
  readonly providers: string[];
  /** The provider that runs the graph; undefined when all runs on tfjs or `executionProviders` was given. */
  readonly provider: OnnxProvider | undefined;
  /** That provider in a few words: 'CPU', 'CUDA', 'WebGPU: NVIDIA H200 (hardware)'. */
  readonly providerLabel: string;
  /** One line: which provider runs the translated layers, and why not the one tried first if it failed. */
  readonly providerNote: string;
  /** Whether a GPU provider tried first could not create the session, so that the next one runs it. */
  readonly fellBack: boolean;
  /** Size of the ONNX model in bytes (0 when all runs on tfjs). */
  readonly modelBytes: number;
  /** Conv+BatchNormalization pairs folded into one Conv. */
  readonly foldedBatchNorms: number;
  /** Computes the only output for `x` (one tensor per input) in batches; the caller disposes the result. */
  run(x: tf.Tensor | tf.Tensor[], options?: OnnxRunOptions): Promise<tf.Tensor>;
  /** Computes every output, in the order of `options.output` (or the model's outputs). */
  runAll(x: tf.Tensor | tf.Tensor[], options?: OnnxRunOptions): Promise<tf.Tensor[]>;
  /** Releases the onnxruntime session. */
  dispose(): Promise<void>;
}

/**
 * Translates `model` (up to `options.output`) to ONNX and opens an onnxruntime session.
 * Throws when onnxruntime-node cannot be loaded: check {@link onnxAvailable} first.
 */
export async function createOnnxSession(model: tf.LayersModel, options: OnnxSessionOptions = {}): Promise<OnnxSession> {
  await ready();
  const { ort, info } = loadOnnxRuntime(options.loader);
  if (!ort) throw new Error(`createOnnxSession: ${info.reason}.`);
  const threads = options.threads ?? defaultThreadCount();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new ValueError(
      `createOnnxSession: options.threads must be a positive integer. Received threads=${JSON.stringify(options.threads)}.`,
    );
  }
  const maxImagesPerCall = options.maxImagesPerCall ?? 4;
  if (!Number.isInteger(maxImagesPerCall) || maxImagesPerCall < 1) {
    throw new ValueError(
      `createOnnxSession: options.maxImagesPerCall must be a positive integer. Received maxImagesPerCall=${JSON.stringify(options.maxImagesPerCall)}.`,
    );
  }
  const layerGraph = flattenLayerGraph(model, options.output);
  const translation = translateLayerGraph(layerGraph, model.name);
  let folded = 0;
  let session: Ort.InferenceSession | undefined;
  let providers: string[] = [];
  let provider: OnnxProvider | undefined;
  let providerNote = 'tfjs runs every layer (nothing translated to ONNX)';
  let label = 'none';
  let fellBack = false;
  let modelBytes = 0;
  const note = translation.note;
  let bytes: Uint8Array | undefined;
  if (translation.graph) {
    ({ bytes, folded } = encodeTranslation(translation.graph, options.foldBatchNorm ?? true));
    // The weights now live in the encoded model: the arrays they came from can go while ONNX
    // Runtime reads it (they would otherwise add their 28 MB, for DenseNet121, to the peak).
    translation.graph = undefined;
  }
  if (bytes) {
    modelBytes = bytes.length;
    const base = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential' as const,
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
      ...(options.profilePrefix === undefined ? {} : { enableProfiling: true, profileFilePrefix: options.profilePrefix }),
    };
    // Session config keys (onnxruntime_session_options_config_keys.h), passed through by onnxruntime-node.
    const spinning = { intra_op: { allow_spinning: options.spinning === false ? '0' : '1' } };
    if (options.executionProviders) {
      session = await ort.InferenceSession.create(bytes, {
        ...base,
        executionProviders: options.executionProviders,
        extra: { session: spinning },
      });
      providers = options.executionProviders;
      providerNote = `ONNX Runtime with the execution providers ${providers.join(', ')}`;
      label = providers.join(', ');
    } else {
      const choice = await chooseOnnxProvider(options.provider ?? 'best', { loader: options.loader, ...options.providerProbes });
      ({ session, provider, providerNote, fellBack, label } = await openSession(ort, bytes, choice, (p) => {
        const { executionProviders, extra } = providerSessionOptions(p);
        return { ...base, executionProviders, extra: { session: { ...spinning, ...extra?.session } } };
      }));
      providers = [provider];
    }
  }
  // The graph (a copy of every weight) is onnxruntime's now: a kept session does not hold it twice.
  return new RuntimeSession(
    ort,
    session,
    layerGraph,
    { ...translation, graph: undefined },
    {
      note,
      providers,
      provider,
      providerLabel: label,
      providerNote,
      fellBack,
      modelBytes,
      folded,
      maxImagesPerCall,
      profiling: options.profilePrefix !== undefined,
    },
  );
}

/** The ONNX model of a translated graph, its BatchNormalizations folded into the Convs before them first when `fold`. */
function encodeTranslation(graph: NonNullable<Translation['graph']>, fold: boolean): { bytes: Uint8Array; folded: number } {
  if (!fold) return { bytes: encodeModel(graph), folded: 0 };
  const result = foldBatchNormIntoConv(graph);
  return { bytes: encodeModel(result.graph), folded: result.folded };
}

/**
 * Opens the session on the chosen provider, else on each fallback in turn: a GPU provider that
 * cannot take the whole graph (an operator it lacks, no device, a library missing) is named with
 * ONNX Runtime's first line of explanation. A forced provider throws instead.
 */
async function openSession(
  ort: typeof Ort,
  bytes: Uint8Array,
  choice: ProviderChoice,
  optionsFor: (provider: OnnxProvider) => Ort.InferenceSession.SessionOptions,
): Promise<{ session: Ort.InferenceSession; provider: OnnxProvider; providerNote: string; fellBack: boolean; label: string }> {
  const failed: string[] = [];
  for (const provider of [choice.provider, ...choice.fallbacks]) {
    try {
      const session = await ort.InferenceSession.create(bytes, optionsFor(provider));
      const why = failed.length > 0 ? ` (${failed.join('; ')})` : '';
      const label = providerLabel(provider, choice.statuses);
      return {
        session,
        provider,
        providerNote: `${describeProvider(provider, choice.statuses)}${why}`,
        fellBack: failed.length > 0,
        label,
      };
    } catch (e) {
      const message = ortReason((e as Error).message);
      if (choice.forced || provider === 'cpu') {
        const hint = provider === 'cpu' ? '' : ` Use executor 'onnx' to fall back to the CPU by itself, or 'onnx-cpu'.`;
        throw new Error(
          `ONNX Runtime could not open a session on ${providerName(provider)}${provider === 'cpu' ? '' : ' for the whole graph (no CPU fallback)'}: ${message}.${hint}`,
        );
      }
      markProviderFailed(provider, message);
      failed.push(`${providerName(provider)} could not run it: ${message}`);
    }
  }
  throw new Error('ONNX Runtime: no execution provider to try.'); // unreachable: the CPU ends every list
}

class RuntimeSession implements OnnxSession {
  readonly inputNames: string[];
  readonly outputShapes: (number | null)[][];
  readonly translatedLayers: number;
  readonly totalLayers: number;
  readonly untranslated: UntranslatedLayer[];
  readonly note: string;
  readonly providers: string[];
  readonly provider: OnnxProvider | undefined;
  readonly providerLabel: string;
  readonly providerNote: string;
  readonly fellBack: boolean;
  readonly modelBytes: number;
  readonly foldedBatchNorms: number;
  private readonly maxImagesPerCall: number;
  private readonly profiling: boolean;
  private disposed = false;

  constructor(
    private readonly ort: typeof Ort,
    private session: Ort.InferenceSession | undefined,
    private readonly layerGraph: LayerGraph,
    private readonly translation: Translation,
    facts: {
      note: string;
      providers: string[];
      provider: OnnxProvider | undefined;
      providerLabel: string;
      providerNote: string;
      fellBack: boolean;
      modelBytes: number;
      folded: number;
      maxImagesPerCall: number;
      profiling: boolean;
    },
  ) {
    this.maxImagesPerCall = facts.maxImagesPerCall;
    this.profiling = facts.profiling;
    this.inputNames = layerGraph.inputs.map((i) => i.layer.name);
    this.outputShapes = layerGraph.outputShapes;
    this.translatedLayers = translation.translatedLayers;
    this.totalLayers = layerGraph.calls.length;
    this.untranslated = translation.untranslated;
    this.note = facts.note;
    this.providers = facts.providers;
    this.provider = facts.provider;
    this.providerLabel = facts.providerLabel;
    this.providerNote = facts.providerNote;
    this.fellBack = facts.fellBack;
    this.modelBytes = facts.modelBytes;
    this.foldedBatchNorms = facts.folded;
  }

  get outputShape(): (number | null)[] {
    return this.outputShapes[0];
  }

  async run(x: tf.Tensor | tf.Tensor[], options: OnnxRunOptions = {}): Promise<tf.Tensor> {
    if (this.outputShapes.length !== 1) {
      throw new ValueError(`run(x): this session computes ${this.outputShapes.length} outputs; use runAll(x) to get them all.`);
    }
    return (await this.runAll(x, options))[0];
  }

  async runAll(x: tf.Tensor | tf.Tensor[], options: OnnxRunOptions = {}): Promise<tf.Tensor[]> {
    if (this.disposed) throw new Error('This ONNX session was disposed; create a new one with createOnnxSession.');
    const inputs = this.checkInputs(x);
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new ValueError(
        `run(x, options): options.batchSize must be a positive integer. Received batchSize=${JSON.stringify(options.batchSize)}.`,
      );
    }
    const total = inputs[0].shape[0];
    const hosts = await Promise.all(inputs.map(sampleReader));
    // One flat float32 buffer per output, filled batch by batch: no tensors pile up.
    let buffers: { data: Float32Array; sampleShape: number[] }[] | undefined;
    for (let start = 0; start < total; start += batchSize) {
      const end = Math.min(start + batchSize, total);
      for (let from = start; from < end; from += this.maxImagesPerCall) {
        const count = Math.min(this.maxImagesPerCall, end - from);
        const batch = await this.runBatch(hosts, from, count);
        buffers ??= batch.map((b) => ({ data: new Float32Array(total * (b.data.length / count)), sampleShape: b.shape.slice(1) }));
        batch.forEach((b, i) => buffers![i].data.set(b.data, from * (b.data.length / count)));
      }
      await options.onBatchEnd?.(end, total);
    }
    if (!buffers) {
      return this.outputShapes.map((shape) => {
        const perSample = shape.slice(1);
        if (perSample.some((d) => d === null)) {
          throw new ValueError(`run(x): x has no samples and the output shape [${shape}] is not fixed.`);
        }
        return tf.zeros([0, ...(perSample as number[])]);
      });
    }
    return buffers.map((b) => tf.tensor(b.data, [total, ...b.sampleShape], 'float32'));
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    if (this.profiling) this.session?.endProfiling(); // writes the profile file
    await this.session?.release();
    this.session = undefined;
  }

  /** One batch through ONNX, then through the tfjs layers left: each output as a flat float32 array. */
  private async runBatch(hosts: SampleReader[], start: number, count: number): Promise<{ data: Float32Array; shape: number[] }[]> {
    const { graphInputs, graphOutputs, tfjsCalls } = this.translation;
    const outputKeys = this.layerGraph.outputKeys;
    // The samples [start, start + count) of each input.
    const views = new Map<string, { data: Float32Array; shape: number[] }>();
    this.layerGraph.inputs.forEach((input, i) => {
      const { samples, shape } = hosts[i];
      views.set(input.key, { data: samples(start, count), shape: [count, ...shape.slice(1)] });
    });
    const slices: tf.Tensor[] = [];
    const onnxOutputs: tf.Tensor[] = [];
    try {
      const env = new Map<string, tf.Tensor>();
      // tfjs tensors of the inputs only where a tfjs layer reads an input directly.
      for (const [key, view] of views) {
        if (tfjsCalls.some((c) => c.inputKeys.includes(key)) || outputKeys.includes(key)) {
          const t = tf.tensor(view.data, view.shape, 'float32');
          slices.push(t);
          env.set(key, t);
        }
      }
      const direct = new Map<string, { data: Float32Array; shape: number[] }>();
      if (this.session) {
        const feeds: Record<string, Ort.Tensor> = {};
        for (const gi of graphInputs) {
          const view = views.get(gi.key)!;
          feeds[gi.onnxName] = new this.ort.Tensor('float32', view.data, view.shape);
        }
        const results = await this.session.run(feeds);
        for (const go of graphOutputs) {
          const r = results[go.onnxName];
          direct.set(go.key, { data: r.data as Float32Array, shape: [...r.dims] });
          if (tfjsCalls.some((c) => c.inputKeys.includes(go.key))) {
            const t = tf.tensor(r.data as Float32Array, [...r.dims], 'float32');
            onnxOutputs.push(t);
            env.set(go.key, t);
          }
        }
      }
      if (tfjsCalls.length === 0 && outputKeys.every((k) => direct.has(k))) {
        return outputKeys.map((k) => direct.get(k)!);
      }
      const results = tf.tidy(() => {
        for (const call of tfjsCalls) {
          const args = call.inputKeys.map((k) => env.get(k)!);
          const y = call.layer.apply(args.length === 1 ? args[0] : args, { ...call.callArgs, training: false });
          const ys = Array.isArray(y) ? y : [y];
          call.outputKeys.forEach((k, i) => env.set(k, ys[i] as tf.Tensor));
        }
        // Outputs computed by ONNX come from `direct`; the others are copied out of the tidy.
        return outputKeys.map((k) => (direct.has(k) ? undefined : tf.cast(env.get(k)!, 'float32').clone()));
      });
      try {
        const out: { data: Float32Array; shape: number[] }[] = [];
        for (let i = 0; i < outputKeys.length; i++) {
          const t = results[i];
          out.push(t ? { data: asFloat32(await t.data()), shape: t.shape } : direct.get(outputKeys[i])!);
        }
        return out;
      } finally {
        tf.dispose(results.filter((t): t is tf.Tensor => t !== undefined));
      }
    } finally {
      tf.dispose(slices);
      tf.dispose(onnxOutputs);
    }
  }

  private checkInputs(x: tf.Tensor | tf.Tensor[]): tf.Tensor[] {
    const xs = Array.isArray(x) ? x : [x];
    const expected = this.layerGraph.inputs;
    if (xs.length !== expected.length) {
      throw new ValueError(
        `run(x): the model takes ${expected.length} input(s) (${this.inputNames.join(', ')}); received ${xs.length} tensor(s).`,
      );
    }
    xs.forEach((t, i) => {
      const want = expected[i].shape;
      if (!(t instanceof tf.Tensor)) {
        throw new ValueError(`run(x): input "${expected[i].layer.name}" must be a tf.Tensor; received ${typeof t}.`);
      }
      const ok = t.rank === want.length && want.every((d, j) => d === null || d === t.shape[j]);
      if (!ok) {
        throw new ValueError(
          `run(x): input "${expected[i].layer.name}" must have shape [${want.map((d) => d ?? 'batch').join(', ')}]; received [${t.shape.join(', ')}].`,
        );
      }
      if (t.shape[0] !== xs[0].shape[0]) {
        throw new ValueError(
          `run(x): all inputs must have the same number of samples; received ${xs.map((s) => s.shape[0]).join(' and ')}.`,
        );
      }
    });
    return xs;
  }
}

/**
 * ONNX Runtime's error in one short line: its messages often start with the source location and
 * the failed check ("webgpu_context.cc:136 ... was false. Failed to get a WebGPU adapter: ...").
 */
export function ortReason(message: string): string {
  let line = message.split('\n')[0];
  line =
    /\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*(.+)$/.exec(line)?.[1] ??
    /\bwas false\.\s*(.+)$/.exec(line)?.[1] ??
    line.replace(/^\S+\.(?:cc|cpp|h):\d+\s+/, '');
  return line.length > 240 ? `${line.slice(0, 237)}...` : line;
}

/** tfjs may keep a float32 tensor cast from int32 in an Int32Array: onnxruntime needs a Float32Array. */
/** An input's shape, and its samples [start, start + count) as float32 values. */
interface SampleReader {
  shape: number[];
  samples(start: number, count: number): Float32Array;
}

/**
 * Reads an input's samples for each call. On wasm each call's samples are copied out of the
 * backend's heap (reading the whole lesson training set at once would add its 43 MB to the
 * kernel's peak memory; slicing tfjs tensors per call instead costs ~20% of DenseNet's time);
 * elsewhere the values are read once, asynchronously (on webgpu they may be on the GPU), and each
 * call gets a view of them.
 */
async function sampleReader(t: tf.Tensor): Promise<SampleReader> {
  const perSample = t.shape.slice(1).reduce((a, b) => a * b, 1);
  if (tf.getBackend() === 'wasm') {
    return {
      shape: t.shape,
      samples(start, count) {
        // A fresh view each call: the heap may have grown (and its old buffer gone) since the last one.
        const part = valuesForReading(t, 'ONNX Runtime (the input)').subarray(start * perSample, (start + count) * perSample);
        return part instanceof Float32Array ? part.slice() : Float32Array.from(part);
      },
    };
  }
  const data = asFloat32(await t.data());
  return { shape: t.shape, samples: (start, count) => data.subarray(start * perSample, (start + count) * perSample) };
}

function asFloat32(data: tf.TypedArray | string[] | Uint8Array[]): Float32Array {
  if (data instanceof Float32Array) return data;
  return Float32Array.from(data as ArrayLike<number>);
}
