/**
 * `tslab-dl export` and `tslab-dl import`: notebooks to runnable TypeScript
 * scripts and back. bin/tslab-dl.js calls main(argv) with argv[0] the command.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DataFileError, ValueError } from '../errors';
import { exportNotebook } from './export-notebook';
import { importScript } from './import-script';
import { parseNotebook, serializeNotebook } from './notebook';
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

Options:
  -o, --output <path>   where to write; \`-o -\` writes to standard output
  -f, --force           overwrite an output that exists
  -h, --help            show this help
`;

/** Default folder for `export --all`. */
export const ALL_SCRIPTS_FOLDER = path.join('out', 'scripts');
/** Folder that `export --all` searches, relative to the current folder. */
export const NOTEBOOKS_FOLDER = 'notebooks';

class UsageError extends Error {}

interface Arguments {
  command: 'export' | 'import';
  inputs: string[];
  output?: string;
  force: boolean;
  all: boolean;
  help: boolean;
}

function parseArguments(argv: string[]): Arguments {
  const [command, ...rest] = argv;
  if (command !== 'export' && command !== 'import') throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  const args: Arguments = { command, inputs: [], force: false, all: false, help: false };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '-h' || arg === '--help') args.help = true;
    else if (arg === '-f' || arg === '--force') args.force = true;
    else if (arg === '--all' && command === 'export') args.all = true;
    else if (arg === '-o' || arg === '--output') {
      if (i + 1 >= rest.length) throw new UsageError(`${arg} needs a path`);
      args.output = rest[++i];
    } else if (arg.startsWith('--output=')) args.output = arg.slice('--output='.length);
    else if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${JSON.stringify(arg)}`);
    else args.inputs.push(arg);
  }
  if (args.help) return args;
  if (args.all && args.inputs.length > 0) throw new UsageError('give either --all or a notebook, not both');
  if (!args.all && args.inputs.length !== 1) {
    const what = command === 'export' ? 'notebook' : 'script';
    throw new UsageError(args.inputs.length === 0 ? `${command} needs a ${what}` : `${command} takes one ${what}; got ${args.inputs.length} files`);
  }
  if (args.all && args.output === '-') throw new UsageError('--all writes files: give a folder with -o, not -');
  return args;
}

function readInput(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataFileError(file, 'does not exist. Check the path (it is relative to the current folder).');
    if (code === 'EISDIR') throw new DataFileError(file, 'is a folder, not a file.');
    throw new DataFileError(file, `cannot be read: ${(e as Error).message}`);
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

/** One file to convert: where from, where to, and how. */
interface Job {
  input: string;
  output: string;
  convert(text: string): string;
}

/** `scriptPath`: where imports resolve from (with `-o -`, the script is not written anywhere). */
function exportJob(notebook: string, output: string, scriptPath = output): Job {
  const convert = (text: string) => exportNotebook(text, { source: notebook, notebookPath: notebook, scriptPath });
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
  return notebooks.map((notebook) => {
    const script = path.join(outFolder, withExtension(path.relative(folder, notebook), '.ts'));
    return exportJob(path.relative(process.cwd(), notebook), script);
  });
}

function importJobs(args: Arguments): Job[] {
  const script = args.inputs[0];
  const output = args.output === '-' ? '-' : outputPath(args.output, script, '.ipynb');
  const notebookPath = output === '-' ? withExtension(script, '.ipynb') : output;
  const convert = (text: string): string => {
    if (/^\s*\{/.test(text) && /"nbformat"\s*:/.test(text)) {
      throw new DataFileError(script, 'is a notebook, not a script: `tslab-dl export` turns a notebook into a script.');
    }
    return serializeNotebook(importScript(text, { source: script, scriptPath: script, notebookPath }));
  };
  return [{ input: script, output, convert }];
}

/**
 * Converts every input, then writes every output, or nothing. The cheap checks
 * (outputs that exist, notebooks that are not JSON) come before the slow ones.
 */
function run(args: Arguments): OutputFile[] {
  const jobs = args.command === 'export' ? exportJobs(args) : importJobs(args);
  if (!args.force) {
    for (const job of jobs) if (job.output !== '-' && fs.existsSync(job.output)) throw outputExists(job.output);
  }
  const inputs = jobs.map((job) => readInput(job.input));
  if (args.command === 'export') jobs.forEach((job, i) => parseNotebook(inputs[i], job.input));
  return jobs.map((job, i) => ({ path: job.output, text: job.convert(inputs[i]) }));
}

/** Entry point for `tslab-dl export ...` and `tslab-dl import ...`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const command = argv[0] ?? 'export';
  let args: Arguments;
  try {
    args = parseArguments(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`tslab-dl ${command}: ${e.message}.\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    const outputs = run(args);
    if (outputs.length === 1 && outputs[0].path === '-') {
      process.stdout.write(outputs[0].text);
      return 0;
    }
    writeFilesAtomically(outputs, { force: args.force });
    for (const output of outputs) process.stdout.write(`Wrote ${output.path}\n`);
    return 0;
  } catch (e) {
    if (e instanceof DataFileError || e instanceof ValueError) {
      process.stderr.write(`tslab-dl ${args.command}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
