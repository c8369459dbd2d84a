// Notebook -> script -> notebook, through the library functions (the command line is in export-cli.test.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { exportNotebook, importScript, Notebook, NotebookCell, parseNotebook, serializeNotebook } from '../lib/export';
import { DataFileError } from '../lib/core/errors';
import { parseTypeScript, syntaxErrors } from '../lib/export/cell-code';

const ROOT = path.resolve(__dirname, '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'export');
/** Scripts "live" at the project root, so that 'tslab-dl' resolves when the checker looks at cell values. */
const SCRIPT_PATH = path.join(ROOT, 'exported.ts');

const TS_METADATA = {
  kernelspec: { name: 'tslab-dl', display_name: 'TypeScript (tslab-dl)', language: 'typescript' },
  language_info: { name: 'typescript', file_extension: '.ts' },
};

function code(source: string, metadata: NotebookCell['metadata'] = {}): NotebookCell {
  return { cell_type: 'code', source, metadata, outputs: [], execution_count: null };
}

function markdown(source: string): NotebookCell {
  return { cell_type: 'markdown', source, metadata: {} };
}

function notebook(cells: NotebookCell[], metadata: Notebook['metadata'] = TS_METADATA): Notebook {
  return { nbformat: 4, nbformat_minor: 5, metadata, cells };
}

function exportCells(cells: NotebookCell[], checkTypes = false): string {
  return exportNotebook(notebook(cells), { scriptPath: SCRIPT_PATH, checkTypes });
}

/** The lines of main()'s body: the cells as the script holds them. */
function mainBody(script: string): string {
  const start = script.indexOf('async function main(): Promise<void> {\n');
  const end = script.indexOf('\n}\n', start);
  return script.slice(start + 'async function main(): Promise<void> {\n'.length, end);
}

/** main()'s body from its first cell on (without the start-up lines before it). */
function cellsPart(script: string): string {
  const body = mainBody(script);
  return body.slice(body.search(/^\/\/ %%/m));
}

/** `// %%` lines that fall inside a statement: a cell that runs on into the next one. */
function markersInsideStatements(script: string): number[] {
  const sourceFile = parseTypeScript(script, 'exported.ts');
  const main = sourceFile.statements.find((st) => ts.isFunctionDeclaration(st) && st.name?.text === 'main') as ts.FunctionDeclaration;
  const statements: ts.Statement[] = [];
  const collect = (list: readonly ts.Statement[]) => {
    for (const st of list) {
      // export's own blocks (for names declared again) hold cells: look inside them.
      if (ts.isBlock(st) && script.startsWith('{ // a new block:', st.getStart(sourceFile))) collect(st.statements);
      else statements.push(st);
    }
  };
  collect(main.body!.statements);
  const markers = [...script.matchAll(/^\/\/ %%.*$/gm)].map((m) => m.index!);
  return markers.filter((p) => statements.some((st) => st.getStart(sourceFile) < p && p < st.end));
}

function exportError(nb: Notebook | string): DataFileError {
  try {
    exportNotebook(nb, { source: 'lesson.ipynb', scriptPath: SCRIPT_PATH, checkTypes: false });
  } catch (e) {
    assert.ok(e instanceof DataFileError, `expected a DataFileError, got ${e}`);
    return e;
  }
  assert.fail('the export succeeded, but it should have been refused');
}

describe('exportNotebook: the script', () => {
  test('gathers every import at the top: named imports merged per module, default and namespace imports kept', () => {
    const script = exportCells([
      code("import { tf, loadDollarStreet } from 'tslab-dl';\nimport * as fs from 'node:fs';\nconst a = 1;"),
      code(
        "import { tf, fit } from 'tslab-dl';\nimport assert from 'node:assert';\nimport type { History } from 'tslab-dl';\nconst b = 2;",
      ),
      code("import 'node:process';\nimport fs2 = require('node:fs');\nimport { loadDollarStreet as load } from 'tslab-dl';\nconst c = 3;"),
    ]);
    const imports = script.slice(script.indexOf('\n\nimport') + 2, script.indexOf('\n\nasync function main'));
    assert.equal(
      imports,
      [
        "import { tf, loadDollarStreet, fit, loadDollarStreet as load, ready } from 'tslab-dl';",
        "import * as fs from 'node:fs';",
        "import assert from 'node:assert';",
        "import type { History } from 'tslab-dl';",
        "import 'node:process';",
        "import fs2 = require('node:fs');",
      ].join('\n'),
    );
    // The kernel chooses the backend before the first cell; a script using tslab-dl does it too.
    assert.equal(
      mainBody(script),
      '// As the tslab-dl kernel does before the first cell: choose the TensorFlow.js backend.\nawait ready();\n\n' +
        '// %%\nconst a = 1;\n\n// %%\nconst b = 2;\n\n// %%\nconst c = 3;',
    );
  });

  test('imports ready() under another name when a cell has its own `ready`', () => {
    const script = exportCells([code("import { tf } from 'tslab-dl';\nconst ready = tf.scalar(1);")]);
    assert.match(script, /^import \{ tf, ready as tslabDlReady \} from 'tslab-dl';$/m);
    assert.match(
      mainBody(script),
      /^\/\/ As the tslab-dl kernel does before the first cell: choose the TensorFlow\.js backend\.\nawait tslabDlReady\(\);\n\n\/\/ %%\nconst ready = tf\.scalar\(1\);$/,
    );
    assert.equal(exportNotebook(importScript(script), { scriptPath: SCRIPT_PATH, checkTypes: false }), script);
  });

  test('keeps cells in order, markdown and raw cells as comments; leaves out skip-export and empty cells', () => {
    const script = exportCells(
      [
        markdown('# Title\n\nSome *text*.\n'),
        code('const x = 1;\n'),
        code('x = x +;  // a deliberate error', { tags: ['skip-export'] }),
        code("throw new Error('shown to learners');", { tags: ['raises-exception'] }),
        code('\n\n'),
        { cell_type: 'raw', source: ['raw text'], metadata: {} },
        code('console.log(x);'),
      ],
      true,
    );
    assert.equal(
      cellsPart(script),
      '// %% [markdown]\n// # Title\n//\n// Some *text*.\n\n// %%\nconst x = 1;\n\n// %% [raw]\n// raw text\n\n// %%\nconsole.log(x);',
    );
  });

  test("shows a cell's last value as the notebook does, but not void calls or assignments", () => {
    const script = exportNotebook(
      notebook([
        code('let n = 2;\nn * 21'),
        code("console.log('printed')"),
        code('n = 5'),
        code('[1, 2, 3].forEach((v) => v)'),
        code("'a string';"),
        code('n++, n'),
      ]),
      { scriptPath: SCRIPT_PATH },
    );
    assert.equal(
      cellsPart(script),
      [
        '// %%\nlet n = 2;\nshowCellValue(n * 21);',
        "// %%\nconsole.log('printed')",
        '// %%\nn = 5;', // `;` added: see the next test
        '// %%\n[1, 2, 3].forEach((v) => v)',
        "// %%\nshowCellValue('a string');",
        '// %%\nshowCellValue((n++, n));',
      ].join('\n\n'),
    );
    assert.match(script, /^import \{ display, ready \} from 'tslab-dl';$/m);
    assert.ok(
      script.includes(
        'function showCellValue(value: unknown): void {\n' +
          '  if (value === undefined || value === null) return;\n' +
          "  if ((Object(value) as { [key: symbol]: unknown })[Symbol.for('tslab-dl.shown')]) return;\n" +
          '  display(value);\n}',
      ),
    );
  });

  test('ends a cell with `;` only where the next cell would continue its last statement', () => {
    const body = cellsPart(
      exportCells([
        code('let n = 1\nn = 5 // five'),
        code('[n].forEach((v) => console.log(v))'),
        code('const f = () => n'),
        code('(f)()'),
        code('const s = `a`'),
        code('console.log(s)'),
      ]),
    );
    assert.equal(
      body,
      [
        '// %%\nlet n = 1\nn = 5; // five',
        '// %%\nshowCellValue([n].forEach((v) => console.log(v)));',
        '// %%\nconst f = () => n;',
        '// %%\nshowCellValue((f)());',
        '// %%\nconst s = `a`', // nothing can continue it before `console`
        '// %%\nshowCellValue(console.log(s));',
      ].join('\n\n'),
    );
  });

  test('without the checker, every last expression but assignments is shown (the helper skips undefined)', () => {
    const body = cellsPart(exportCells([code("console.log('x')"), code('let y = 1;\ny += 1')]));
    assert.equal(body, "// %%\nshowCellValue(console.log('x'));\n\n// %%\nlet y = 1;\ny += 1");
  });

  test('uses another name for display() when a cell has its own `display`', () => {
    const script = exportCells([code('const display = 3;\ndisplay + 1')]);
    assert.match(script, /^import \{ display as tslabDlDisplay, ready \} from 'tslab-dl';$/m);
    assert.match(script, /^ {2}tslabDlDisplay\(value\);$/m);
  });

  test('a cell that declares a name again opens a block, so later cells see the new value', () => {
    const body = cellsPart(
      exportCells(
        [
          code('const rate = 0.1;\nfunction show() { return rate; }'),
          code('const rate = 0.5;\nconst epochs = 3;'),
          code('console.log(rate, epochs, show());'),
        ],
        true,
      ),
    );
    assert.equal(
      body,
      '// %%\nconst rate = 0.1;\nfunction show() { return rate; }\n\n' +
        '// %%\n{ // a new block: this cell declares `rate` again, as a notebook may\nconst rate = 0.5;\nconst epochs = 3;\n\n' +
        '// %%\nconsole.log(rate, epochs, show());\n} // end of a block opened where a cell declares names again',
    );
  });

  test('moves ambient declarations to the top and drops `export` from declarations', () => {
    const script = exportCells([code('declare const injected: number;\nexport const doubled = injected * 2;')]);
    assert.match(script, /\n\ndeclare const injected: number;\n\nasync function main/);
    assert.equal(cellsPart(script), '// %%\nconst doubled = injected * 2;');
  });

  test('loads ES-module-only packages with import() at the start of main(), and import turns that back', () => {
    const cells = [
      code("import * as path from 'node:path';\nimport h5wasm from 'h5wasm/node';\nconst sep = path.sep;"),
      code("import { ready as h5ready, File } from 'h5wasm/node';\nimport * as h5 from 'h5wasm/node';\nawait h5ready;\nconst file = File;"),
    ];
    const script = exportCells(cells);
    assert.match(script, /\n\nimport \* as path from 'node:path';\n\nasync function main/, 'node:path stays a static import');
    assert.equal(
      mainBody(script).split('\n\n// %%')[0],
      '// ES-module-only packages: a CommonJS script like this one loads them with import().\n' +
        "const { default: h5wasm, ready: h5ready, File } = await import('h5wasm/node');\n" +
        "const h5 = await import('h5wasm/node');",
    );
    const nb = importScript(script);
    assert.equal(
      (nb.cells[0].source as string[]).join(''),
      "import * as path from 'node:path';\nimport h5wasm, { ready as h5ready, File } from 'h5wasm/node';\nimport * as h5 from 'h5wasm/node';\n\nconst sep = path.sep;",
    );
    assert.equal(exportNotebook(nb, { scriptPath: SCRIPT_PATH, checkTypes: false }), script);
  });

  test('rewrites relative module paths for a script in another folder, and back for a notebook', () => {
    const cell =
      "import { ValueError } from '../lib/errors';\nimport x = require(\"./data/x.json\");\nconst helper = await import('./helper');\nconst nodePath = require('node:path');";
    const script = exportNotebook(notebook([code(cell)]), {
      notebookPath: path.join(ROOT, 'notebooks', 'lesson.ipynb'),
      scriptPath: path.join(ROOT, 'out', 'scripts', 'lesson.ts'),
      checkTypes: false,
    });
    assert.match(
      script,
      /^import \{ ValueError \} from '\.\.\/\.\.\/lib\/errors';\nimport x = require\("\.\.\/\.\.\/notebooks\/data\/x\.json"\);$/m,
    );
    assert.equal(
      cellsPart(script),
      "// %%\nconst helper = await import('../../notebooks/helper');\nconst nodePath = require('node:path');",
    );
    const nb = importScript(script, {
      scriptPath: path.join(ROOT, 'out', 'scripts', 'lesson.ts'),
      notebookPath: path.join(ROOT, 'notebooks', 'again.ipynb'),
    });
    assert.equal((nb.cells[0].source as string[]).join(''), cell.replace('require("./data/x.json");\n', 'require("./data/x.json");\n\n'));
  });

  test('a notebook without imports becomes a module (`export {}`), so its names stay its own', () => {
    assert.match(exportCells([code('const a = 1;')]), /\n\nexport \{\};\n\nasync function main/);
  });
});

describe('importScript and the round trip', () => {
  const lesson = fs.readFileSync(path.join(FIXTURES, 'lesson.ipynb'), 'utf8');

  test('export -> import -> export gives the same script, byte for byte', () => {
    const first = exportNotebook(lesson, { scriptPath: SCRIPT_PATH });
    const second = exportNotebook(importScript(first), { scriptPath: SCRIPT_PATH });
    assert.equal(second, first);
    // And once more through the notebook's JSON text, as the command line does.
    const third = exportNotebook(serializeNotebook(importScript(second)), { scriptPath: SCRIPT_PATH });
    assert.equal(third, first);
  });

  test('cells of imports only leave no empty cell behind, so the round trip stays stable', () => {
    const nb = notebook([
      markdown('# Title'),
      code("import { tf } from 'tslab-dl';"),
      code('const a = tf.scalar(1);'),
      code("import * as path from 'node:path';\ndeclare const injected: string;"),
      code('const b = path.sep + injected;'),
    ]);
    const first = exportNotebook(nb, { scriptPath: SCRIPT_PATH, checkTypes: false });
    assert.equal((first.match(/^\/\/ %%$/gm) ?? []).length, 2, 'two code cells with code');
    const back = importScript(first);
    assert.deepEqual(
      back.cells.map((c) => (c.source as string[]).join('')),
      [
        '# Title',
        "import { tf, ready } from 'tslab-dl';\nimport * as path from 'node:path';\n\ndeclare const injected: string;\n\nconst a = tf.scalar(1);",
        'const b = path.sep + injected;',
      ],
    );
    assert.equal(exportNotebook(back, { scriptPath: SCRIPT_PATH, checkTypes: false }), first);
  });

  test('random notebooks from a pool of cells: the round trip is stable and the script parses', () => {
    const pool: NotebookCell[] = [
      markdown('## A heading\n\n- a list\n- with `code`\n\n    indented'),
      markdown('%%% three percent signs are not a marker'),
      { cell_type: 'raw', source: 'raw\n\ntext', metadata: {} },
      code("import { tf } from 'tslab-dl';"),
      code("import { tf, fit as train } from 'tslab-dl';\nconst t = tf.scalar(2)"),
      code("import * as path from 'node:path';\nimport assert from 'node:assert';\npath.sep"),
      code("import h5wasm from 'h5wasm/node';\nconst h5ready = h5wasm.ready"),
      code('let n = 1\nn = n + 1'),
      code('[n, 2].map((v) => v * 2)'),
      code('(n)'),
      code('`template ${n}`'),
      code('const n = 10; // declared again\nn'),
      code('function f(x: number) {\n  return x + 1;\n}\nf(n)'),
      code('interface Shape {\n  w: number;\n}\nconst s: Shape = { w: 1 };'),
      code('// only a comment'),
      code(''),
      code('x = x +;', { tags: ['skip-export'] }),
      code('const multi = `line 1\n  line 2`;\nmulti'),
      code('n // the value, with a comment after it'),
      code('+n'),
      code("/n/.test('n')"),
      code('declare const injected: number;'),
      code('export const exported = 1;'),
      code(
        "import fs = require('node:fs');\nimport type { Tensor } from '@tensorflow/tfjs';\nlet maybe: Tensor | undefined;\nfs.existsSync('.')",
      ),
      code('const tf = { version: 0 };\ntf'),
      code('const { a, b: [c] } = { a: 1, b: [2] };\na + c'),
      markdown('\n\n  leading spaces and blank lines around  \n\n'),
      code('\n\n  const indented = 1;\n\n'),
    ];
    let seed = 2;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let trial = 0; trial < 150; trial++) {
      const cells = Array.from({ length: 1 + Math.floor(random() * 8) }, () => pool[Math.floor(random() * pool.length)]);
      const nb = notebook(cells.map((cell) => structuredClone(cell)));
      const checkTypes = trial % 50 === 0; // the checker is slow: a few trials with it
      let first: string;
      try {
        first = exportNotebook(nb, { scriptPath: SCRIPT_PATH, checkTypes });
      } catch (e) {
        // Some draws cannot become a script (a cell imports `tf` after one declared it): refused, with a reason.
        if (e instanceof DataFileError && /imports `tf`, which cell \d+ declares/.test(e.message)) continue;
        throw new Error(`trial ${trial}: ${(e as Error).message}\n${JSON.stringify(cells.map((c) => c.source))}`);
      }
      const problems = syntaxErrors(parseTypeScript(first, 'exported.ts'));
      assert.deepEqual(
        problems.map((d) => d.messageText),
        [],
        `trial ${trial}: the script parses\n${first}`,
      );
      assert.deepEqual(markersInsideStatements(first), [], `trial ${trial}: every cell ends where the next begins\n${first}`);
      const second = exportNotebook(importScript(first), { scriptPath: SCRIPT_PATH, checkTypes });
      assert.equal(second, first, `trial ${trial}`);
    }
  });

  test('the notebooks in notebooks/ survive the round trip too', (t) => {
    const folder = path.join(ROOT, 'notebooks');
    const notebooks = fs.existsSync(folder) ? fs.readdirSync(folder).filter((f) => f.endsWith('.ipynb')) : [];
    if (notebooks.length === 0) return t.skip('no notebook in notebooks/ yet');
    for (const name of notebooks) {
      const first = exportNotebook(fs.readFileSync(path.join(folder, name), 'utf8'), { source: name, scriptPath: SCRIPT_PATH });
      assert.equal(exportNotebook(importScript(first), { scriptPath: SCRIPT_PATH }), first, name);
    }
  });

  test('import restores cells, their types and text, and the tslab-dl kernelspec', () => {
    const nb = importScript(exportNotebook(lesson, { scriptPath: SCRIPT_PATH }));
    assert.deepEqual(nb.metadata.kernelspec, { name: 'tslab-dl', display_name: 'TypeScript (tslab-dl)', language: 'typescript' });
    assert.equal((nb.metadata.language_info as { file_extension: string }).file_extension, '.ts');
    assert.equal((nb.metadata.language_info as { name: string }).name, 'typescript');
    assert.equal(nb.nbformat, 4);
    assert.deepEqual(
      nb.cells.map((c) => c.cell_type),
      ['markdown', 'code', 'markdown', 'code', 'code', 'raw', 'code', 'code', 'code'],
    );
    const text = (i: number) => (nb.cells[i].source as string[]).join('');
    assert.equal(
      text(0),
      '# A small lesson\n\nIt exercises every export rule: top-level `await`, declarations used by later cells,\n' +
        'imports in later cells, a cell left out, a name declared again, and cell values.',
    );
    // The gathered imports open the first code cell.
    assert.ok(
      text(1).startsWith(
        "import * as path from 'node:path';\nimport { ValueError, DataFileError, ValueError as LessonError, ready, display } from 'tslab-dl';\nimport assert from 'node:assert';\n\nconst sleep",
      ),
    );
    assert.equal(text(4), 'const sorted = [...numbers].sort();\nsorted.map((n) => n * 10);');
    assert.equal(text(5), 'Raw cells are kept as comments.');
    assert.ok(text(6).startsWith('const numbers = [10, 20, 30, 40];'), 'the new-block line is gone');
    assert.equal(text(8), "const doubled = await Promise.all(numbers.map(async (n) => n * 2));\n`doubled: ${doubled.join(' ')}`;");
    for (const cell of nb.cells) {
      assert.match(String(cell.id), /^[0-9a-f]{8}$/);
      if (cell.cell_type === 'code') assert.deepEqual([cell.outputs, cell.execution_count], [[], null]);
    }
  });

  test('a percent script written by hand (no main wrapper) imports cell by cell', () => {
    const nb = importScript(
      "// A header comment, dropped\n\n// %% [markdown]\n// # Notes\n//\n// two lines\n\n// %%\nimport { tf } from 'tslab-dl';\nconst t = tf.scalar(1);\n\n//%% Second cell\nt.print();\n",
    );
    assert.deepEqual(
      nb.cells.map((c) => [c.cell_type, (c.source as string[]).join('')]),
      [
        ['markdown', '# Notes\n\ntwo lines'],
        ['code', "import { tf } from 'tslab-dl';\nconst t = tf.scalar(1);"],
        ['code', 't.print();'],
      ],
    );
  });

  test('import refuses code after main() that belongs to no cell', () => {
    const script = exportCells([code('const a = 1;')]) + 'console.log("stray");\n';
    assert.throws(
      () => importScript(script, { source: 'lesson.ts' }),
      (e: Error) => {
        assert.ok(e instanceof DataFileError);
        assert.match(e.message, /^lesson\.ts: line \d+: code after main\(\) \(`console\.log\("stray"\);`\) belongs to no cell/);
        return true;
      },
    );
  });

  test('serializeNotebook writes JSON as Jupyter does: sorted keys, one-space indent, final newline', () => {
    const text = serializeNotebook(importScript('// %%\nconst a = 1;\n'));
    assert.ok(text.endsWith('}\n'));
    assert.match(
      text,
      /^\{\n "cells": \[\n {2}\{\n {3}"cell_type": "code",\n {3}"execution_count": null,\n {3}"id": "[0-9a-f]{8}",\n {3}"metadata": \{\},\n {3}"outputs": \[\],\n {3}"source": \[\n {4}"const a = 1;"\n {3}\]\n {2}\}\n \],\n "metadata": \{/,
    );
  });
});

describe('exportNotebook: cells in another language', () => {
  const python = 'import numpy as np\nimport tensorflow as tf\n\nx = np.zeros((2, 2))\nprint(x.shape)';

  test('refuses pasted Python, naming the cell and showing its first line', () => {
    const e = exportError(notebook([markdown('# Title'), code('const a = 1;'), code(python)]));
    assert.equal(
      e.message,
      'lesson.ipynb: cell 3 looks like Python, not TypeScript (first line: `import numpy as np`). tslab-dl exports ' +
        'TypeScript notebooks: rewrite the cell in TypeScript, or tag it `skip-export` to leave it out.',
    );
  });

  test('refuses Python that parses as TypeScript when it calls Python builtins', () => {
    const e = exportError(notebook([code('x = 5\nprint("hello")')]));
    assert.match(
      e.message,
      /^lesson\.ipynb: cell 1 looks like Python, not TypeScript \(first line: `x = 5`; `print\(\.\.\.\)` is Python\)/,
    );
  });

  test('refuses a def block, naming the Python line', () => {
    const e = exportError(notebook([code('const n = 3;'), code('// helper\ndef square(x):\n    return x * x')]));
    assert.match(e.message, /cell 2 looks like Python, not TypeScript \(first line: `\/\/ helper`; `def square\(x\):` is Python\)/);
  });

  test('refuses cells whose metadata or cell magic names another language', () => {
    const cases: [NotebookCell, RegExp][] = [
      [
        code('x = 1', { vscode: { languageId: 'python' } }),
        /cell 1 is python code, not TypeScript \(its metadata says python; first line: `x = 1`\)/,
      ],
      [code('x = 1', { language: 'python' }), /cell 1 is python code, not TypeScript \(its metadata says python/],
      [code('%%python\nprint(1)'), /cell 1 is python code, not TypeScript \(cell magic %%python; first line: `%%python`\)/],
      [code('%%bash\nls'), /cell 1 is bash code, not TypeScript \(cell magic %%bash/],
    ];
    for (const [cell, message] of cases) assert.match(exportError(notebook([cell])).message, message);
  });

  test('refuses a Python notebook as a whole, naming its kernel', () => {
    const e = exportError(notebook([code('print(1)')], { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }));
    assert.match(e.message, /^lesson\.ipynb: is a python notebook \(kernel "python3"\): metadata\.kernelspec\.language is "python"/);
  });

  test('accepts valid TypeScript that only looks like Python', () => {
    const cells = [
      code('// import numpy as np\n// def f(x):\nconst note = "def f(x):\\n    return x";'),
      code('const print = (...args: unknown[]) => console.log(...args);\nprint("hello")'),
      code('function range(n: number): number[] {\n  return [...Array(n).keys()];\n}\nfor (const i of range(3)) {\n  print(i);\n}'),
      code('class Counter {\n  #count = 0;\n  next(): number {\n    return ++this.#count;\n  }\n}'),
      code("const settings = {\n  epochs: 30,\n  done: false,\n  label: 'from x import y',\n};"),
      code("switch (settings.epochs) {\n  case 30:\n    print('thirty');\n    break;\n  default:\n    break;\n}"),
      code('outer: for (const a of [1]) {\n  for (const b of [2]) {\n    if (a < b) continue outer;\n  }\n}'),
      code('type Maybe<T> = T | None;\ntype None = null;\nconst lambda = (x: number) => x;\nlambda(1)'),
      code('const x = await Promise.resolve(1);'),
      code('const pass = true, raise = false;\nconst elif = pass && !raise'),
    ];
    const script = exportCells(cells);
    assert.match(script, /class Counter \{\n {2}#count = 0;/);
  });

  test('a TypeScript syntax error is reported as such, with its line', () => {
    const e = exportError(notebook([code('const a = 1;\nconst b = ;')]));
    assert.match(
      e.message,
      /^lesson\.ipynb: cell 1, line 2 is not valid TypeScript: Expression expected\. \(`const b = ;`\)\. Fix the cell, or tag it `skip-export`/,
    );
  });
});

describe('exportNotebook: notebooks that cannot become a script', () => {
  test('not JSON', () => {
    assert.throws(
      () => parseNotebook('{"cells": [', 'broken.ipynb'),
      /^DataFileError: broken\.ipynb: is not valid JSON \(.*\), so it is not a Jupyter notebook/,
    );
    assert.match(exportError('not json at all').message, /^lesson\.ipynb: is not valid JSON/);
  });

  test('not nbformat 4', () => {
    const v3 = JSON.stringify({ nbformat: 3, nbformat_minor: 0, metadata: {}, worksheets: [] });
    assert.match(exportError(v3).message, /^lesson\.ipynb: is not an nbformat 4 notebook \("nbformat": 3\)\. Open it in Jupyter/);
    assert.match(exportError('[1, 2]').message, /^lesson\.ipynb: is not a Jupyter notebook: expected a JSON object, found a list/);
    assert.match(exportError('{"nbformat": 4, "cells": 3}').message, /"cells" must be a list/);
  });

  test('two cells import the same name from different modules', () => {
    const e = exportError(notebook([code("import { tf } from 'tslab-dl';"), code("import * as tf from '@tensorflow/tfjs';")]));
    assert.match(
      e.message,
      /^lesson\.ipynb: cell 2, line 1 imports `tf` \(the module from "@tensorflow\/tfjs"\), but an earlier cell imports another `tf`.*\(the other import: cell 1, line 1\)\.$/,
    );
  });

  test('a cell imports a name that an earlier cell declares', () => {
    const e = exportError(notebook([code('const fit = 1;'), code("import { fit } from 'tslab-dl';")]));
    assert.match(e.message, /cell 2, line 1 imports `fit`, which cell 1 declares/);
  });

  test('export statements and tslab module cells', () => {
    assert.match(
      exportError(notebook([code('const a = 1;\nexport default a;')])).message,
      /cell 1, line 2 has an export statement \(`export default a;`\)/,
    );
    assert.match(
      exportError(notebook([code('/** @module helpers */\nexport const one = 1;')])).message,
      /cell 1, line 1 is a tslab module cell \(`@module helpers`\)/,
    );
  });

  test('a line that would read as a cell marker', () => {
    assert.match(
      exportError(notebook([markdown('%% not a marker')])).message,
      /cell 1, line 1 reads as a cell marker in the script \(`%% not a marker`\)/,
    );
  });
});
