/**
 * What the name of an exported script's file means. `-o` names a file, not a
 * language: a TypeScript name (.ts, .mts, .cts) gets the TypeScript script; a
 * JavaScript name (.js, .mjs, .cjs) gets it compiled to JavaScript, because
 * neither node nor tsx runs TypeScript syntax from a .js file; any other name
 * gets the TypeScript script, with a note that tsx runs it only under a
 * TypeScript name. The TypeScript checker, which looks at the script before it
 * is written, always sees it under a TypeScript name in the same folder (so that
 * imports resolve as they will), with the module format the real name implies.
 */
import * as fs from 'fs';
import * as path from 'path';

export type ScriptForm = 'typescript' | 'javascript' | 'other';

const TYPESCRIPT = ['.ts', '.mts', '.cts'];
const JAVASCRIPT = ['.js', '.mjs', '.cjs'];
/** Declaration files hold types only: tsc and tsx never run them. */
const DECLARATION = /\.d\.[mc]?ts$/;

export function scriptForm(file: string): ScriptForm {
  const extension = path.extname(file).toLowerCase();
  if (TYPESCRIPT.includes(extension) && !DECLARATION.test(file.toLowerCase())) return 'typescript';
  if (JAVASCRIPT.includes(extension)) return 'javascript';
  return 'other';
}

/** Whether `file` names a script or module in any language (.ts, .js, .tsx...): not a notebook's name. */
export function isScriptName(file: string): boolean {
  return /^\.[mc]?[jt]sx?$/.test(path.extname(file).toLowerCase());
}

/** `file` with its extension (after the last dot of its base name) replaced by `extension`. */
function withExtension(file: string, extension: string): string {
  const parsed = path.parse(file);
  return path.join(parsed.dir, (DECLARATION.test(parsed.base) ? parsed.name.slice(0, -2) : parsed.name) + extension);
}

/**
 * The name the TypeScript checker gives a script written to `file`: `file` itself
 * for a TypeScript name, else the same name with .ts (.mts and .cts for .mjs and
 * .cjs, which fix the module format as those do: https://nodejs.org/api/packages.html#determining-module-system).
 */
export function typeScriptName(file: string): string {
  switch (scriptForm(file)) {
    case 'typescript':
      return file;
    case 'javascript': {
      const extension = path.extname(file).toLowerCase();
      return withExtension(file, extension === '.mjs' ? '.mts' : extension === '.cjs' ? '.cts' : '.ts');
    }
    default:
      return withExtension(file, '.ts');
  }
}

/**
 * Whether Node runs a JavaScript file at `file` as an ES module: .mjs yes, .cjs no,
 * .js as the nearest package.json's "type" says (https://nodejs.org/api/packages.html#type).
 */
export function isEsModule(file: string): boolean {
  const extension = path.extname(file).toLowerCase();
  if (extension === '.mjs') return true;
  if (extension === '.cjs') return false;
  for (let folder = path.dirname(path.resolve(file)); ; folder = path.dirname(folder)) {
    const packageJson = path.join(folder, 'package.json');
    if (fs.existsSync(packageJson)) {
      try {
        return JSON.parse(fs.readFileSync(packageJson, 'utf8')).type === 'module';
      } catch {
        return false; // Node itself would stop at an unreadable package.json; CommonJS is its default.
      }
    }
    if (path.dirname(folder) === folder) return false;
  }
}
