/**
 * Builds an ONNX graph while translating tfjs layers, and tracks the memory
 * layout of every value.
 *
 * tfjs keeps images channels-last (NHWC); ONNX's Conv and pooling operators
 * want channels-first (NCHW). A value carries its layout, and a Transpose is
 * inserted only where an operator needs the other one, so a chain of
 * convolutions transposes once at the input and once at the output.
 */
import { attr, Attribute, GraphDef, Initializer, NodeDef, ValueInfo } from './model-proto';

/** 'channelsFirst': a rank-4 NHWC tfjs tensor stored as NCHW; 'asIs': same layout as in tfjs. */
export type Layout = 'channelsFirst' | 'asIs';

/** A tensor of the graph under construction. */
export interface OnnxValue {
  name: string;
  /** The tfjs shape (channels-last, null for an unknown dimension), whatever the layout. */
  shape: (number | null)[];
  layout: Layout;
}

const TO_CHANNELS_FIRST = [0, 3, 1, 2];
const TO_CHANNELS_LAST = [0, 2, 3, 1];

/**
 * The ONNX axis holding tfjs axis `axis` (negative counts from the end) of a value.
 * For a channels-first rank-4 value: N->0, H->2, W->3, C->1.
 */
export function onnxAxis(value: OnnxValue, axis: number): number {
  const rank = value.shape.length;
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new RangeError(`axis ${axis} is out of range for a rank-${rank} tensor`);
  return value.layout === 'channelsFirst' ? TO_CHANNELS_LAST[a] : a;
}

export class GraphBuilder {
  readonly nodes: NodeDef[] = [];
  readonly initializers: Initializer[] = [];
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  private readonly used = new Set<string>();
  private readonly transposed = new Map<string, OnnxValue>();

  /** A name not used yet in this graph, derived from `base`. */
  uniqueName(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  /** Declares a float32 graph input with the tfjs shape; null dimensions become free ('N' for the batch). */
  addInput(baseName: string, shape: (number | null)[]): OnnxValue {
    const name = this.uniqueName(baseName);
    this.inputs.push({ name, dims: freeDims(name, shape) });
    return { name, shape, layout: 'asIs' };
  }

  /** Declares `value` (converted to the tfjs layout) as a graph output; returns its name. */
  addOutput(value: OnnxValue): string {
    let v = this.toChannelsLast(value);
    // A graph output must be produced by a node: route a bare input through Identity.
    if (this.inputs.some((i) => i.name === v.name) || this.outputs.some((o) => o.name === v.name)) {
      v = { ...v, name: this.node('Identity', [v.name], {}, `${v.name}_out`) };
    }
    this.outputs.push({ name: v.name, dims: freeDims(v.name, v.shape) });
    return v.name;
  }

  /** Adds a float32 constant. */
  addWeight(baseName: string, dims: number[], data: Float32Array): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) {
      throw new RangeError(`weight ${baseName}: dims [${dims}] hold ${size} values, data has ${data.length}`);
    }
    const name = this.uniqueName(baseName);
    this.initializers.push({ name, dims, data });
    return name;
  }

  /** Adds an int64 constant (shapes, pads, axes). */
  addInt64s(baseName: string, values: readonly number[]): string {
    const name = this.uniqueName(baseName);
    this.initializers.push({ name, dims: [values.length], data: BigInt64Array.from(values, (v) => BigInt(v)) });
    return name;
  }

  /** Adds a node with one output and returns the output's name. */
  node(opType: string, inputs: string[], attributes: Record<string, Attribute> = {}, outputBase?: string): string {
    const output = this.uniqueName(outputBase ?? `${opType}_out`);
    this.nodes.push({ opType, name: this.uniqueName(`${output}/${opType}`), inputs, outputs: [output], attributes });
    return output;
  }

  /** The value in NCHW layout (a rank-4 value only), transposing at most once per value. */
  toChannelsFirst(value: OnnxValue): OnnxValue {
    if (value.layout === 'channelsFirst') return value;
    if (value.shape.length !== 4)
      throw new RangeError(`only rank-4 values have a channels-first layout; ${value.name} has rank ${value.shape.length}`);
    return this.transpose(value, TO_CHANNELS_FIRST, 'channelsFirst');
  }

  /** The value in the tfjs layout. */
  toChannelsLast(value: OnnxValue): OnnxValue {
    if (value.layout === 'asIs') return value;
    return this.transpose(value, TO_CHANNELS_LAST, 'asIs');
  }

  /** A snapshot to roll back to when a layer turns out not to be translatable half-way. */
  mark(): { nodes: number; initializers: number; used: Set<string>; transposed: Map<string, OnnxValue> } {
    return {
      nodes: this.nodes.length,
      initializers: this.initializers.length,
      used: new Set(this.used),
      transposed: new Map(this.transposed),
    };
  }

  rollback(mark: ReturnType<GraphBuilder['mark']>): void {
    this.nodes.length = mark.nodes;
    this.initializers.length = mark.initializers;
    this.used.clear();
    for (const n of mark.used) this.used.add(n);
    this.transposed.clear();
    for (const [k, v] of mark.transposed) this.transposed.set(k, v);
  }

  build(name: string): GraphDef {
    return { name, nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs };
  }

  private transpose(value: OnnxValue, perm: number[], layout: Layout): OnnxValue {
    const key = `${value.name}->${layout}`;
    const cached = this.transposed.get(key);
    if (cached) return cached;
    const name = this.node('Transpose', [value.name], { perm: attr.ints(perm) }, `${value.name}_${layout}`);
    const out: OnnxValue = { name, shape: value.shape, layout };
    this.transposed.set(key, out);
    // Transposing back gives the original value: no second Transpose.
    this.transposed.set(`${name}->${value.layout}`, value);
    return out;
  }
}

/** ONNX dims from a tfjs shape: unknown dimensions get a symbolic name. */
function freeDims(valueName: string, shape: (number | null)[]): (number | string)[] {
  return shape.map((d, i) => (d === null ? (i === 0 ? 'N' : `${valueName}_dim${i}`) : d));
}
