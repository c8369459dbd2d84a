/**
 * Translates a flattened tfjs layer graph into one ONNX graph, layer by layer.
 *
 * A layer is translated when a translator exists for its class and all its
 * inputs were translated; the others (and everything that depends on them)
 * stay tfjs layer calls, run after the ONNX graph on its outputs.
 */
import { GraphBuilder, OnnxValue } from './graph-builder';
import { LayerCall, LayerGraph } from './layer-graph';
import { GraphDef } from './model-proto';
import { createContext, translatorFor, Untranslatable } from './translators';

export interface BoundValue {
  /** Key of the tensor in the layer graph. */
  key: string;
  /** Name of the ONNX graph input or output. */
  onnxName: string;
  /** tfjs shape. */
  shape: (number | null)[];
}

/** A layer that has no ONNX translation (it, and the layers after it, run on tfjs), and why. */
export interface UntranslatedLayer {
  /** The layer's name. */
  name: string;
  /** The layer's class, e.g. 'Lambda'. */
  className: string;
  /** Why it was not translated. */
  reason: string;
}

export interface Translation {
  /** The ONNX graph, or undefined when no layer could be translated. */
  graph?: GraphDef;
  graphInputs: BoundValue[];
  graphOutputs: BoundValue[];
  /** Layer calls left to tfjs, in execution order. */
  tfjsCalls: LayerCall[];
  translatedLayers: number;
  /** Layers without a translation of their own (not those that only follow one). */
  untranslated: UntranslatedLayer[];
  /** One line saying what runs where. */
  note: string;
}

export function translateLayerGraph(layerGraph: LayerGraph, name = 'tslab-dl'): Translation {
  const g = new GraphBuilder();
  const values = new Map<string, OnnxValue>();
  const inputByKey = new Map<string, OnnxValue>();
  for (const input of layerGraph.inputs) {
    const v = g.addInput(input.layer.name, input.shape);
    values.set(input.key, v);
    inputByKey.set(input.key, v);
  }

  const tfjsCalls: LayerCall[] = [];
  const untranslated: UntranslatedLayer[] = [];
  let translatedLayers = 0;
  for (const call of layerGraph.calls) {
    const inputs = call.inputKeys.map((k) => values.get(k));
    const className = call.layer.getClassName();
    const translator = translatorFor(className);
    if (inputs.every((v): v is OnnxValue => v !== undefined) && translator) {
      const mark = g.mark();
      try {
        const outputs = translator(createContext(g, call, inputs));
        if (outputs.length !== call.outputKeys.length) {
          throw new Untranslatable(`its translation gave ${outputs.length} outputs for ${call.outputKeys.length}`);
        }
        outputs.forEach((v, i) => values.set(call.outputKeys[i], v));
        translatedLayers++;
        continue;
      } catch (e) {
        // Any failure (a configuration no translator expects included) leaves the layer to tfjs,
        // which is slower but right; the note names the layer and the reason.
        g.rollback(mark);
        const reason = e instanceof Untranslatable ? e.reason : `its translation failed: ${(e as Error).message}`;
        untranslated.push({ name: call.layer.name, className, reason });
      }
    } else if (!translator) {
      untranslated.push({ name: call.layer.name, className, reason: 'no ONNX translation for this layer class' });
    }
    tfjsCalls.push(call);
  }

  // ONNX outputs: what the tfjs calls need from the graph, and the final output.
  const needed = new Set<string>();
  for (const call of tfjsCalls) for (const k of call.inputKeys) if (values.has(k)) needed.add(k);
  for (const k of layerGraph.outputKeys) if (values.has(k)) needed.add(k);
  const note = describe(translatedLayers, layerGraph.calls.length, untranslated, tfjsCalls);
  if (translatedLayers === 0) {
    return { graphInputs: [], graphOutputs: [], tfjsCalls, translatedLayers, untranslated, note };
  }
  const graphOutputs: BoundValue[] = [];
  for (const key of needed) {
    if (inputByKey.has(key)) continue; // tfjs takes a model input straight from the caller.
    const v = values.get(key)!;
    graphOutputs.push({ key, onnxName: g.addOutput(v), shape: v.shape });
  }
  // Keep only the inputs some node reads.
  const read = new Set(g.nodes.flatMap((n) => n.inputs));
  const graphInputs: BoundValue[] = [];
  for (const [key, v] of inputByKey) {
    if (read.has(v.name)) graphInputs.push({ key, onnxName: v.name, shape: v.shape });
  }
  g.inputs.splice(0, g.inputs.length, ...g.inputs.filter((i) => read.has(i.name)));
  return { graph: g.build(name), graphInputs, graphOutputs, tfjsCalls, translatedLayers, untranslated, note };
}

function describe(translated: number, total: number, untranslated: UntranslatedLayer[], tfjsCalls: LayerCall[]): string {
  if (total === 0) return 'The model has no layers to run.';
  if (tfjsCalls.length === 0) return `ONNX runs all ${total} layers.`;
  const first = untranslated[0];
  const why = first ? ` from layer '${first.name}' (${first.className}: ${first.reason})` : '';
  return `ONNX runs ${translated} of ${total} layers; ${tfjsCalls.length} run on tfjs${why}.`;
}
