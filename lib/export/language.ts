/**
 * Telling a TypeScript cell from a cell in another language (most often Python
 * pasted from the Keras lesson), so that export refuses it with a clear message
 * instead of writing a script that cannot run.
 *
 * Valid TypeScript must never be rejected, so the evidence is layered:
 * 1. what the notebook says: kernelspec / language_info, the cell's metadata
 *    (`language`, `vscode.languageId`), or a `%%python`-style cell magic;
 * 2. a cell that TypeScript cannot parse is Python when some line has a shape
 *    only Python has (`def f(x):`, `import numpy as np`, `for i in range(3):`,
 *    `# comment`, `"""docstring"""`); otherwise it is reported as a syntax error;
 * 3. a cell that parses (Python like `print("hi")` can) is Python only when it
 *    calls a Python builtin that the notebook never declares or imports.
 */
import * as ts from 'typescript';

const SCRIPT_LANGUAGES = new Set(['typescript', 'javascript', 'ts', 'js', 'tsx', 'jsx', 'tslab', 'jslab']);

/** Lines that are Python and cannot be TypeScript (TypeScript rejected the cell already). */
const PYTHON_LINES: RegExp[] = [
  /^\s*(async\s+)?def\s+\w+\s*\(.*\)\s*(->.*)?:\s*(#.*)?$/, // def f(x):
  /^\s*class\s+\w+\s*(\(.*\))?\s*:\s*(#.*)?$/, // class Model(keras.Model):
  /^\s*import\s+[\w.]+(\s+as\s+\w+)?(\s*,\s*[\w.]+(\s+as\s+\w+)?)*\s*(#.*)?$/, // import numpy as np
  /^\s*from\s+\.*[\w.]*\s+import\s+/, // from tensorflow import keras
  /^\s*(if|elif|while|for|with|try|except|finally|else)\b.*:\s*(#.*)?$/, // for i in range(3):
  /^\s*#(\s|$)/, // # a comment
  /^\s*print\s*\(.*\)\s*$/, // print(x) (lines ending in ';' are skipped: see pythonLine)
  /^\s*(pass|raise\s+\w.*|del\s+\w.*)$/, // pass, raise ValueError(...)
  /"""|'''/, // docstrings
  /\blambda\s+\w*(\s*,\s*\w+)*\s*:/, // lambda x: x + 1
  /=\s*(True|False|None)\s*$/, // done = False
];

/** Python builtins that TypeScript (ES2022 + Node) does not have as globals. */
const PYTHON_BUILTINS = new Set([
  'print',
  'len',
  'range',
  'enumerate',
  'zip',
  'isinstance',
  'sorted',
  'input',
  'str',
  'int',
  'float',
  'list',
  'dict',
  'tuple',
]);

/** Why a notebook is not a TypeScript notebook, from its metadata; undefined when it may be. */
export function notebookLanguageProblem(metadata: { [key: string]: unknown }): string | undefined {
  const kernelspec = metadata.kernelspec as { language?: unknown; name?: unknown } | undefined;
  const languageInfo = metadata.language_info as { name?: unknown } | undefined;
  const declared: [string, unknown][] = [
    ['metadata.kernelspec.language', kernelspec?.language],
    ['metadata.language_info.name', languageInfo?.name],
  ];
  for (const [field, value] of declared) {
    if (typeof value === 'string' && !SCRIPT_LANGUAGES.has(value.toLowerCase())) {
      const kernel = typeof kernelspec?.name === 'string' ? ` (kernel "${kernelspec.name}")` : '';
      return `is a ${value} notebook${kernel}: ${field} is ${JSON.stringify(value)}, and tslab-dl exports TypeScript notebooks only`;
    }
  }
  return undefined;
}

/** The language a cell's metadata or cell magic gives it, when that is not TypeScript/JavaScript. */
export function declaredCellLanguage(metadata: { [key: string]: unknown } | undefined, text: string): string | undefined {
  const vscode = metadata?.vscode as { languageId?: unknown } | undefined;
  for (const value of [metadata?.language, vscode?.languageId]) {
    if (typeof value === 'string' && !SCRIPT_LANGUAGES.has(value.toLowerCase())) return value;
  }
  const magic = /^\s*%%\s*([\w-]+)/.exec(firstLine(text));
  if (magic) return `%%${magic[1]}`;
  return undefined;
}

/** The first non-blank line of `text`, trimmed. */
export function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim() ?? ''
  );
}

/**
 * For a cell TypeScript could not parse: the first line that only Python writes,
 * or undefined when nothing looks like Python (the cell just has a syntax error).
 */
export function pythonLine(text: string): string | undefined {
  for (const line of text.split('\n')) {
    // A semicolon ends statements in TypeScript, not in idiomatic Python.
    if (line.trimEnd().endsWith(';')) continue;
    if (PYTHON_LINES.some((pattern) => pattern.test(line))) return line.trim();
  }
  return undefined;
}

/**
 * For a cell that parses as TypeScript: a call to a Python builtin (`print(...)`,
 * `len(x)`) that no cell of the notebook declares, or undefined.
 * `declaredNames` holds every name any cell declares or imports.
 */
export function undeclaredPythonCall(sourceFile: ts.SourceFile, declaredNames: ReadonlySet<string>): string | undefined {
  let found: string | undefined;
  const visit = (node: ts.Node): void => {
    if (found) return;
    if (ts.isCallExpression(node) && ts.isIdentifier(node.expression)) {
      const name = node.expression.text;
      if (PYTHON_BUILTINS.has(name) && !declaredNames.has(name)) {
        found = name;
        return;
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
  return found;
}
