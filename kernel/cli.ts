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

const USAGE = `Usage:
  tslab-dl kernel --config-path <connection file>
  tslab-dl install [--user | --sys-prefix | --prefix <dir>] [--python <python>] [--quiet-if-missing]
  tslab-dl uninstall [--python <python>] [--quiet-if-missing]

install      registers the "${DISPLAY_NAME}" kernel (for the current user by default)
             with the first Jupyter found: \`jupyter\` on PATH, \`python3 -m jupyter\`,
             \`/usr/bin/python3 -m jupyter\`; --python <python> uses \`<python> -m jupyter\`.
uninstall    removes that kernel (and no other).
--quiet-if-missing   when Jupyter is not installed, say so and exit 0 (for npm's prepare).
`;

class UsageError extends Error {}

interface Options {
  configPath?: string;
  scope: InstallScope;
  python?: string;
  quietIfMissing: boolean;
}

function parse(command: string, args: string[]): Options {
  const options: Options = { scope: { kind: 'user' }, quietIfMissing: false };
  const allowed: { [command: string]: string[] } = {
    kernel: ['--config-path'],
    install: ['--user', '--sys-prefix', '--prefix', '--python', '--quiet-if-missing'],
    uninstall: ['--python', '--quiet-if-missing'],
  };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split(/=(.*)/s, 2);
    if (!allowed[command].includes(flag)) throw new UsageError(`tslab-dl ${command}: unknown option ${JSON.stringify(args[i])}.`);
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined || v === '') throw new UsageError(`tslab-dl ${command}: ${flag} needs a value.`);
      return v;
    };
    switch (flag) {
      case '--config-path':
        options.configPath = value();
        break;
      case '--user':
        options.scope = { kind: 'user' };
        break;
      case '--sys-prefix':
        options.scope = { kind: 'sys-prefix' };
        break;
      case '--prefix':
        options.scope = { kind: 'prefix', prefix: value() };
        break;
      case '--python':
        options.python = value();
        break;
      case '--quiet-if-missing':
        options.quietIfMissing = true;
        break;
    }
  }
  return options;
}

async function startKernel(options: Options): Promise<number> {
  if (!options.configPath) throw new UsageError('tslab-dl kernel: --config-path <connection file> is required (Jupyter passes it).');
  // An interrupt while the kernel's modules load must not end the process (Node's default).
  process.on('SIGINT', () => undefined);
  const { Kernel } = require('./kernel') as typeof import('./kernel');
  await Kernel.start(options.configPath);
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
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  try {
    const options = parse(command, args);
    switch (command) {
      case 'kernel':
        return await startKernel(options);
      case 'install':
        return withJupyter(options, (jupyter) => {
          const dir = installKernelSpec(jupyter, options.scope);
          const argv = (kernelSpec() as { argv: string[] }).argv.slice(0, 3).join(' ');
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
      default:
        throw new UsageError(`tslab-dl: kernel/cli does not handle ${JSON.stringify(command)}.`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
}
