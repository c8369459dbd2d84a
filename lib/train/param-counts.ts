/**
 * Parameter counts as Keras prints them: digits grouped (7,093,360) and, in the totals, the size
 * of the float32 weights in binary units (27.06 MB). No tfjs here: the kernel uses it too.
 */

/** The number of values in some weights (tfjs LayerVariables or anything with a shape). */
export function countParams(weights: readonly { shape: readonly (number | null)[] }[]): number {
  return weights.reduce((sum, w) => sum + w.shape.reduce((product: number, d) => product * (d as number), 1), 0);
}

/** Groups digits like Keras: 7,093,360. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** Keras 3's size of a parameter count, float32 (4 bytes) each, in binary units: 7,093,360 -> '27.06 MB'. */
export function parameterMemory(count: number): string {
  let size = count * 4;
  for (const unit of ['B', 'KB', 'MB', 'GB']) {
    if (size < 1024 || unit === 'GB') return `${size.toFixed(2)} ${unit}`;
    size /= 1024;
  }
  throw new Error('unreachable');
}

/** One totals line as Keras 3 prints it: 'Total params: 7,093,360 (27.06 MB)'. */
export function totalsLine(label: 'Total' | 'Trainable' | 'Non-trainable', count: number): string {
  return `${label} params: ${formatCount(count)} (${parameterMemory(count)})`;
}

const TFJS_TOTALS = /^(Total|Trainable|Non-trainable) params: (\d+)$/;

/** A line of tfjs' printed summary, with a totals line ('Total params: 7093360') in Keras' format. */
export function kerasTotalsLine(line: string): string {
  const m = TFJS_TOTALS.exec(line);
  return m ? totalsLine(m[1] as 'Total' | 'Trainable' | 'Non-trainable', Number(m[2])) : line;
}
