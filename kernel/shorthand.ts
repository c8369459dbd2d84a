/**
 * Shorthand properties that name an earlier cell's declaration.
 *
 * tslab compiles each cell as a module and rewrites references to earlier cells' declarations into
 * `exports.name`, but it leaves the name of a shorthand property alone, so `tf.model({ inputs,
 * outputs })` after `const inputs = ...` in an earlier cell fails with "inputs is not defined".
 * Spelling each shorthand out (`{ inputs: inputs }`) before compiling means the same and gives the
 * rewriter an ordinary reference. Only the compiled text changes; positions map back.
 */
import type { Edit } from './cell-modules';
import { ts, TS } from './typescript';

/** Insertions that turn every shorthand property `{ a }` of `code` into `{ a: a }`. */
export function shorthandPropertyEdits(code: string): Edit[] {
  const source = ts.createSourceFile('cell.ts', code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const edits: Edit[] = [];
  const visit = (node: TS.Node): void => {
    if (ts.isShorthandPropertyAssignment(node)) {
      // Insert the key before the name: the name the user typed stays the reference, so a
      // diagnostic about it (e.g. "Cannot find name") points at it exactly.
      const start = node.name.getStart(source);
      edits.push({ start, end: start, replacement: `${node.name.text}: ` });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return edits;
}
