/**
 * How a patch marks what it changed, so that applying it twice changes nothing: a `Symbol.for` key
 * (shared by every copy of tslab-dl loaded in the process) set on the patched object. No tfjs
 * import here: the kernel uses it on the tfjs copy of the library a notebook loads.
 */

/** Whether `marker` was not yet set on `target`, setting it: true the first time only. */
export function markOnce(target: object, marker: symbol): boolean {
  const record = target as Record<symbol, unknown>;
  if (record[marker]) return false;
  record[marker] = true;
  return true;
}
