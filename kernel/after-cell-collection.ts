/**
 * A full garbage collection after a cell, when it is worth its 50 to 100 ms:
 * - the cell made large tensors the notebook may already have dropped
 *   (`x = x.div(255)`): the collection gives their memory back to the backend
 *   (lib/compat/unreachable-tensors.ts);
 * - or the JavaScript heap grew by HEAP_GROWTH_BYTES since the last one: type-checking
 *   a cell leaves some megabytes of garbage, and V8, seeing no pressure, would let the
 *   heap (and the kernel's resident memory) grow before collecting it.
 * It runs after the reply, so the learner does not wait for it; a queued cell starts
 * after it.
 */
import { collectUnreachableTensors, unreachableTensorsLikely } from '../lib/compat/unreachable-tensors';

/** Growth of the used heap since the last collection that makes one worthwhile. */
export const HEAP_GROWTH_BYTES = 24 << 20;

let usedAfterLast = process.memoryUsage().heapUsed;

/** Whether a collection after this cell is worthwhile (see above). */
export function collectionWorthwhile(heapUsed = process.memoryUsage().heapUsed): boolean {
  return unreachableTensorsLikely() || heapUsed - usedAfterLast >= HEAP_GROWTH_BYTES;
}

/** Collects when {@link collectionWorthwhile}; resolves to whether it did. */
export async function collectAfterCell(): Promise<boolean> {
  if (!collectionWorthwhile()) return false;
  await collectUnreachableTensors();
  usedAfterLast = process.memoryUsage().heapUsed;
  return true;
}
