/**
 * Runs cells: compiles each with tslab's converter (declarations persist
 * from cell to cell, top-level await, completion, inspection), loads what it
 * imports, runs it so that SIGINT breaks synchronous loops, and lets an
 * interrupt end the wait for asynchronous work at once.
 *
 * Replaces tslab's executor, which prints the last value instead of
 * returning it, cannot import .ts files above the notebook's folder or
 * ESM-only packages, and whose interrupt is not reported as an error.
 */
import * as path from 'path';
import * as vm from 'vm';
import Module, { createRequire } from 'module';
import type { ConvertResult, Diagnostic, SideOutput } from 'tslab/dist/converter';
import { endsInAssignment } from './assignment';
import { EditedText, RebasedCell, SpecifierLiteral, moduleSpecifiers, rebaseRelativeSpecifiers, restoreSpecifiers } from './cell-modules';
import { EsmPackages, isBareSpecifier } from './esm-packages';
import { shorthandPropertyEdits } from './shorthand';
import { Converter, cellFileIn, createProjectConverter, findProjectRoot } from './project';
import { NodeTypings, codeNeedsNodeTypings, errorsNeedNodeTypings, initialNodeTypings } from './node-typings';
import { codePointOffset, utf16Offset } from './text-offsets';
import { CellDiagnostic, ErrorContent, compileError, interruptedError, kernelError, runtimeError } from './traceback';

export type CellOutcome =
  /** `value` is the cell's last expression (undefined when there is none). */
  { status: 'ok'; value: unknown } | { status: 'error'; error: ErrorContent; interrupted: boolean };

/** Completion candidates replacing the code points [start, end) of the cell. */
export interface Completion {
  start: number;
  end: number;
  matches: string[];
}

/** What a cell's code receives as its module-level bindings. */
const CELL_SCOPE = Symbol.for('tslab-dl.cell');

/** Rejection reason of the wait for a cell that was interrupted. */
const INTERRUPTED = Symbol('interrupted');

function isSigintBreak(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED';
}

function toSlashes(file: string): string {
  return file.split(path.sep).join('/');
}

/**
 * The object cells read earlier cells' variables from (`exports.x`). TypeScript
 * re-exports imports with defineProperty getters; storing plain values keeps
 * them re-assignable by later cells (as tslab does).
 */
function createLocals(): { [name: string]: unknown } {
  const values: { [name: string]: unknown } = {};
  return new Proxy(values, {
    defineProperty: (_target, name, attributes) => {
      if (name === '__esModule') return true;
      values[name as string] = attributes.get ? attributes.get() : attributes.value;
      return true;
    },
  });
}

/** A cell rebased onto the project root, with the module specifiers of its edited text (parsed once). */
interface PreparedCell extends RebasedCell {
  specifiers: SpecifierLiteral[];
}

export class CellRunner {
  readonly projectRoot: string;
  private converter: Converter;
  /** Node's typings the converter checks cells with (kernel/node-typings.ts). */
  private typings: NodeTypings = initialNodeTypings();
  private readonly locals = createLocals();
  private readonly sideOutputs = new Map<string, string>();
  private readonly sideModules = new Map<string, NodeJS.Module>();
  private readonly esm: EsmPackages;
  private readonly requireFromNotebook: NodeJS.Require;
  private readonly requireFromRoot: NodeJS.Require;
  private readonly cellRequire: (id: string) => unknown;
  /** TypeScript declarations of everything earlier cells defined. */
  private prevDecl = '';
  /**
   * Turns a backend failure (out of memory, a wasm abort, a CUDA error) into an error that says
   * how to switch backend: the library's explainBackendError, once the library has loaded.
   */
  explainError: (error: unknown) => unknown = (error) => error;
  private cancelWait?: (reason: unknown) => void;

  /** @param projectRoot where .ts files may be imported from; defaults to the nearest folder above with a package.json. */
  constructor(
    readonly notebookDir: string,
    projectRoot = findProjectRoot(notebookDir),
  ) {
    this.projectRoot = path.resolve(projectRoot);
    this.converter = createProjectConverter(this.projectRoot, this.typings);
    this.esm = new EsmPackages(notebookDir, cellFileIn(this.projectRoot));
    this.requireFromNotebook = createRequire(path.join(notebookDir, '__tslab_dl_cell__.js'));
    this.requireFromRoot = createRequire(path.join(this.projectRoot, '__tslab_dl_cell__.js'));
    // Relative specifiers were rebased onto the project root; bare ones resolve from the notebook.
    this.cellRequire = (id: string) =>
      this.requireFrom(this.projectRoot, id, isBareSpecifier(id) ? this.requireFromNotebook : this.requireFromRoot);
    Object.assign(this.cellRequire, {
      resolve: (id: string) => (isBareSpecifier(id) ? this.requireFromNotebook : this.requireFromRoot).resolve(id),
      cache: require.cache,
    });
  }

  /** Runs one cell. Never throws: failures come back as an error outcome. */
  async execute(code: string, label: string): Promise<CellOutcome> {
    const rebased = this.rebase(code);
    let converted: ConvertResult;
    try {
      this.useNodeTypingsIfNeeded(rebased);
      converted = this.converter.convert(this.prevDecl, rebased.edited.text);
      if (converted.diagnostics.length > 0 && this.typings === 'globals' && errorsNeedNodeTypings(converted.diagnostics)) {
        // Errors that Node's full typings may remove: compiled again with them, only their errors count.
        this.useFullNodeTypings();
        converted = this.converter.convert(this.prevDecl, rebased.edited.text);
      }
    } catch (e) {
      return { status: 'error', error: this.converterFailure(e), interrupted: false };
    }
    if (converted.diagnostics.length > 0) {
      const diagnostics = this.toCellDiagnostics(converted.diagnostics, rebased);
      return { status: 'error', error: compileError(diagnostics, code), interrupted: false };
    }
    if (converted.sideOutputs) this.updateSideOutputs(converted.sideOutputs);
    if (!converted.output) {
      this.prevDecl = converted.declOutput ?? '';
      return { status: 'ok', value: undefined };
    }

    const cancelled = new Promise<never>((_, reject) => (this.cancelWait = reject));
    cancelled.catch(() => undefined);
    try {
      await Promise.race([this.esm.loadAll(this.runtimeSpecifiers(rebased, converted)), cancelled]);
      const completion = this.run(converted.output, converted.hasToplevelAwait === true, label);
      if (converted.hasToplevelAwait) await Promise.race([completion, cancelled]);
    } catch (e) {
      // Declarations made before the failure stay usable, as in a REPL.
      this.prevDecl = converted.declOutput ?? this.prevDecl;
      if (e === INTERRUPTED || isSigintBreak(e)) return { status: 'error', error: interruptedError(), interrupted: true };
      return { status: 'error', error: runtimeError(this.explainError(e)), interrupted: false };
    } finally {
      this.cancelWait = undefined;
    }
    this.prevDecl = converted.declOutput ?? '';
    let value: unknown;
    if (converted.lastExpressionVar) {
      value = this.locals[converted.lastExpressionVar];
      delete this.locals[converted.lastExpressionVar];
      // As in IPython, a cell ending in an assignment shows nothing (kernel/assignment.ts).
      if (endsInAssignment(code)) value = undefined;
    }
    return { status: 'ok', value };
  }

  /** Stops waiting for the running cell; returns whether one was running. */
  interrupt(): boolean {
    return this.fail(INTERRUPTED);
  }

  /**
   * Stops waiting for the running cell, which fails with `error` (an error its own callbacks
   * threw where nothing could catch it); returns whether one was being waited for.
   */
  fail(error: unknown): boolean {
    if (!this.cancelWait) return false;
    this.cancelWait(error);
    this.cancelWait = undefined;
    return true;
  }

  /** Completion at `cursor` (in code points, as Jupyter counts). */
  complete(code: string, cursor: number): Completion {
    const rebased = this.rebase(code);
    this.useNodeTypingsIfNeeded(rebased);
    const position = rebased.edited.toEdited(utf16Offset(code, cursor));
    const info = this.converter.complete(this.prevDecl, rebased.edited.text, position);
    const back = (at: number) => codePointOffset(code, rebased.edited.toOriginal(at));
    return { start: back(info.start), end: back(info.end), matches: info.candidates };
  }

  /** The type and documentation of what is at `cursor` (in code points), or undefined. */
  inspect(code: string, cursor: number): string | undefined {
    const rebased = this.rebase(code);
    this.useNodeTypingsIfNeeded(rebased);
    const position = rebased.edited.toEdited(utf16Offset(code, cursor));
    const info = this.converter.inspect(this.prevDecl, rebased.edited.text, position);
    if (!info) return undefined;
    const { printQuickInfo } = require('tslab/dist/inspect') as typeof import('tslab/dist/inspect');
    return printQuickInfo(info);
  }

  /** Compiles a throw-away import of tslab-dl so the first real cell finds its types loaded. */
  warmUp(): void {
    try {
      this.converter.convert('', "import 'tslab-dl';");
    } catch {
      // Only a head start: the first cell reports any real problem.
    }
  }

  close(): void {
    this.converter.close();
  }

  /** Node's typings cells are checked with now: 'globals' until one needed more (kernel/node-typings.ts). */
  get nodeTypings(): NodeTypings {
    return this.typings;
  }

  /** Switches to Node's full typings before compiling `cell` when it uses Node beyond the globals. */
  private useNodeTypingsIfNeeded(cell: PreparedCell): void {
    if (
      this.typings === 'globals' &&
      codeNeedsNodeTypings(
        cell.edited.text,
        cell.specifiers.map((s) => s.text),
      )
    )
      this.useFullNodeTypings();
  }

  /** From now on cells are checked with @types/node: a new converter replaces the one with the globals only. */
  private useFullNodeTypings(): void {
    if (this.typings === 'full') return;
    // The old one goes first: the two programs at once would hold some 130 MB for a moment.
    this.converter.close();
    this.typings = 'full';
    this.converter = createProjectConverter(this.projectRoot, 'full');
  }

  private rebase(code: string): PreparedCell {
    const rebased = rebaseRelativeSpecifiers(code, this.notebookDir, this.projectRoot, shorthandPropertyEdits(code));
    const specifiers = moduleSpecifiers(rebased.edited.text);
    this.esm.declareTypes(specifiers.map((s) => s.text));
    return { ...rebased, specifiers };
  }

  /** Runs the compiled cell; its synchronous part runs under `breakOnSigint`. */
  private run(output: string, isAsync: boolean, label: string): unknown {
    const scope = globalThis as { [CELL_SCOPE]?: unknown[] };
    scope[CELL_SCOPE] = [this.locals, this.cellRequire, path.join(this.notebookDir, label), this.notebookDir];
    // The wrapper shares the first line with the compiled code so line numbers in stacks match it.
    const wrapped =
      `(${isAsync ? 'async ' : ''}function (exports, require, __filename, __dirname) { ${output}\n})` +
      `.apply(undefined, globalThis[Symbol.for('tslab-dl.cell')])`;
    try {
      // displayErrors: false keeps Node from prefixing stacks with the source line and a caret.
      return vm.runInThisContext(wrapped, { filename: label, breakOnSigint: true, displayErrors: false });
    } finally {
      delete scope[CELL_SCOPE];
    }
  }

  /** Bare specifiers the cell and the files it compiled load at run time. */
  private runtimeSpecifiers(rebased: PreparedCell, converted: ConvertResult): Set<string> {
    const specifiers = new Set<string>();
    for (const literal of rebased.specifiers) {
      if (!literal.typeOnly && isBareSpecifier(literal.text)) specifiers.add(literal.text);
    }
    for (const side of converted.sideOutputs ?? []) {
      for (const match of side.data.matchAll(/\brequire\("([^"]+)"\)/g)) {
        if (isBareSpecifier(match[1])) specifiers.add(match[1]);
      }
    }
    return specifiers;
  }

  private requireFrom(dir: string, id: string, fallback: (id: string) => unknown): unknown {
    if (id === 'tslab') return require('tslab');
    const esm = this.esm.get(id);
    if (esm) return esm;
    if (!isBareSpecifier(id) && !id.startsWith('node:')) {
      const side = this.loadSideModule(path.resolve(dir, id));
      if (side !== undefined) return side;
    }
    return fallback(id);
  }

  private updateSideOutputs(outputs: SideOutput[]): void {
    for (const output of outputs) {
      const file = toSlashes(output.path);
      this.sideModules.delete(file);
      this.sideOutputs.set(file, output.data);
    }
  }

  /** A .ts file the converter compiled along with a cell, loaded as a module; undefined if none. */
  private loadSideModule(file: string): unknown {
    const base = toSlashes(file);
    const filename = [base, `${base}.js`, `${base}/index.js`].find((f) => this.sideOutputs.has(f));
    if (!filename) return undefined;
    const cached = this.sideModules.get(filename);
    if (cached) return cached.exports;
    const ModuleClass = Module as unknown as {
      new (id: string, parent?: NodeJS.Module): NodeJS.Module & { _compile(code: string, file: string): void; paths: string[] };
      _nodeModulePaths(dir: string): string[];
    };
    const mod = new ModuleClass(filename, module);
    const dir = path.dirname(filename);
    mod.filename = filename;
    mod.paths = ModuleClass._nodeModulePaths(dir);
    const ownRequire = createRequire(filename);
    mod.require = ((id: string) => this.requireFrom(dir, id, ownRequire)) as NodeJS.Require;
    this.sideModules.set(filename, mod);
    try {
      mod._compile(this.sideOutputs.get(filename)!, filename);
    } catch (e) {
      this.sideModules.delete(filename);
      throw e;
    }
    return mod.exports;
  }

  /** Diagnostics positioned in the text the user typed, with specifiers named as typed. */
  private toCellDiagnostics(diagnostics: Diagnostic[], rebased: RebasedCell): CellDiagnostic[] {
    const out: CellDiagnostic[] = [];
    let previous: Diagnostic | undefined;
    for (const d of diagnostics) {
      // tslab drops the file name of the follow-up lines of a chained message: take the head's.
      const fileName =
        d.fileName ??
        (previous?.fileName && previous.start.offset === d.start.offset && previous.end.offset === d.end.offset
          ? previous.fileName
          : undefined);
      previous = { ...d, fileName };
      let message = restoreSpecifiers(d.messageText, rebased.renamed);
      if (d.code === 6059) {
        message +=
          ` tslab-dl compiles the .ts files under the project root ${this.projectRoot} (the nearest folder above` +
          ' the notebook with a package.json): move the file there, or put a package.json in a folder above both.';
      }
      if (fileName) {
        out.push({ line: d.start.line, character: d.start.character, length: 1, message, code: d.code, fileName });
        continue;
      }
      const start = rebased.edited.toOriginal(d.start.offset);
      const end = rebased.edited.toOriginal(d.end.offset);
      const { line, character } = lineAndCharacter(rebased.edited, start);
      out.push({ line, character, length: Math.max(1, end - start), message, code: d.code });
    }
    return out;
  }

  private converterFailure(error: unknown): ErrorContent {
    const message = (error as Error)?.message ?? String(error);
    const outside = /^unexpected emit path: (.*)$/.exec(message);
    if (outside) {
      return kernelError(
        'ImportError',
        `a cell imports a file outside the project root ${this.projectRoot} (compiled to ${outside[1]}). ` +
          'tslab-dl compiles the .ts files under the nearest folder above the notebook with a package.json: ' +
          'move the file there, or put a package.json in a folder above both.',
      );
    }
    return kernelError('CompilerError', `the TypeScript converter failed: ${message}`);
  }
}

function lineAndCharacter(text: EditedText, offset: number): { line: number; character: number } {
  const before = text.original.slice(0, offset);
  const line = before.split('\n').length - 1;
  return { line, character: offset - (before.lastIndexOf('\n') + 1) };
}
