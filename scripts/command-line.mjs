// The command-line rules of lib/core/command-line.ts, for what runs before the build: the scripts
// (scripts/setup-backend.mjs runs on a fresh checkout, before any TypeScript is compiled) and
// bin/tslab-dl.js's own `--help`. Same rules, same messages, same results (test/command-line.test.ts
// gives both the same inputs); there are two only because this one cannot import TypeScript.
// Change both together. In short (the rules in full are in lib/core/command-line.ts):
// node:util's parseArgs as a tokenizer; `--opt value` = `--opt=value`; a string option needs a value
// (not empty, not a next word starting with `-` other than `-`); a boolean takes none; -h/--help
// prints the usage (exit 0); an unknown option or an unwanted positional is refused with
// "<command>: <message>.\n\n<usage>" on stderr (exit 2); `--` ends the options. Nothing exits the
// process: the caller returns the code.
import { parseArgs } from 'node:util';

const HELP = { type: 'boolean', short: 'h', description: 'show this help' };

/** The usage text followed by the list of options (with -h, --help). */
export function formatUsage(spec) {
  const entries = Object.entries({ ...spec.options, help: HELP }).map(([name, option]) => {
    const flags = `${option.short ? `-${option.short}, ` : '    '}--${name}`;
    return [option.type === 'string' ? `${flags} <${option.valueName ?? 'value'}>` : flags, option.description];
  });
  const width = Math.max(...entries.map(([flags]) => flags.length)) + 3;
  const lines = entries.map(([flags, text]) => `  ${flags.padEnd(width)}${text.split('\n').join(`\n  ${' '.repeat(width)}`)}`);
  return `${spec.usage.trimEnd()}\n\nOptions:\n${lines.join('\n')}\n`;
}

/** Writes "<command>: <message>.\n\n<usage>" on stderr and returns 2. */
export function usageError(spec, message) {
  process.stderr.write(`${spec.command}: ${message}${message.endsWith('.') ? '' : '.'}\n\n${formatUsage(spec)}`);
  return 2;
}

/**
 * spec: { command, usage, options: { name: { type: 'string'|'boolean', short?, multiple?, description, valueName? } },
 * positionals?: boolean }. Returns { values, positionals }, or { exit: 0 | 2 } after --help or a refusal.
 */
export function parseCommandLine(spec, args) {
  const options = { ...spec.options, help: HELP };
  const { tokens } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true });
  const ended = tokens.findIndex((token) => token.kind === 'option-terminator');
  const before = ended < 0 ? tokens : tokens.slice(0, ended);
  // `--x --help` asks for help too: a word starting with `-` is no value (see the rules).
  const help = (token) =>
    token.kind === 'option' && (token.name === 'help' || (!token.inlineValue && /^(-h|--help)$/.test(token.value ?? '')));
  if (before.some(help)) {
    process.stdout.write(formatUsage(spec));
    return { exit: 0 };
  }
  /** @type {Record<string, any>} */
  const values = {};
  const positionals = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      if (!spec.positionals) return { exit: usageError(spec, `unexpected argument ${JSON.stringify(token.value)}`) };
      positionals.push(token.value);
    } else if (token.kind === 'option') {
      const option = Object.hasOwn(spec.options, token.name) ? spec.options[token.name] : undefined;
      if (!option) return { exit: usageError(spec, `unknown option ${JSON.stringify(token.rawName)}`) };
      /** @type {string | boolean} */
      let value = true;
      if (option.type === 'boolean') {
        if (token.value !== undefined) return { exit: usageError(spec, `${token.rawName} takes no value`) };
      } else {
        const missing = token.value === undefined || token.value === '' || (!token.inlineValue && /^-./s.test(token.value));
        if (missing) return { exit: usageError(spec, `${token.rawName} needs a value`) };
        value = token.value;
      }
      values[token.name] = option.multiple ? [...(values[token.name] ?? []), value] : value;
    }
  }
  return { values, positionals };
}
