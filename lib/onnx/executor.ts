/**
 * Runs a frozen tfjs model (or the part of it up to a chosen tensor) on
 * onnxruntime-node: the layers are translated once into an in-memory ONNX
 * graph; layers without a translation, and the layers after them, run on
 * tfjs, layer by layer, on the ONNX outputs.
 *
 * Inference semantics throughout: BatchNormalization uses its moving
 * statistics, Dropout and noise layers pass their input through. The weights
 * are copied when the executor is created: create a new one after changing them.
 */
import * as tf from '@tensorflow/tfjs';
import type * as Ort from 'onnxruntime-node';
import { ready } from '../backend';
import { ValueError } from '../errors';
import { foldBatchNormIntoConv } from './fold-batch-norm';
import { flattenLayerGraph, LayerGraph, OutputSpec } from './layer-graph';
import { encodeModel } from './model-proto';
import { defaultThreadCount, loadOnnxRuntime, ModuleLoader } from './runtime';
import { translateLayerGraph, Translation, UntranslatedLayer } from './translate';

export interface OnnxExecutorOptions {
  /**
   * Where the computation ends: a SymbolicTensor of the model (e.g. the frozen base's
   * output), the name of a layer with one output, or a list of these. Defaults to the
   * model's outputs.
   */
  output?: OutputSpec | OutputSpec[];
  /** Threads one inference uses. Defaults to the number of cores. */
  threads?: number;
  /** onnxruntime execution providers, in order of preference. Defaults to ['cuda', 'cpu'] where CUDA is usable, else ['cpu']. */
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
   * Most images per onnxruntime call: a larger requested batch is split. Defaults to 8: on this
   * project's 2-core machines DenseNet121 at 160x160 runs about 10% faster in calls of 8 images
   * than of 32 (its feature maps then stay in the caches); the results are the same.
   */
  maxImagesPerCall?: number;
  /**
   * Record how long each onnxruntime operator takes: the profile (a Chrome trace, JSON) goes to
   * a file whose path starts with this prefix, complete once the executor is disposed.
   * `npm run bench` uses it to show where the time goes.
   */
  profilePrefix?: string;
  /** How onnxruntime-node is loaded (tests). Defaults to require. */
  loader?: ModuleLoader;
}

export interface OnnxRunOptions {
  /** Images per batch (onBatchEnd is called after each; see also maxImagesPerCall). Defaults to 32. */
  batchSize?: number;
  /** Called after each batch with the number of samples done and the total. */
  onBatchEnd?: (done: number, total: number) => void | Promise<void>;
}

export interface OnnxExecutor {
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
  readonly totalLayers: number;
  /** Layers that have no translation (the layers after them run on tfjs too). */
  readonly untranslated: UntranslatedLayer[];
  /** Execution providers of the session ('cpu', or 'cuda' then 'cpu'); empty when all runs on tfjs. */
  readonly providers: string[];
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
export async function createOnnxExecutor(model: tf.LayersModel, options: OnnxExecutorOptions = {}): Promise<OnnxExecutor> {
  await ready();
  const { ort, info } = loadOnnxRuntime(options.loader);
  if (!ort) throw new Error(`createOnnxExecutor: ${info.reason}.`);
  const threads = options.threads ?? defaultThreadCount();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new ValueError(`createOnnxExecutor: options.threads must be a positive integer. Received threads=${JSON.stringify(options.threads)}.`);
  }
  const maxImagesPerCall = options.maxImagesPerCall ?? 8;
  if (!Number.isInteger(maxImagesPerCall) || maxImagesPerCall < 1) {
    throw new ValueError(
      `createOnnxExecutor: options.maxImagesPerCall must be a positive integer. Received maxImagesPerCall=${JSON.stringify(options.maxImagesPerCall)}.`,
    );
  }
  const layerGraph = flattenLayerGraph(model, options.output);
  const translation = translateLayerGraph(layerGraph, model.name);
  let folded = 0;
  let session: Ort.InferenceSession | undefined;
  let providers: string[] = [];
  let modelBytes = 0;
  let note = translation.note;
  if (translation.graph) {
    let graph = translation.graph;
    if (options.foldBatchNorm ?? true) ({ graph, folded } = foldBatchNormIntoConv(graph));
    const bytes = encodeModel(graph);
    modelBytes = bytes.length;
    const wanted = options.executionProviders ?? info.providers;
    const sessionOptions = (eps: string[]): Ort.InferenceSession.SessionOptions => ({
      executionProviders: eps,
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
      // Session config keys (onnxruntime_session_options_config_keys.h), passed through by onnxruntime-node.
      extra: { session: { intra_op: { allow_spinning: options.spinning === false ? '0' : '1' } } },
      ...(options.profilePrefix === undefined ? {} : { enableProfiling: true, profileFilePrefix: options.profilePrefix }),
    });
    try {
      session = await ort.InferenceSession.create(bytes, sessionOptions(wanted));
      providers = wanted;
    } catch (e) {
      if (wanted.length === 1 && wanted[0] === 'cpu') throw e;
      // A GPU provider that fails to start: say so and use the CPU.
      session = await ort.InferenceSession.create(bytes, sessionOptions(['cpu']));
      providers = ['cpu'];
      note += ` (${wanted.join(', ')} failed: ${(e as Error).message.split('\n')[0]}; using the CPU)`;
    }
  }
  return new Executor(ort, session, layerGraph, translation, { note, providers, modelBytes, folded, maxImagesPerCall, profiling: options.profilePrefix !== undefined });
}

class Executor implements OnnxExecutor {
  readonly inputNames: string[];
  readonly outputShapes: (number | null)[][];
  readonly translatedLayers: number;
  readonly totalLayers: number;
  readonly untranslated: UntranslatedLayer[];
  readonly note: string;
  readonly providers: string[];
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
    facts: { note: string; providers: string[]; modelBytes: number; folded: number; maxImagesPerCall: number; profiling: boolean },
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
    this.modelBytes = facts.modelBytes;
    this.foldedBatchNorms = facts.folded;
  }

  get outputShape(): (number | null)[] {
    return this.outputShapes[0];
  }

  async run(x: tf.Tensor | tf.Tensor[], options: OnnxRunOptions = {}): Promise<tf.Tensor> {
    if (this.outputShapes.length !== 1) {
      throw new ValueError(`run(x): this executor computes ${this.outputShapes.length} outputs; use runAll(x) to get them all.`);
    }
    return (await this.runAll(x, options))[0];
  }

  async runAll(x: tf.Tensor | tf.Tensor[], options: OnnxRunOptions = {}): Promise<tf.Tensor[]> {
    if (this.disposed) throw new Error('This ONNX executor was disposed; create a new one with createOnnxExecutor.');
    const inputs = this.checkInputs(x);
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new ValueError(`run(x, options): options.batchSize must be a positive integer. Received batchSize=${JSON.stringify(options.batchSize)}.`);
    }
    const total = inputs[0].shape[0];
    // The inputs' values, read once: slicing a tfjs (wasm) tensor per call costs ~20% of DenseNet's time.
    const hosts = await Promise.all(inputs.map(async (t) => ({ data: asFloat32(await t.data()), shape: t.shape })));
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
  private async runBatch(
    hosts: { data: Float32Array; shape: number[] }[],
    start: number,
    count: number,
  ): Promise<{ data: Float32Array; shape: number[] }[]> {
    const { graphInputs, graphOutputs, tfjsCalls } = this.translation;
    const outputKeys = this.layerGraph.outputKeys;
    // Views of the samples [start, start + count) of each input: no copy.
    const views = new Map<string, { data: Float32Array; shape: number[] }>();
    this.layerGraph.inputs.forEach((input, i) => {
      const { data, shape } = hosts[i];
      const perSample = shape.slice(1).reduce((a, b) => a * b, 1);
      views.set(input.key, { data: data.subarray(start * perSample, (start + count) * perSample), shape: [count, ...shape.slice(1)] });
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
        throw new ValueError(`run(x): all inputs must have the same number of samples; received ${xs.map((s) => s.shape[0]).join(' and ')}.`);
      }
    });
    return xs;
  }
}

/** tfjs may keep a float32 tensor cast from int32 in an Int32Array: onnxruntime needs a Float32Array. */
function asFloat32(data: tf.TypedArray | string[] | Uint8Array[]): Float32Array {
  if (data instanceof Float32Array) return data;
  return Float32Array.from(data as ArrayLike<number>);
}
