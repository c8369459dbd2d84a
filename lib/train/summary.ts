/**
 * `summary(model)`: Keras' `model.summary()` as data: one row per layer and the parameter totals
 * (total, trainable, non-trainable), shown as an HTML table in a notebook and as text elsewhere.
 * `model.summary()` itself shows it too (lib/compat/summary-totals.ts).
 *
 * The text follows Keras' layout (keras/src/utils/summary_utils.py): "Layer (type)", "Output
 * Shape" as (None, 160, 160, 3), "Param #" with grouped digits and, for a functional model,
 * "Connected to" (layer[node][tensor]); columns as wide as their longest entry, so no name is cut.
 *
 * Counts follow Keras and tfjs' own `model.summary()`: trainable = the weights `fit` updates;
 * non-trainable = the rest (frozen layers' weights and BatchNormalization's moving statistics).
 */
import * as tf from '@tensorflow/tfjs';
import { display, escapeXml, JUPYTER_DISPLAY, markShown, MimeBundle } from '../notebook/display';
import { nodesInModel, originOf } from '../graph/nodes';
import { checkModel } from './arguments';
import { countParams, formatCount, totalsLine } from './param-counts';

export { formatCount, parameterMemory, totalsLine } from './param-counts';

/** One layer in a {@link ModelSummary}: a row of Keras' `model.summary()` table. */
export interface LayerRow {
  /** The layer's name, e.g. 'conv5_block1_0_bn'. */
  name: string;
  /** The layer's class, e.g. 'Dense'. */
  type: string;
  /** As Keras prints it, e.g. '(None, 1024)'; 'multiple' for a layer used with several shapes. */
  outputShape: string;
  /** Number of parameters (weights) of the layer. */
  params: number;
  /** Whether fit updates this layer's weights. */
  trainable: boolean;
  /** The tensors this layer is applied to in this model, Keras' 'layer[node][tensor]'; empty for an input. */
  connectedTo: string[];
}

/** A shape as Keras prints it: (None, 160, 160, 3); several as a list. */
function kerasShape(shape: unknown): string {
  if (Array.isArray(shape) && shape.some(Array.isArray)) return `[${shape.map(kerasShape).join(', ')}]`;
  const dims = (shape as (number | null)[]).map((d) => (d === null ? 'None' : String(d)));
  return `(${dims.join(', ')}${dims.length === 1 ? ',' : ''})`;
}

function shapeText(layer: tf.layers.Layer): string {
  try {
    return kerasShape(layer.outputShape);
  } catch {
    return 'multiple';
  }
}

/** What `layer` is applied to inside `model` (a layer shared with other models has nodes of theirs too). */
function connectedTo(model: tf.LayersModel, layer: tf.layers.Layer): string[] {
  return nodesInModel(model, layer).flatMap((node) =>
    node.inboundLayers.length > 0
      ? node.inputTensors.map((t) => {
          const { layer: source, nodeIndex, tensorIndex } = originOf(t);
          return `${source.name}[${nodeIndex}][${tensorIndex}]`;
        })
      : [],
  );
}

/**
 * What {@link summary} returns: Keras' `model.summary()` as data (one {@link LayerRow} per layer
 * and the parameter counts), shown as HTML in a notebook and as Keras' text table in a terminal.
 */
export class ModelSummary {
  constructor(
    /** The model's name. */
    readonly name: string,
    /** One row per layer, in the model's order. */
    readonly layers: LayerRow[],
    /** Parameters in total. */
    readonly totalParams: number,
    /** Parameters fit updates. */
    readonly trainableParams: number,
    /** Parameters fit leaves alone (frozen layers, BatchNormalization moving statistics). */
    readonly nonTrainableParams: number,
    /** A functional model (a graph, shown with "Connected to") rather than a Sequential stack. */
    readonly functional = true,
  ) {}

  /** The summary as Keras prints it: the table, then the parameter totals. */
  text(): string {
    const functional = this.functional;
    const header = ['Layer (type)', 'Output Shape', 'Param #', ...(functional ? ['Connected to'] : [])];
    const rows = this.layers.map((l) => [
      `${l.name} (${l.type})`,
      l.outputShape,
      formatCount(l.params),
      ...(functional ? [l.connectedTo.join(', ')] : []),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)) + 2);
    const line = (cells: string[]) =>
      cells
        .map((c, i) => (i === 2 ? `${c.padStart(widths[i] - 2)}  ` : c.padEnd(widths[i])))
        .join('')
        .trimEnd();
    const width = widths.reduce((a, b) => a + b, 0);
    return [
      `Model: "${this.name}"`,
      '_'.repeat(width),
      line(header),
      '='.repeat(width),
      ...rows.map(line),
      '='.repeat(width),
      totalsLine('Total', this.totalParams),
      totalsLine('Trainable', this.trainableParams),
      totalsLine('Non-trainable', this.nonTrainableParams),
      '_'.repeat(width),
    ].join('\n');
  }

  html(): string {
    const td = (c: string, right = false) => `<td style="padding:1px 8px;text-align:${right ? 'right' : 'left'}">${escapeXml(c)}</td>`;
    const functional = this.functional;
    const rows = this.layers
      .map(
        (l) =>
          `<tr${l.params && !l.trainable ? ' style="color:#777"' : ''}>${td(l.name)}${td(l.type)}${td(l.outputShape)}${td(formatCount(l.params), true)}` +
          `${functional ? td(l.connectedTo.join(', ')) : ''}</tr>`,
      )
      .join('');
    const totals = `<p style="font-family:monospace;margin:0.3em 0">${[
      totalsLine('Total', this.totalParams),
      totalsLine('Trainable', this.trainableParams),
      totalsLine('Non-trainable', this.nonTrainableParams),
    ]
      .map(escapeXml)
      .join('<br>')}</p>`;
    // A model the size of DenseNet121 has hundreds of layers: keep them folded, the totals visible.
    const table =
      `<table style="font-family:monospace;border-collapse:collapse"><thead><tr>` +
      `<th style="text-align:left">Layer</th><th style="text-align:left">Type</th><th style="text-align:left">Output shape</th><th style="text-align:right">Param #</th>` +
      (functional ? `<th style="text-align:left">Connected to</th>` : '') +
      `</tr></thead><tbody>${rows}</tbody></table>`;
    const frozen = this.layers.filter((l) => l.params && !l.trainable).length;
    const caption = `${this.layers.length} layers${frozen ? ` (${frozen} frozen, in grey)` : ''}: click to show them`;
    const layers = this.layers.length > 30 ? `<details><summary>${escapeXml(caption)}</summary>${table}</details>` : table;
    return `<div><p style="font-family:monospace;margin:0.3em 0">Model: "${escapeXml(this.name)}"</p>${layers}${totals}</div>`;
  }

  [JUPYTER_DISPLAY](): MimeBundle {
    return { 'text/plain': this.text(), 'text/html': this.html() };
  }
}

/** Options of {@link summary}. */
export interface SummaryOptions {
  /** Show the summary (HTML in a notebook, text in a terminal). Defaults to true. */
  show?: boolean;
}

/** Keras' `model.summary()`: shows and returns the layers and parameter counts of `model`. */
export function summary(model: tf.LayersModel, { show = true }: SummaryOptions = {}): ModelSummary {
  checkModel(model, 'summary(model)', false);
  const layers = model.layers.map((layer) => ({
    name: layer.name,
    type: layer.getClassName(),
    outputShape: shapeText(layer),
    params: layer.countParams(),
    trainable: layer.trainable && layer.trainableWeights.length > 0,
    connectedTo: connectedTo(model, layer),
  }));
  const trainable = countParams(model.trainableWeights);
  const nonTrainable = countParams(model.nonTrainableWeights);
  const result = new ModelSummary(model.name, layers, trainable + nonTrainable, trainable, nonTrainable, !(model instanceof tf.Sequential));
  if (show) {
    display(result);
    // Already shown: a kernel showing the cell's value (Out[n]) skips it.
    markShown(result);
  }
  return result;
}
