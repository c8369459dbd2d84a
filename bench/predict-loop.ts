/**
 * `predict(model, x)` called in a loop, 32 new images per call, against the engine alone: how much
 * a call costs beyond running the frozen base (README.md, "Speed"). The lesson's model (64x64
 * images upscaled to 160x160, DenseNet121 with random weights, frozen, the lesson's head) on the
 * wasm backend; the engine is one ONNX Runtime session of the same frozen prefix, run directly on
 * batches of 32 after a warm-up. The two are timed call by call, in turns, so that other processes
 * on the cores slow both alike. Every call gets images it has not seen, so the feature cache
 * cannot answer; the first predict call (which opens the kept session) is not timed.
 *
 *     node --import tsx -e "require('./bench/predict-loop').benchPredictLoop({ calls: 8, log: console.log })"
 */
import * as tf from '@tensorflow/tfjs';
import {
  buildHead,
  createOnnxSession,
  DenseNet121,
  onnxAvailable,
  onnxRuntimeInfo,
  onnxSessionStats,
  predict,
  setBackend,
  splitFrozenPrefix,
  upscale,
} from '../lib';

/** Options of {@link benchPredictLoop}. */
export interface PredictLoopOptions {
  /** Timed predict calls (and as many engine runs). */
  calls: number;
  log: (line: string) => void;
}

/** What {@link benchPredictLoop} measured. */
export interface PredictLoopFigure {
  /** Images/s of the ONNX session alone, batches of 32. */
  engineImagesPerSecond: number;
  /** Images/s of `predict(model, x32)`, new images each call. */
  predictImagesPerSecond: number;
  /** predict over engine (the target is at least 0.90). */
  ratio: number;
  /** ONNX sessions the predict calls opened, the untimed first one included (1 when the session is kept). */
  sessionsOpened: number;
  /** Seconds of the first, untimed predict call, which opens the session. */
  firstCallSeconds: number;
}

const BATCH = 32;

/** The lesson's model with a frozen DenseNet121 base (random weights), as bench/bench.ts builds it. */
async function lessonModel(): Promise<tf.LayersModel> {
  const inputs = tf.input({ shape: [64, 64, 3] });
  const up = upscale({ height: 160, width: 160 }).apply(inputs) as tf.SymbolicTensor;
  const base = await DenseNet121({ includeTop: false, pooling: 'max', weights: null, inputTensor: up, inputShape: [160, 160, 3] });
  base.trainable = false;
  return tf.model({ inputs, outputs: buildHead(base.output as tf.SymbolicTensor) });
}

/** Times `calls` predict calls of 32 new images against as many runs of the engine alone. */
export async function benchPredictLoop(options: PredictLoopOptions): Promise<PredictLoopFigure> {
  const { calls, log } = options;
  if (!Number.isInteger(calls) || calls < 1) throw new RangeError(`benchPredictLoop: calls must be a positive integer. Received ${calls}.`);
  if (!onnxAvailable()) throw new Error(`benchPredictLoop needs ONNX Runtime: ${onnxRuntimeInfo().reason}.`);
  await setBackend('wasm');
  const model = await lessonModel();
  const split = splitFrozenPrefix(model, { inference: true });
  if (!split) throw new Error('benchPredictLoop: the lesson model has no frozen prefix.');
  const engine = await createOnnxSession(split.prefix);
  const images = (seed: number) => tf.randomUniform([BATCH, 64, 64, 3], 0, 1, 'float32', seed);
  let seed = 1;
  try {
    // Warm-up: onnxruntime allocates its buffers on the first run; the first predict opens the kept session.
    const warm = images(seed++);
    (await engine.run(warm, { batchSize: BATCH })).dispose();
    const opened = onnxSessionStats.opened;
    const started = performance.now();
    (await predict(model, warm, { verbose: 0 })).dispose();
    const firstCallSeconds = (performance.now() - started) / 1000;
    warm.dispose();

    let engineSeconds = 0;
    let predictSeconds = 0;
    for (let call = 0; call < calls; call++) {
      const forEngine = images(seed++);
      const forPredict = images(seed++);
      const timeEngine = async () => {
        const t = performance.now();
        (await engine.run(forEngine, { batchSize: BATCH })).dispose();
        engineSeconds += (performance.now() - t) / 1000;
      };
      const timePredict = async () => {
        const t = performance.now();
        (await predict(model, forPredict, { verbose: 0 })).dispose();
        predictSeconds += (performance.now() - t) / 1000;
      };
      try {
        // Each goes first every other call: neither always runs on caches the other warmed.
        if (call % 2 === 0) {
          await timeEngine();
          await timePredict();
        } else {
          await timePredict();
          await timeEngine();
        }
      } finally {
        forEngine.dispose();
        forPredict.dispose();
      }
    }
    const engineImagesPerSecond = (calls * BATCH) / engineSeconds;
    const predictImagesPerSecond = (calls * BATCH) / predictSeconds;
    const figure: PredictLoopFigure = {
      engineImagesPerSecond,
      predictImagesPerSecond,
      ratio: predictImagesPerSecond / engineImagesPerSecond,
      sessionsOpened: onnxSessionStats.opened - opened,
      firstCallSeconds,
    };
    log(
      `predict in a loop (${calls} calls of ${BATCH} new images, lesson model, ${engine.providerLabel}): ` +
        `${predictImagesPerSecond.toFixed(1)} images/s against the engine's ${engineImagesPerSecond.toFixed(1)} ` +
        `(${(100 * figure.ratio).toFixed(0)}%); ${figure.sessionsOpened} session(s) opened, first call ${firstCallSeconds.toFixed(2)} s`,
    );
    return figure;
  } finally {
    await engine.dispose();
    model.dispose();
  }
}
