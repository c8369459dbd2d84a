/**
 * A tfjs LayersModel as a flat list of layer calls in execution order, from
 * its inputs to chosen output tensors: what runs a model one layer at a time
 * (lib/graph/layerwise.ts) and what the ONNX translation (lib/onnx/) works on.
 *
 * Nested models (a model used as a layer of another) are inlined, so their
 * layers can be translated one by one like any other. Tensors are named by
 * keys unique across the inlined scopes.
 */
import * as tf from '@tensorflow/tfjs';
import { ValueError } from '../core/errors';
import { isInputLayer, LayerNode, producingNode } from './nodes';

type Layer = tf.layers.Layer;
type SymbolicTensor = tf.SymbolicTensor;

/** A model input the flattened graph starts from. */
export interface GraphInput {
  key: string;
  layer: Layer;
  shape: (number | null)[];
  dtype: string;
}

/** One application of a layer to tensors. */
export interface LayerCall {
  layer: Layer;
  inputKeys: string[];
  outputKeys: string[];
  /** tfjs shapes of the inputs and outputs (channels-last). */
  inputShapes: (number | null)[][];
  outputShapes: (number | null)[][];
  /** Keyword arguments recorded when the layer was applied symbolically. */
  callArgs: Record<string, unknown>;
}

export interface LayerGraph {
  inputs: GraphInput[];
  calls: LayerCall[];
  /** The tensors computed, in the order asked for. */
  outputKeys: string[];
  outputShapes: (number | null)[][];
}

interface Container extends Layer {
  inputs: SymbolicTensor[];
  outputs: SymbolicTensor[];
  layers: Layer[];
}

function isContainer(layer: Layer): layer is Container {
  const c = layer as Partial<Container>;
  return Array.isArray(c.layers) && Array.isArray(c.inputs) && Array.isArray(c.outputs);
}

/** Where a computation ends: a SymbolicTensor of the model (possibly inside a nested model) or the name of a layer with one output. */
export type OutputSpec = SymbolicTensor | string;

/**
 * Flattens the part of `model` that computes `outputs` (defaults to the model's outputs).
 */
export function flattenLayerGraph(model: tf.LayersModel, outputs?: OutputSpec | OutputSpec[]): LayerGraph {
  const walker = new Walker();
  const modelOutputs = model.outputs.map((t) => walker.visit(t, ''));
  if (outputs === undefined) return walker.restrictTo(modelOutputs);
  const specs = Array.isArray(outputs) ? outputs : [outputs];
  if (specs.length === 0)
    throw new ValueError('options.output: an empty list of outputs was given; pass at least one tensor or layer name.');
  const keys = specs.map((spec) =>
    typeof spec === 'string' ? walker.keyOfLayerOutput(model, spec) : (walker.keyOfTensor(spec) ?? walker.visit(spec, '')),
  );
  return walker.restrictTo(keys);
}

class Walker {
  private readonly calls: LayerCall[] = [];
  private readonly inputs: GraphInput[] = [];
  private readonly visitedNodes = new Map<string, LayerCall | 'inlined'>();
  /** Inner keys that stand for outer tensors (a nested model's inputs and outputs). */
  private readonly aliases = new Map<string, string>();
  private readonly shapes = new Map<string, (number | null)[]>();
  /** Tensor id -> keys it got in each scope (for finding a tensor the caller passes). */
  private readonly keysById = new Map<number, string[]>();
  private scopes = 0;

  /** Visits the producers of `t` in `scope` and returns its key. */
  visit(t: SymbolicTensor, scope: string): string {
    const raw = `${scope}#${t.id}`;
    const key = this.resolve(raw);
    if (key !== raw || this.shapes.has(key)) return key;
    const layer = t.sourceLayer;
    const node = producingNode(t)!;
    const nodeKey = `${scope}#node${layer.name}/${t.nodeIndex}`;
    if (!this.visitedNodes.has(nodeKey)) {
      if (isInputLayer(layer)) {
        this.record(raw, t);
        this.inputs.push({ key: raw, layer, shape: [...t.shape], dtype: t.dtype });
        this.visitedNodes.set(nodeKey, 'inlined');
        return raw;
      }
      const inputKeys = node.inputTensors.map((x) => this.visit(x, scope));
      if (isContainer(layer)) {
        this.inline(layer, node, inputKeys, scope);
        this.visitedNodes.set(nodeKey, 'inlined');
      } else {
        const outputKeys = node.outputTensors.map((x) => {
          const k = `${scope}#${x.id}`;
          this.record(k, x);
          return k;
        });
        const call: LayerCall = {
          layer,
          inputKeys,
          outputKeys,
          inputShapes: inputKeys.map((k) => this.shapes.get(k)!),
          outputShapes: node.outputTensors.map((x) => [...x.shape]),
          callArgs: node.callArgs ?? {},
        };
        this.calls.push(call);
        this.visitedNodes.set(nodeKey, call);
      }
    }
    return this.resolve(raw);
  }

  /** The key a tensor got while walking, if it was reached. */
  keyOfTensor(t: SymbolicTensor): string | undefined {
    const keys = [...new Set((this.keysById.get(t.id) ?? []).map((k) => this.resolve(k)))];
    if (keys.length > 1) {
      throw new ValueError(
        `The tensor "${t.name}" is computed ${keys.length} times in the model (a shared layer or model); pass the output of the application you mean.`,
      );
    }
    return keys[0];
  }

  keyOfLayerOutput(model: tf.LayersModel, name: string): string {
    const matches = this.calls.filter((c) => c.layer.name === name);
    if (matches.length === 0) {
      const names = this.calls.map((c) => c.layer.name);
      throw new ValueError(
        `options.output: the model "${model.name}" has no layer named "${name}" on the path to its outputs. ` +
          `Its last layers are: ${names.slice(-5).join(', ')}.`,
      );
    }
    if (matches.length > 1) {
      throw new ValueError(
        `options.output: the layer "${name}" is applied ${matches.length} times in the model; pass the SymbolicTensor you mean instead.`,
      );
    }
    if (matches[0].outputKeys.length !== 1) {
      throw new ValueError(
        `options.output: the layer "${name}" has ${matches[0].outputKeys.length} outputs; pass the SymbolicTensor you mean instead.`,
      );
    }
    return matches[0].outputKeys[0];
  }

  /** The calls (and inputs) needed to compute `targets`, in execution order. */
  restrictTo(targets: string[]): LayerGraph {
    const needed = new Set<string>(targets);
    const calls: LayerCall[] = [];
    for (let i = this.calls.length - 1; i >= 0; i--) {
      const call = this.calls[i];
      if (call.outputKeys.some((k) => needed.has(k))) {
        calls.push(call);
        for (const k of call.inputKeys) needed.add(k);
      }
    }
    calls.reverse();
    return {
      inputs: this.inputs.filter((i) => needed.has(i.key)),
      calls,
      outputKeys: targets,
      outputShapes: targets.map((k) => this.shapes.get(k)!),
    };
  }

  private inline(container: Container, node: LayerNode, outerInputKeys: string[], scope: string): void {
    const inner = `${scope}/${container.name}@${++this.scopes}`;
    container.inputs.forEach((t, i) => this.aliases.set(`${inner}#${t.id}`, outerInputKeys[i]));
    const innerOutputs = container.outputs.map((t) => this.visit(t, inner));
    node.outputTensors.forEach((t, i) => {
      const k = `${scope}#${t.id}`;
      this.aliases.set(k, innerOutputs[i]);
      this.keysById.set(t.id, [...(this.keysById.get(t.id) ?? []), k]);
    });
  }

  private record(key: string, t: SymbolicTensor): void {
    this.shapes.set(key, [...t.shape]);
    this.keysById.set(t.id, [...(this.keysById.get(t.id) ?? []), key]);
  }

  private resolve(key: string): string {
    let k = key;
    for (let next = this.aliases.get(k); next !== undefined; next = this.aliases.get(k)) k = next;
    return k;
  }
}
