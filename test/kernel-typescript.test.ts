/**
 * One TypeScript for cells and for export: the kernel compiles cells with the project's
 * `typescript` (kernel/typescript.ts, given to tslab's converter by kernel/tslab-alias.ts), the
 * one lib/export parses them with. Syntax newer than tslab's own TypeScript 5.0 (`using`, import
 * attributes) runs in the real kernel (through nbclient) and exports. Needs `npm run build` first.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
// Imported as lib/export imports it (lib/export/cell-code.ts, export-notebook.ts, ...).
import * as ts from 'typescript';
import { exportNotebook, Notebook } from '../lib/export';
import { TSLAB_TYPESCRIPT, useProjectTypeScriptInTslab } from '../kernel/tslab-alias';
import { CellOutput, JUPYTER_PYTHON, JupyterSandbox, ROOT, jupyterMissing, jupyterSandbox, runCellsInKernel } from './support/jupyter';

/** Cells on syntax TypeScript 5.0 lacks or that need 4.9/5.0; each prints what it shows on stdout. */
const CELLS = {
  // The first cell also shows the library's start-up line.
  startup: '0',
  version: "import * as tslab from 'tslab';\nconsole.log(tslab.versions.typescript);",
  satisfies:
    "const palette = { red: [255, 0, 0], green: '#00ff00' } satisfies Record<string, string | number[]>;\n" +
    // satisfies keeps the narrower types: red is a number[], green a string.
    'console.log(JSON.stringify([palette.red.length, palette.green.toUpperCase()]));',
  constTypeParameter:
    'function firstOf<const T extends readonly unknown[]>(items: T): T[0] { return items[0]; }\n' +
    // Without `const`, T[0] would be string and this assignment an error.
    "const first: 'a' = firstOf(['a', 'b']);\nconsole.log(JSON.stringify(first));",
  using:
    'const events: string[] = [];\n' +
    "{\n  using inner = { [Symbol.dispose]() { events.push('inner disposed'); } };\n  events.push('block');\n}\n" +
    "using outer = { [Symbol.dispose]() { events.push('outer disposed'); } };\nevents.push('cell end');",
  usingAfter: 'console.log(JSON.stringify(events));',
  awaitUsing:
    "await using pool = { async [Symbol.asyncDispose]() { events.push('async disposed'); } };\n" +
    "for await (const step of [Promise.resolve('awaited'), 'plain']) events.push(step);",
  awaitUsingAfter: 'console.log(JSON.stringify(events.slice(4)));',
  importAttributes: "import pkg from '../package.json' with { type: 'json' };\nconsole.log(pkg.name);",
};

function stdout(outputs: CellOutput[]): string {
  const error = outputs.find((o) => o.output_type === 'error');
  assert.equal(error, undefined, `the cell failed: ${error?.ename}: ${error?.evalue}`);
  return outputs
    .filter((o) => o.output_type === 'stream' && o.name === 'stdout')
    .map((o) => o.text)
    .join('')
    .trim();
}

/** language_info from the kernel's kernel_info_reply. */
function kernelLanguageInfo(env: NodeJS.ProcessEnv): { name: string; version: string } {
  const script =
    'import json\nfrom jupyter_client.manager import start_new_kernel\n' +
    "km, kc = start_new_kernel(kernel_name='tslab-dl')\n" +
    'try:\n    print(json.dumps(kc.kernel_info(reply=True, timeout=60)["content"]["language_info"]))\n' +
    'finally:\n    kc.stop_channels()\n    km.shutdown_kernel(now=True)\n';
  const r = spawnSync(JUPYTER_PYTHON, ['-c', script], { env, encoding: 'utf8', cwd: path.join(ROOT, 'notebooks') });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

describe('the TypeScript that compiles cells', () => {
  const missing = jupyterMissing();
  let sandbox: JupyterSandbox;
  let outputs: { [name in keyof typeof CELLS]: CellOutput[] };

  before(() => {
    if (missing) return;
    sandbox = jupyterSandbox();
    const names = Object.keys(CELLS) as (keyof typeof CELLS)[];
    const results = runCellsInKernel(
      names.map((name) => CELLS[name]),
      sandbox.env,
    );
    outputs = Object.fromEntries(names.map((name, i) => [name, results[i]])) as typeof outputs;
  });
  after(() => sandbox?.dispose());

  test('is the one export parses cells with: tslab and kernel_info report its version', (t) => {
    if (missing) return t.skip(missing);
    assert.ok(!ts.version.startsWith('5.0.'), `export's TypeScript is ${ts.version}`);
    // tslab's public API reads the version from the module its converter compiles with.
    assert.equal(stdout(outputs.version), ts.version);
    const info = kernelLanguageInfo(sandbox.env);
    assert.equal(info.name, 'typescript');
    assert.equal(info.version, ts.version);
  });

  test('satisfies (4.9) and const type parameters (5.0) type-check and run', (t) => {
    if (missing) return t.skip(missing);
    assert.equal(stdout(outputs.satisfies), '[3,"#00FF00"]');
    assert.equal(stdout(outputs.constTypeParameter), '"a"');
  });

  test('using declarations (5.2) dispose at the end of their block and of the cell', (t) => {
    if (missing) return t.skip(missing);
    // The kernel runs on this Node (its kernelspec names process.execPath). Node 20.4 and later
    // define Symbol.dispose; on an older Node, TypeScript's helper fails naming it.
    if (typeof Symbol.dispose !== 'symbol') {
      const error = outputs.using.find((o) => o.output_type === 'error');
      assert.equal(error?.ename, 'TypeError');
      assert.equal(error?.evalue, 'Symbol.dispose is not defined.');
      return;
    }
    assert.equal(stdout(outputs.using), '');
    assert.equal(stdout(outputs.usingAfter), '["block","inner disposed","cell end","outer disposed"]');
  });

  test('await using and a top-level for await make the cell asynchronous', (t) => {
    if (missing) return t.skip(missing);
    if (typeof Symbol.asyncDispose !== 'symbol') {
      const error = outputs.awaitUsing.find((o) => o.output_type === 'error');
      assert.equal(error?.evalue, 'Symbol.asyncDispose is not defined.');
      return;
    }
    assert.equal(stdout(outputs.awaitUsing), '');
    assert.equal(stdout(outputs.awaitUsingAfter), '["awaited","plain","async disposed"]');
  });

  test('import attributes (5.3) compile and load the JSON module', (t) => {
    if (missing) return t.skip(missing);
    assert.equal(stdout(outputs.importAttributes), 'tslab-dl');
  });

  test('the same cells export to a script', () => {
    const notebook: Notebook = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: 'tslab-dl', display_name: 'TypeScript (tslab-dl)', language: 'typescript' } },
      cells: Object.values(CELLS)
        .slice(1)
        .map((source) => ({ cell_type: 'code', source, metadata: {}, outputs: [], execution_count: null })),
    };
    const script = exportNotebook(notebook, {
      scriptPath: path.join(ROOT, 'exported.ts'),
      notebookPath: path.join(ROOT, 'notebooks', 'typescript.ipynb'),
      checkTypes: false,
    });
    assert.match(script, /import pkg from '\.\/package\.json' with \{ type: 'json' \};/);
    assert.match(script, /using outer = \{/);
    assert.match(script, /await using pool = \{/);
    assert.match(script, /satisfies Record<string, string \| number\[\]>/);
  });
});

describe("the TypeScript tslab's code gets in the kernel process", () => {
  useProjectTypeScriptInTslab();
  const tslabDir = path.dirname(require.resolve('tslab/package.json'));
  const given = require(require.resolve(TSLAB_TYPESCRIPT, { paths: [tslabDir] }));

  test("is the project's typescript: same version, same sys", () => {
    assert.equal(given.version, ts.version);
    assert.equal(given.sys, ts.sys);
    assert.equal(given.factory, ts.factory);
  });

  test("has everything tslab's converter, metadata and public API take from their TypeScript", () => {
    const used = new Set<string>();
    for (const file of ['converter.js', 'metadata.js', 'public.js']) {
      const text = fs.readFileSync(path.join(tslabDir, 'dist', file), 'utf8');
      for (const match of text.matchAll(/\bts\.([A-Za-z_$][\w$]*)(?:\.([A-Za-z_$][\w$]*))?/g)) {
        used.add(match[1]);
        // Namespaces: ts.Completions.getCompletionsAtPositionForTslab, ts.SyntaxKind.X, ...
        if (match[2] && /^[A-Z]/.test(match[1]) && typeof given[match[1]] === 'object' && /^[a-z]/.test(match[2]))
          used.add(`${match[1]}.${match[2]}`);
      }
    }
    assert.ok(used.has('getPreEmitDiagnosticsOfFiles') && used.has('Completions.getCompletionsAtPositionForTslab'), [...used].join(' '));
    const lacking = [...used].filter((name) => name.split('.').reduce((at, key) => at?.[key], given) === undefined);
    assert.deepEqual(lacking, []);
  });
});
