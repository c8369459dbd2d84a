/**
 * `tslab-dl kernel | install | uninstall` (dispatched by bin/tslab-dl.js).
 *
 *   tslab-dl kernel --config-path <connection file>   what Jupyter runs
 *   tslab-dl install [--user | --sys-prefix | --prefix <dir>] [--python <python>] [--quiet-if-missing]
 *   tslab-dl uninstall [--python <python>] [--quiet-if-missing]
 */
import {
  DISPLAY_NAME,
  InstallScope,
  JupyterNotFoundError,
  KERNEL_NAME,
  describe,
  findJupyter,
  installKernelSpec,
  kernelSpec,
  uninstallKernelSpec,
} from './kernelspec';
import { CommandSpec, parseCommandLine, usageError } from '../lib/core/command-line';

const PYTHON = { type: 'string', valueName: 'python', description: 'use `<python> -m jupyter`' } as const;
const QUIET_IF_MISSING = { type: 'boolean', description: "when Jupyter is not installed, say so and exit 0 (for npm's prepare)" } as const;

/** Each command's line; `install --help` shows install's. */
const SPECS = {
  kernel: {
    command: 'tslab-dl kernel',
    usage: `Usage: tslab-dl kernel --config-path <connection file>

Starts the "${DISPLAY_NAME}" kernel on the connection file Jupyter wrote (Jupyter runs this).`,
    options: { 'config-path': { type: 'string', valueName: 'connection file', description: 'the connection file (Jupyter passes it)' } },
  },
  install: {
    command: 'tslab-dl install',
    usage: `Usage: tslab-dl install [--user | --sys-prefix | --prefix <dir>] [--python <python>] [--quiet-if-missing]

Registers the "${DISPLAY_NAME}" kernel (for the current user by default) with the first
Jupyter found: \`jupyter\` on PATH, \`python3 -m jupyter\`, \`/usr/bin/python3 -m jupyter\`.`,
    options: {
      user: { type: 'boolean', description: 'for the current user (the default)' },
      'sys-prefix': { type: 'boolean', description: "in the Python environment's prefix (sys.prefix)" },
      prefix: { type: 'string', valueName: 'dir', description: 'under <dir>/share/jupyter/kernels' },
      python: PYTHON,
      'quiet-if-missing': QUIET_IF_MISSING,
    },
  },
  uninstall: {
    command: 'tslab-dl uninstall',
    usage: `Usage: tslab-dl uninstall [--python <python>] [--quiet-if-missing]

Removes the ${KERNEL_NAME} kernel (and no other) from the first Jupyter found, as install finds it.`,
    options: { python: PYTHON, 'quiet-if-missing': QUIET_IF_MISSING },
  },
} as const;

type Command = keyof typeof SPECS;

interface Options {
  configPath?: string;
  scope: InstallScope;
  python?: string;
  quietIfMissing: boolean;
}

/** The options, or the exit code after --help (0) or a mistake in them (2, with the usage). */
function parse(command: Command, args: string[]): Options | number {
  const spec = SPECS[command];
  const line = parseCommandLine<CommandSpec['options']>(spec, args);
  if (line.exit !== undefined) return line.exit;
  const values = line.values as {
    'config-path'?: string;
    user?: boolean;
    'sys-prefix'?: boolean;
    prefix?: string;
    python?: string;
    'quiet-if-missing'?: boolean;
  };
  const scopes = (['user', 'sys-prefix', 'prefix'] as const).filter((name) => values[name] !== undefined);
  if (scopes.length > 1)
    return usageError(spec, `give one of --user, --sys-prefix and --prefix, not ${scopes.map((name) => `--${name}`).join(' and ')}`);
  const scope: InstallScope =
    values.prefix !== undefined
      ? { kind: 'prefix', prefix: values.prefix }
      : values['sys-prefix']
        ? { kind: 'sys-prefix' }
        : { kind: 'user' };
  if (command === 'kernel' && values['config-path'] === undefined) {
    return usageError(spec, '--config-path <connection file> is required (Jupyter passes it)');
  }
  return { configPath: values['config-path'], scope, python: values.python, quietIfMissing: values['quiet-if-missing'] ?? false };
}

async function startKernel(configPath: string): Promise<number> {
  // An interrupt while the kernel's modules load must not end the process (Node's default).
  process.on('SIGINT', () => undefined);
  const { Kernel } = require('./kernel') as typeof import('./kernel');
  await Kernel.start(configPath);
  // The sockets keep the process alive; the kernel exits on shutdown_request.
  return new Promise<number>(() => undefined);
}

function withJupyter(options: Options, action: (jupyter: ReturnType<typeof findJupyter>) => void): number {
  let jupyter;
  try {
    jupyter = findJupyter(options.python);
  } catch (e) {
    if (!(e instanceof JupyterNotFoundError)) throw e;
    const line = `tslab-dl: ${e.message}`;
    if (options.quietIfMissing) {
      process.stdout.write(`${line}\n`);
      return 0;
    }
    process.stderr.write(`${line}\n`);
    return 1;
  }
  action(jupyter);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!Object.hasOwn(SPECS, command)) {
    process.stderr.write(`tslab-dl: kernel/cli does not handle ${JSON.stringify(command)}.\n`);
    return 2;
  }
  const options = parse(command as Command, args);
  if (typeof options === 'number') return options;
  switch (command as Command) {
    case 'kernel':
      return startKernel(options.configPath!);
    case 'install':
      return withJupyter(options, (jupyter) => {
        const dir = installKernelSpec(jupyter, options.scope);
        const argv = (kernelSpec() as { argv: string[] }).argv.slice(0, -2).join(' ');
        process.stdout.write(
          `tslab-dl: registered the Jupyter kernel "${DISPLAY_NAME}" (${KERNEL_NAME}) with ${describe(jupyter)} in ${dir}\n` +
            `tslab-dl: it runs ${argv}\n`,
        );
      });
    case 'uninstall':
      return withJupyter(options, (jupyter) => {
        const removed = uninstallKernelSpec(jupyter);
        process.stdout.write(
          removed.length
            ? `tslab-dl: removed the ${KERNEL_NAME} kernel from ${removed.join(', ')}\n`
            : `tslab-dl: the ${KERNEL_NAME} kernel is not installed for ${describe(jupyter)}; nothing to remove.\n`,
        );
      });
  }
}
