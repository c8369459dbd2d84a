/**
 * Gathering the imports of every cell at the top of the script: one statement
 * per module (named imports merged, in the order they first appear), default
 * and namespace imports kept, exact duplicates dropped. A name bound to two
 * different things is an error, since one script scope cannot hold both.
 *
 * The result is stable: merging the merged imports again gives the same lines,
 * which is what makes export -> import -> export byte-stable.
 */
import type { ImportStatement, NamedImport } from './cell-code';

/** Where a name came from, for conflict messages. */
export interface ImportSite {
  /** Index of the cell in the notebook. */
  cell: number;
  line: number;
}

/** An import statement and where it was written. */
export interface LocatedImport extends ImportStatement {
  site: ImportSite;
}

/** Two imports bind the same name to different things. */
export class ImportConflict extends Error {
  constructor(
    readonly name: string,
    readonly first: ImportSite,
    readonly second: ImportSite,
    message: string,
  ) {
    super(message);
    this.name = 'ImportConflict';
  }
}

interface ModuleGroup {
  module: string;
  moduleText: string;
  attributes: string;
  typeOnly: boolean;
  sideEffect: boolean;
  defaults: string[];
  namespaces: string[];
  named: NamedImport[];
}

type Entry = { kind: 'group'; group: ModuleGroup } | { kind: 'equals'; text: string };

/** Imports longer than this are written one name per line. */
const MAX_LINE = 100;

/** What a local name stands for: module + exported name. */
function bindingKey(module: string, imported: string): string {
  return `${module}\0${imported}`;
}

export class ImportSet {
  private readonly entries: Entry[] = [];
  private readonly groups = new Map<string, ModuleGroup>();
  private readonly bindings = new Map<string, { key: string; site: ImportSite }>();

  /** Every local name the imports bind. */
  get names(): ReadonlyMap<string, ImportSite> {
    return new Map([...this.bindings].map(([name, { site }]) => [name, site]));
  }

  /** The site that binds `name`, if an import does. */
  siteOf(name: string): ImportSite | undefined {
    return this.bindings.get(name)?.site;
  }

  /** True when `name` is imported from `module` as `imported` (so adding it again changes nothing). */
  binds(name: string, module: string, imported: string): boolean {
    return this.bindings.get(name)?.key === bindingKey(module, imported);
  }

  /** Adds one import statement. Throws {@link ImportConflict} when it rebinds a name differently. */
  add(statement: LocatedImport): void {
    const module = statement.module;
    const locals: [string, string][] = [];
    if (statement.defaultName) locals.push([statement.defaultName, 'default']);
    if (statement.namespaceName) locals.push([statement.namespaceName, '*']);
    for (const named of statement.named) locals.push([named.local, named.imported]);
    for (const [local, imported] of locals) this.bind(local, bindingKey(module, imported), statement.site);

    if (statement.equalsText !== undefined) {
      if (!this.entries.some((e) => e.kind === 'equals' && e.text === statement.equalsText)) {
        this.entries.push({ kind: 'equals', text: statement.equalsText });
      }
      return;
    }
    const key = `${module}\0${statement.attributes}\0${statement.typeOnly}`;
    let group = this.groups.get(key);
    if (!group) {
      group = {
        module,
        moduleText: statement.moduleText,
        attributes: statement.attributes,
        typeOnly: statement.typeOnly,
        sideEffect: false,
        defaults: [],
        namespaces: [],
        named: [],
      };
      this.groups.set(key, group);
      this.entries.push({ kind: 'group', group });
    }
    if (!statement.defaultName && !statement.namespaceName && statement.named.length === 0) group.sideEffect = true;
    if (statement.defaultName && !group.defaults.includes(statement.defaultName)) group.defaults.push(statement.defaultName);
    if (statement.namespaceName && !group.namespaces.includes(statement.namespaceName)) group.namespaces.push(statement.namespaceName);
    for (const named of statement.named) {
      if (!group.named.some((n) => n.local === named.local)) group.named.push(named);
    }
  }

  private bind(local: string, key: string, site: ImportSite): void {
    const existing = this.bindings.get(local);
    if (!existing) {
      this.bindings.set(local, { key, site });
      return;
    }
    if (existing.key === key) return;
    const [module, imported] = key.split('\0');
    throw new ImportConflict(
      local,
      existing.site,
      site,
      `imports \`${local}\` (${imported === '*' ? 'the module' : imported} from "${module}"), but an earlier cell imports ` +
        `another \`${local}\`: a script has one scope for all cells, so rename one of them (\`import { x as y }\`)`,
    );
  }

  /** Every module imported (with bindings or for its effect), in the order first imported. */
  modules(): string[] {
    return [...new Set([...this.groups.keys()].map((key) => key.split('\0')[0]))];
  }

  /** The import lines, one statement per module and kind, in the order modules first appear. */
  lines(): string[] {
    return this.render(() => false).top;
  }

  /**
   * The import lines for the top of the script, and, for modules `esmOnly` picks,
   * `await import(...)` statements for the start of main(): a CommonJS script
   * cannot `import` an ES-module-only package statically (tsc: TS1479; Node:
   * ERR_PACKAGE_PATH_NOT_EXPORTED), but it can load it with import().
   */
  render(esmOnly: (module: string) => boolean): { top: string[]; inMain: string[] } {
    const top: string[] = [];
    const inMain: string[] = [];
    for (const entry of this.entries) {
      if (entry.kind === 'equals') {
        top.push(entry.text);
        continue;
      }
      const g = entry.group;
      const hasTypes = g.typeOnly || g.named.some((n) => /^type\s/.test(n.text));
      if (!hasTypes && !g.attributes && esmOnly(g.module)) inMain.push(...dynamicImports(g));
      else top.push(...staticImports(g));
    }
    return { top, inMain };
  }
}

function staticImports(g: ModuleGroup): string[] {
  const lines: string[] = [];
  const from = `from ${g.moduleText}${g.attributes ? ' ' + g.attributes : ''};`;
  const keyword = g.typeOnly ? 'import type' : 'import';
  const named = g.named.map((n) => n.text);
  let defaults = g.defaults;
  // `import type` may not combine a default with named imports.
  if (named.length > 0 && defaults.length > 0 && !g.typeOnly) {
    lines.push(namedImport(`${keyword} ${defaults[0]}, `, named, from));
    defaults = defaults.slice(1);
  } else if (named.length > 0) {
    lines.push(namedImport(`${keyword} `, named, from));
  }
  for (const name of defaults) lines.push(`${keyword} ${name} ${from}`);
  for (const name of g.namespaces) lines.push(`${keyword} * as ${name} ${from}`);
  if (g.sideEffect && named.length === 0 && g.defaults.length === 0 && g.namespaces.length === 0) {
    lines.push(`import ${g.moduleText}${g.attributes ? ' ' + g.attributes : ''};`);
  }
  return lines;
}

/** The same bindings as {@link staticImports}, as `const { default: x, a, b: c } = await import('m');`. */
function dynamicImports(g: ModuleGroup): string[] {
  const load = `await import(${g.moduleText});`;
  const lines: string[] = [];
  const properties = [
    ...g.defaults.slice(0, 1).map((name) => `default: ${name}`),
    ...g.named.map((n) => (n.imported === n.local ? n.local : `${n.imported}: ${n.local}`)),
  ];
  if (properties.length > 0) {
    const line = `const { ${properties.join(', ')} } = ${load}`;
    lines.push(line.length <= MAX_LINE ? line : `const {\n${properties.map((p) => `  ${p},\n`).join('')}} = ${load}`);
  }
  for (const name of g.defaults.slice(1)) lines.push(`const { default: ${name} } = ${load}`);
  for (const name of g.namespaces) lines.push(`const ${name} = ${load}`);
  if (lines.length === 0) lines.push(load);
  return lines;
}

function namedImport(prefix: string, names: string[], from: string): string {
  const line = `${prefix}{ ${names.join(', ')} } ${from}`;
  if (line.length <= MAX_LINE) return line;
  return `${prefix}{\n${names.map((n) => `  ${n},\n`).join('')}} ${from}`;
}
