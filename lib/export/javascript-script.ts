/**
 * The exported script as JavaScript, for an output named .js, .mjs or .cjs:
 * neither node nor tsx runs TypeScript syntax from such a name, so the file
 * gets what `node <file>` runs. TypeScript's transpileModule strips the types
 * one file at a time, as under isolatedModules
 * (https://www.typescriptlang.org/tsconfig/#isolatedModules), which the script
 * allows: its cells have been parsed and checked already. The module format follows the file's name (script-name.ts):
 * with module NodeNext, a .mts file compiles to an ES module, a .cts file to
 * CommonJS, and import() stays import() in both (so ES-module-only packages load).
 *
 * The result runs; it does not import back (the emitter re-indents main()'s body,
 * so the `// %%` markers are no longer at the start of their lines): the header
 * says to export to a .ts name for that.
 */
import * as ts from 'typescript';
import { DataFileError } from '../core/errors';
import { HEADER } from './percent';
import { isEsModule } from './script-name';

const JAVASCRIPT_HEADER = [
  '// A JavaScript script compiled from a Jupyter notebook by `tslab-dl export`. Run it with',
  '// `node <this file>`. `tslab-dl import` turns the TypeScript script back into a notebook,',
  '// not this one: export the notebook to a .ts name for that.',
];

/** `script` (the text export wrote) compiled to JavaScript for a file at `file`. */
export function compileToJavaScript(script: string, file: string): string {
  // The header goes on after compiling, so that it stays first (above CommonJS's "use strict").
  const header = HEADER.join('\n');
  const body = script.startsWith(header) ? script.slice(header.length) : script;
  const result = ts.transpileModule(body, {
    fileName: isEsModule(file) ? 'script.mts' : 'script.cts',
    reportDiagnostics: true,
    compilerOptions: {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      // Node 20, the oldest Node the package supports (package.json "engines"), runs ES2022.
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
    },
  });
  const diagnostics = result.diagnostics ?? [];
  if (diagnostics.length > 0) {
    const message = ts.flattenDiagnosticMessageText(diagnostics[0].messageText, ' ');
    throw new DataFileError(file, `cannot be written as JavaScript: ${message} Export to a .ts name instead.`);
  }
  return JAVASCRIPT_HEADER.join('\n') + '\n' + result.outputText;
}
