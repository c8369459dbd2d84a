/**
 * What a layer translator receives, and how it says "I cannot translate this".
 */
import * as tf from '@tensorflow/tfjs';
import { GraphBuilder, OnnxValue } from '../graph-builder';
import { LayerCall } from '../layer-graph';

/** Thrown by a translator for a layer (or a configuration of it) it cannot express in ONNX. */
export class Untranslatable extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'Untranslatable';
  }
}

export interface Weight {
  shape: number[];
  /** A copy: translators may change it. */
  values: Float32Array;
}

/**
 * What a {@link Translator} gets for one layer call: the ONNX graph being built, the layer, its
 * config and weights, and the ONNX values of its inputs.
 */
export interface TranslationContext {
  /** The ONNX graph being built: add nodes and initialisers here. */
  graph: GraphBuilder;
  /** The tfjs layer being translated. */
  layer: tf.layers.Layer;
  /** This call of the layer (a layer used twice is translated per call). */
  call: LayerCall;
  /** `layer.getConfig()`. */
  config: Record<string, any>;
  /** The ONNX values of the call's inputs, in order. */
  inputs: OnnxValue[];
  /** A weight by its short name ('kernel', 'bias', 'gamma', 'moving_mean', ...); throws if absent. */
  weight(name: string): Weight;
  /** Whether the layer has a weight with this short name. */
  hasWeight(name: string): boolean;
}

/** Translates one layer call; returns one value per layer output. */
export type Translator = (ctx: TranslationContext) => OnnxValue[];

export function createContext(graph: GraphBuilder, call: LayerCall, inputs: OnnxValue[]): TranslationContext {
  const layer = call.layer;
  const byName = new Map<string, tf.LayerVariable>();
  for (const w of layer.weights) byName.set(shortName(w), w);
  return {
    graph,
    layer,
    call,
    config: layer.getConfig() as Record<string, any>,
    inputs,
    hasWeight: (name) => byName.has(name),
    weight(name) {
      const variable = byName.get(name);
      if (!variable) {
        throw new Untranslatable(`it has no weight named '${name}' (it has ${[...byName.keys()].join(', ') || 'none'})`);
      }
      const tensor = variable.read();
      if (tensor.dtype !== 'float32') throw new Untranslatable(`its weight '${name}' is ${tensor.dtype}, not float32`);
      // dataSync() may return the backend's own storage (cpu): copy before anyone changes it. The
      // wasm backend's is already a copy (a slice of its heap), and a second one of DenseNet121's
      // 28 MB would only add to the kernel's peak memory.
      const values = tensor.dataSync() as Float32Array;
      return { shape: [...tensor.shape], values: tf.getBackend() === 'wasm' ? values : Float32Array.from(values) };
    },
  };
}

/** 'conv1/conv/kernel' -> 'kernel'. */
function shortName(variable: tf.LayerVariable): string {
  const original = (variable as unknown as { originalName?: string }).originalName ?? variable.name;
  const last = original.split('/').pop() ?? original;
  return last.replace(/(_\d+)?(:\d+)?$/, '');
}

/** The one input of a single-input layer. */
export function onlyInput(ctx: TranslationContext): OnnxValue {
  if (ctx.inputs.length !== 1) throw new Untranslatable(`it has ${ctx.inputs.length} inputs, expected 1`);
  return ctx.inputs[0];
}

/** The tfjs shape of the layer's only output. */
export function outputShape(ctx: TranslationContext, index = 0): (number | null)[] {
  return ctx.call.outputShapes[index];
}

/** Fails unless the layer works on channels-last images (the only format tfjs runs on the CPU). */
export function requireChannelsLast(ctx: TranslationContext): void {
  const format = ctx.config.dataFormat;
  if (format !== undefined && format !== 'channelsLast') {
    throw new Untranslatable(`dataFormat '${format}' is not supported (only 'channelsLast')`);
  }
}
