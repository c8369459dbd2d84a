/**
 * Whether a cell ends in an assignment (`x = f()`, `total += 1`), whose value the kernel does not
 * show as Out[n].
 *
 * In TypeScript an assignment is an expression, so tslab shows its value; in Python, which the
 * lesson's learners come from, it is a statement and IPython shows nothing. A cell such as
 * `out = keras.layers.Dense(10).apply(out)` would otherwise print a whole symbolic tensor.
 * To see a value, end the cell with the variable itself (`out`), as in IPython.
 */
import { ts, TS } from './typescript';

function isAssignment(expression: TS.Expression): boolean {
  let e: TS.Expression = expression;
  while (ts.isParenthesizedExpression(e)) e = e.expression;
  if (!ts.isBinaryExpression(e)) return false;
  const kind = e.operatorToken.kind;
  return kind >= ts.SyntaxKind.FirstAssignment && kind <= ts.SyntaxKind.LastAssignment;
}

/** True when the last statement of `code` is an expression statement that assigns. */
export function endsInAssignment(code: string): boolean {
  const file = ts.createSourceFile('cell.ts', code, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const last = file.statements[file.statements.length - 1];
  return last !== undefined && ts.isExpressionStatement(last) && isAssignment(last.expression);
}
