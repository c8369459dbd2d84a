/**
 * `tslab-dl export` and `tslab-dl import`: notebooks to runnable TypeScript
 * scripts and back. bin/tslab-dl.js calls main(argv) with argv[0] the command.
 *
 * The command never crashes and never destroys the user's file: every failure
 * is one line naming the file and what to do (exit 2 for a mistake in the
 * arguments, 1 for a file that cannot be converted, read or written), an output
 * is never written over its own input (not even with --force), and outputs are
 * written whole or not at all (write-files.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { CommandSpec, parseCommandLine, usageError } from '../core/command-line';
import { DataFileError, ValueError } from '../core/errors';
import { exportNotebook } from './export-notebook';
import { isSystemError, readError } from './file-errors';
import { importScript } from './import-script';
import { compileToJavaScript } from './javascript-script';
import { parseNotebook, serializeNotebook } from './notebook';
import { isSameFile } from './same-file';
import { isScriptName, scriptForm, typeScriptName } from './script-name';
import { forcedImportWarning, ScriptSyntaxError, scriptSyntaxErrors, syntaxErrorLines } from './script-syntax';
import { OutputFile, outputExists, writeFilesAtomically } from './write-files';

const USAGE = `Usage:
  tslab-dl export <notebook.ipynb> [-o <script.ts>] [--force]
  tslab-dl export --all [-o <folder>] [--force]
  tslab-dl import <script.ts> [-o <notebook.ipynb>] [--force]

export   writes the notebook as a TypeScript script that runs with \`npx tsx <script.ts>\`
         (default: next to the notebook, with .ts). --all exports every notebook under
         notebooks/ into a folder (default out/scripts/).
import   turns a script with \`// %%\` cell markers back into a notebook for the tslab-dl
         kernel (default: next to the script, with .ipynb).
`;

const OPTIONS = {
  output: {
    type: 'string',
    short: 'o',
    valueName: 'path',
    description: 'where to write; `-o -` writes to standard output; export to a .js,\n.mjs or .cjs name writes JavaScript for `node`',
  },
  force: {
    type: 'boolean',
    short: 'f',
    description: 'overwrite an output that exists (never the input); import a script\nthat has syntax errors',
  },
} as const;

/** The command lines of export (with --all) and import: one usage for both. */
const SPECS = {
  export: {
    command: 'tslab-dl export',
    usage: USAGE,
    positionals: true,
    options: { ...OPTIONS, all: { type: 'boolean', description: 'export every notebook under notebooks/ (default -o: out/scripts/)' } },
  },
  import: { command: 'tslab-dl import', usage: USAGE, positionals: true, options: OPTIONS },
} as const;

/** Default folder for `export --all`. */
export const ALL_SCRIPTS_FOLDER = path.join('out', 'scripts');
/** Folder that `export --all` searches, relative to the current folder. */
export const NOTEBOOKS_FOLDER = 'notebooks';

/**
 * A mistake in the arguments found after parsing (an output that is the input...): exit 2,
 * with one line that says what to pass instead (mistakes found while parsing come with the usage).
 */
class UsageError extends Error {}

interface Arguments {
  command: 'export' | 'import';
  inputs: string[];
  output?: string;
  force: boolean;
  all: boolean;
}

/** The arguments, or the exit code after --help (0) or a mistake in them (2, with the usage). */
function parseArguments(argv: string[]): Arguments | number {
  const [command, ...rest] = argv;
  if (command !== 'export' && command !== 'import') return usageError(SPECS.export, `unknown command ${JSON.stringify(command)}`);
  const spec = SPECS[command];
  const line = parseCommandLine<CommandSpec['options']>(spec, rest);
  if (line.exit !== undefined) return line.exit;
  const { output, force = false, all = false } = line.values as { output?: string; force?: boolean; all?: boolean };
  const args: Arguments = { command, inputs: line.positionals, output, force, all };
  if (args.all && args.inputs.length > 0) return usageError(spec, 'give either --all or a notebook, not both');
  if (!args.all && args.inputs.length !== 1) {
    const what = command === 'export' ? 'notebook' : 'script';
    return usageError(
      spec,
      args.inputs.length === 0 ? `${command} needs a ${what}` : `${command} takes one ${what}; got ${args.inputs.length} files`,
    );
  }
  if (args.all && args.output === '-') return usageError(spec, '--all writes files: give a folder with -o, not -');
  return args;
}

function readInput(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw readError(file, e);
  }
}

function withExtension(file: string, extension: string): string {
  const parsed = path.parse(file);
  return path.join(parsed.dir, parsed.name + extension);
}

/** `-o`'s path; a folder (one that exists, or written with a final /) gets `input`'s name with `extension`. */
function outputPath(output: string | undefined, input: string, extension: string): string {
  const beside = withExtension(input, extension);
  if (output === undefined) return beside;
  const isFolder = output.endsWith('/') || output.endsWith(path.sep) || (fs.existsSync(output) && fs.statSync(output).isDirectory());
  return isFolder ? path.join(output, path.basename(beside)) : output;
}

/** Every .ipynb under `folder`, sorted, skipping Jupyter's checkpoints. */
export function findNotebooks(folder: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== '.ipynb_checkpoints' && entry.name !== 'node_modules') walk(full);
      else if (entry.isFile() && entry.name.endsWith('.ipynb')) found.push(full);
    }
  };
  walk(folder);
  return found;
}

/** What a conversion made: the output's text, and notes or warnings for the user (one line each). */
interface Converted {
  text: string;
  notes: string[];
}

/** One file to convert: where from, where to, and how. */
interface Job {
  input: string;
  output: string;
  convert(text: string): Converted;
}

/**
 * `scriptPath`: where imports resolve from (with `-o -`, the script is not written anywhere).
 * The output's name decides the language (script-name.ts): JavaScript names get JavaScript.
 */
function exportJob(notebook: string, output: string, scriptPath = output): Job {
  const convert = (text: string): Converted => {
    const script = exportNotebook(text, { source: notebook, notebookPath: notebook, scriptPath });
    if (output === '-') return { text: script, notes: [] };
    switch (scriptForm(output)) {
      case 'typescript':
        return { text: script, notes: [] };
      case 'javascript':
        return {
          text: compileToJavaScript(script, output),
          notes: [
            `note: ${output} is JavaScript compiled from the exported TypeScript: run it with \`node ${output}\`. ` +
              'Export to a .ts name for a script that `tslab-dl import` turns back into the notebook.',
          ],
        };
      default:
        return {
          text: script,
          notes: [
            `note: ${output} holds a TypeScript script, but tsx runs TypeScript only from a .ts, .mts or .cts name: ` +
              `rename it to ${typeScriptName(output)} to run it with \`npx tsx\`.`,
          ],
        };
    }
  };
  return { input: notebook, output, convert };
}

function exportJobs(args: Arguments): Job[] {
  if (!args.all) {
    const notebook = args.inputs[0];
    if (args.output === '-') return [exportJob(notebook, '-', withExtension(notebook, '.ts'))];
    return [exportJob(notebook, outputPath(args.output, notebook, '.ts'))];
  }
  const folder = path.resolve(NOTEBOOKS_FOLDER);
  if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) {
    throw new ValueError(
      `export --all exports the notebooks under ${NOTEBOOKS_FOLDER}/, but ${folder} is not a folder: run it from the project folder.`,
    );
  }
  const notebooks = findNotebooks(folder);
  if (notebooks.length === 0) throw new ValueError(`export --all found no .ipynb file under ${folder}.`);
  const outFolder = args.output ?? ALL_SCRIPTS_FOLDER;
  if (fs.existsSync(outFolder) && !fs.statSync(outFolder).isDirectory()) {
    throw new UsageError(
      `--all writes one script per notebook into a folder, but -o ${outFolder} is a file: give a folder (default: ${ALL_SCRIPTS_FOLDER})`,
    );
  }
  return notebooks.map((notebook) => {
    const script = path.join(outFolder, withExtension(path.relative(folder, notebook), '.ts'));
    return exportJob(path.relative(process.cwd(), notebook), script);
  });
}

function importJobs(args: Arguments): Job[] {
  const script = args.inputs[0];
  const output = args.output === '-' ? '-' : outputPath(args.output, script, '.ipynb');
  const notebookPath = output === '-' ? withExtension(script, '.ipynb') : output;
  const convert = (text: string): Converted => {
    if (/^\s*\{/.test(text) && /"nbformat"\s*:/.test(text)) {
      throw new DataFileError(script, 'is a notebook, not a script: `tslab-dl export` turns a notebook into a script.');
    }
    const notes: string[] = [];
    const problems = scriptSyntaxErrors(text);
    if (problems.length > 0) {
      if (!args.force) throw new ScriptSyntaxError(script, problems);
      notes.push(...[...syntaxErrorLines(script, problems), forcedImportWarning(script, problems)].map((line) => `warning: ${line}`));
    }
    if (output !== '-' && path.extname(output).toLowerCase() !== '.ipynb') {
      notes.push(
        `note: ${output} holds a notebook, but Jupyter opens notebooks by their .ipynb name: ` +
          `rename it to ${withExtension(output, '.ipynb')} to open it.`,
      );
    }
    return { text: serializeNotebook(importScript(text, { source: script, scriptPath: script, notebookPath })), notes };
  };
  return [{ input: script, output, convert }];
}

/**
 * Outputs that make no sense, refused before anything is read: the input itself (even with
 * --force), a folder, a notebook's name for a script and a script's name for a notebook.
 */
function checkOutputs(args: Arguments, jobs: Job[]): void {
  const exporting = args.command === 'export';
  const what = exporting ? 'notebook' : 'script';
  const made = exporting ? 'script' : 'notebook';
  const extension = exporting ? '.ts' : '.ipynb';
  for (const job of jobs) {
    if (job.output === '-') continue;
    if (isSameFile(job.input, job.output)) {
      const beside = withExtension(job.input, extension);
      if (args.output === undefined || isSameFile(beside, job.input)) {
        const other = exporting ? 'import' : 'export';
        throw new UsageError(
          `${job.input} is already a ${made} (${extension}): ${args.command} takes a ${what}; \`tslab-dl ${other} ${job.input}\` goes the other way`,
        );
      }
      const named =
        job.output === job.input ? `-o ${job.output} is the ${what}` : `-o ${job.output} is the same file as ${job.input}, the ${what}`;
      throw new UsageError(
        `${named} being ${args.command}ed: writing the ${made} there would destroy the ${what}, even with --force. Pass -o ${beside} instead`,
      );
    }
    if (fs.existsSync(job.output) && fs.statSync(job.output).isDirectory()) {
      if (args.all) {
        throw new ValueError(
          `${job.output} is a folder, where the script of ${job.input} would go: move it away, or choose another folder with -o.`,
        );
      }
      const given = args.output === undefined ? '' : `-o ${args.output}: `;
      throw new UsageError(`${given}${job.output} is a folder: give a file name for the ${made} with -o`);
    }
    if (exporting && path.extname(job.output).toLowerCase() === '.ipynb') {
      throw new UsageError(
        `-o ${job.output} names a notebook, but export writes a script: pass -o ${withExtension(job.output, '.ts')} (\`tslab-dl import\` writes notebooks)`,
      );
    }
    if (!exporting && isScriptName(job.output)) {
      throw new UsageError(
        `-o ${job.output} names a script, but import writes a notebook: pass -o ${withExtension(job.output, '.ipynb')} (\`tslab-dl export\` writes scripts)`,
      );
    }
  }
}

/**
 * Converts every input, then writes every output, or nothing. The cheap checks
 * (outputs that exist, notebooks that are not JSON) come before the slow ones.
 */
function run(args: Arguments): { outputs: OutputFile[]; notes: string[] } {
  const jobs = args.command === 'export' ? exportJobs(args) : importJobs(args);
  checkOutputs(args, jobs);
  if (!args.force) {
    for (const job of jobs) if (job.output !== '-' && fs.existsSync(job.output)) throw outputExists(job.output);
  }
  const inputs = jobs.map((job) => readInput(job.input));
  if (args.command === 'export') jobs.forEach((job, i) => parseNotebook(inputs[i], job.input));
  const converted = jobs.map((job, i) => job.convert(inputs[i]));
  return {
    outputs: jobs.map((job, i) => ({ path: job.output, text: converted[i].text })),
    notes: converted.flatMap((c) => c.notes),
  };
}

/** The lines that report `error` (without the command's prefix), and the exit code. */
function failure(error: unknown): { lines: string[]; code: number } {
  if (error instanceof UsageError) return { lines: [`${error.message}.`], code: 2 };
  if (error instanceof ScriptSyntaxError) return { lines: [...syntaxErrorLines(error.file, error.problems), error.message], code: 1 };
  if (error instanceof DataFileError || error instanceof ValueError) return { lines: [error.message], code: 1 };
  // A file-system error that no step above named (a folder --all could not list...).
  if (isSystemError(error)) return { lines: [readError(error.path ?? 'a file', error).message], code: 1 };
  // A bug: one line all the same, since the user can do nothing with a stack trace.
  const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return {
    lines: [`internal error (${what}). This is a bug in tslab-dl: please report it with the command line and the input file.`],
    code: 1,
  };
}

/** Entry point for `tslab-dl export ...` and `tslab-dl import ...`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const args = parseArguments(argv);
  if (typeof args === 'number') return args;
  const say = (line: string) => process.stderr.write(`tslab-dl ${args.command}: ${line}\n`);
  try {
    const { outputs, notes } = run(args);
    if (outputs.length === 1 && outputs[0].path === '-') {
      notes.forEach(say);
      process.stdout.write(outputs[0].text);
      return 0;
    }
    writeFilesAtomically(outputs, { force: args.force });
    notes.forEach(say);
    for (const output of outputs) process.stdout.write(`Wrote ${output.path}\n`);
    return 0;
  } catch (e) {
    const { lines, code } = failure(e);
    lines.forEach(say);
    return code;
  }
}
