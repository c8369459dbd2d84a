/**
 * One way to read a command line, for every tslab-dl command: node:util's parseArgs (as a
 * tokenizer) under these rules, the same everywhere:
 *
 *   - `--opt value` and `--opt=value` (short: `-o value`, `-ovalue`, booleans grouped `-fq`);
 *   - a string option needs a value: missing, empty, or a next word starting with `-` (other than
 *     `-` itself, "standard output") is refused: `--opt=-x` passes such a value;
 *   - a boolean option takes no value (`--force=1` is refused); a repeated option: the last wins,
 *     unless it is `multiple` (then every value, in order);
 *   - `-h` / `--help` anywhere before `--` prints the usage on stdout: exit 0, whatever else is wrong;
 *   - an unknown option, or a positional where the command takes none, is refused;
 *   - `--` ends the options: what follows is positional, even `-x`.
 *
 * A refusal writes "<command>: <message>.\n\n<usage>" on stderr: exit 2. Nothing here exits the
 * process: the caller returns the code (main(argv) returns it to bin/tslab-dl.js).
 *
 * Its twin, scripts/command-line.mjs, follows the same rules with the same messages (the tests
 * in test/command-line.test.ts give both the same inputs): there are two because the scripts
 * (scripts/setup-backend.mjs runs on a fresh checkout) and bin/tslab-dl.js's own `--help` run
 * before the build, when no compiled TypeScript exists. Change both together.
 */
import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** One letter: `-o` for `--output`. */
  short?: string;
  /** Every value, in order (string[] / boolean[]), instead of the last one. */
  multiple?: boolean;
  /** Shown in the usage's list of options: lines after the first line are indented under it. */
  description: string;
  /** The value's name in the usage (`--output <path>`); default `value`. */
  valueName?: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

export interface CommandSpec<O extends OptionSpecs = OptionSpecs> {
  /** The name that starts every message: `tslab-dl export`, `setup-backend`. */
  command: string;
  /** What --help prints before the list of options (synopsis and explanation). */
  usage: string;
  options: O;
  /** Whether the command takes positional arguments (default: none). */
  positionals?: boolean;
}

type OptionValue<S extends OptionSpec> = S['type'] extends 'string'
  ? S['multiple'] extends true
    ? string[]
    : string
  : S['multiple'] extends true
    ? boolean[]
    : boolean;

export type OptionValues<O extends OptionSpecs> = { -readonly [K in keyof O]?: OptionValue<O[K]> };

/** Parsed (`exit` undefined), or the exit code to return: 0 after --help, 2 after a refusal. */
export type CommandLine<O extends OptionSpecs> = { exit?: undefined; values: OptionValues<O>; positionals: string[] } | { exit: 0 | 2 };

const HELP: OptionSpec = { type: 'boolean', short: 'h', description: 'show this help' };

/** The usage text followed by the list of options (with -h, --help). */
export function formatUsage(spec: CommandSpec): string {
  const entries = Object.entries({ ...spec.options, help: HELP }).map(([name, option]) => {
    const flags = `${option.short ? `-${option.short}, ` : '    '}--${name}`;
    return [option.type === 'string' ? `${flags} <${option.valueName ?? 'value'}>` : flags, option.description] as const;
  });
  const width = Math.max(...entries.map(([flags]) => flags.length)) + 3;
  const lines = entries.map(([flags, text]) => `  ${flags.padEnd(width)}${text.split('\n').join(`\n  ${' '.repeat(width)}`)}`);
  return `${spec.usage.trimEnd()}\n\nOptions:\n${lines.join('\n')}\n`;
}

/** Writes "<command>: <message>.\n\n<usage>" on stderr and returns 2, the exit code for a mistake in the arguments. */
export function usageError(spec: CommandSpec, message: string): 2 {
  process.stderr.write(`${spec.command}: ${message}${message.endsWith('.') ? '' : '.'}\n\n${formatUsage(spec)}`);
  return 2;
}

/** Reads `args` (the words after the command's name) by `spec`; see the rules above. */
export function parseCommandLine<const O extends OptionSpecs>(spec: CommandSpec<O>, args: readonly string[]): CommandLine<O> {
  const options: OptionSpecs = { ...spec.options, help: HELP };
  const { tokens } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true });
  const ended = tokens.findIndex((token) => token.kind === 'option-terminator');
  const before = ended < 0 ? tokens : tokens.slice(0, ended);
  // `--x --help` asks for help too: a word starting with `-` is no value (see the rules).
  const help = (token: (typeof tokens)[number]) =>
    token.kind === 'option' && (token.name === 'help' || (!token.inlineValue && /^(-h|--help)$/.test(token.value ?? '')));
  if (before.some(help)) {
    process.stdout.write(formatUsage(spec));
    return { exit: 0 };
  }
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      if (!spec.positionals) return { exit: usageError(spec, `unexpected argument ${JSON.stringify(token.value)}`) };
      positionals.push(token.value);
    } else if (token.kind === 'option') {
      const option = Object.hasOwn(spec.options, token.name) ? spec.options[token.name] : undefined;
      if (!option) return { exit: usageError(spec, `unknown option ${JSON.stringify(token.rawName)}`) };
      let value: string | boolean = true;
      if (option.type === 'boolean') {
        if (token.value !== undefined) return { exit: usageError(spec, `${token.rawName} takes no value`) };
      } else {
        const missing = token.value === undefined || token.value === '' || (!token.inlineValue && /^-./s.test(token.value));
        if (missing) return { exit: usageError(spec, `${token.rawName} needs a value`) };
        value = token.value as string;
      }
      values[token.name] = option.multiple ? [...((values[token.name] as unknown[]) ?? []), value] : value;
    }
  }
  return { values: values as OptionValues<O>, positionals };
}
