/**
 * `npx tslab-dl prefetch`: an instructor fills the machine-wide shared cache once (lib/lesson/prefetch.ts),
 * and every learner's kernel on the machine reads the weights, data and features from it.
 */
import { parseCommandLine, usageError } from '../core/command-line';
import { DEFAULT_SHARED_CACHE } from '../core/cache-root';
import { ValueError } from '../core/errors';
import { EXECUTORS } from '../features/run';
import type { Executor } from '../features/run';
import { checkPrefetchOptions, LESSON_APPLICATION, prefetch, PREFETCH_APPLICATIONS, PrefetchOptions } from './prefetch';

const USAGE = `Usage: tslab-dl prefetch [--to DIR] [--applications LIST] [--weights imagenet|stand-in]
                        [--data download|synthetic|DIR] [--samples N] [--no-features]

Fills the shared cache that every learner's kernel on this machine reads before its own cache:
the weights of the applications, the Dollar Street data, and the lesson's frozen DenseNet121
features, computed as notebooks/01-transfer-learning.ipynb keys them, with a manifest.json of
every file's sha256 (a learner's kernel uses a file only when it matches, and never writes there).
Run it as root for the default folder (\`sudo npx tslab-dl prefetch\`). Run it again to check and
repair: what is there and intact is kept.

Learners' kernels find ${DEFAULT_SHARED_CACHE} by themselves; for another folder, give them
TSLAB_DL_SHARED_CACHE=DIR.
`;

const SPEC = {
  command: 'tslab-dl prefetch',
  usage: USAGE,
  options: {
    to: {
      type: 'string',
      valueName: 'DIR',
      description: `the shared cache (default: $TSLAB_DL_SHARED_CACHE, else ${DEFAULT_SHARED_CACHE})`,
    },
    applications: {
      type: 'string',
      valueName: 'LIST',
      description: `comma-separated applications whose weights to fetch (default: ${LESSON_APPLICATION}, the lesson's)\none of ${PREFETCH_APPLICATIONS.join(', ')}`,
    },
    weights: {
      type: 'string',
      valueName: 'imagenet|stand-in',
      description: "'imagenet': Keras' files, md5-checked (default); 'stand-in': made here, no internet (tests)",
    },
    data: {
      type: 'string',
      valueName: 'download|synthetic|DIR',
      description:
        "'download': Dollar Street 10 from Zenodo (default); 'synthetic': the synthetic set;\nDIR: copy the four .npy files from this folder",
    },
    samples: {
      type: 'string',
      valueName: 'N',
      description: 'training images of the synthetic set (validation: a third); with --data synthetic',
    },
    'no-features': { type: 'boolean', description: "do not precompute the lesson's frozen features" },
    executor: {
      type: 'string',
      valueName: 'NAME',
      description: `engine for the features: ${EXECUTORS.join(', ')} (default: $TSLAB_DL_EXECUTOR, else auto)`,
    },
  },
} as const;

/** `npx tslab-dl prefetch [options]`: argv is [command, ...options]. */
export async function main(argv: string[]): Promise<number> {
  const args = argv[0] === 'prefetch' ? argv.slice(1) : argv;
  const line = parseCommandLine(SPEC, args);
  if (line.exit !== undefined) return line.exit;
  const v = line.values;
  if (v.samples !== undefined && !/^[1-9][0-9]*$/.test(v.samples)) {
    return usageError(
      SPEC,
      `--samples must be a positive integer (training images of the synthetic set). Received ${JSON.stringify(v.samples)}`,
    );
  }
  if (v.executor !== undefined && !(EXECUTORS as readonly string[]).includes(v.executor)) {
    return usageError(SPEC, `--executor must be one of ${EXECUTORS.join(', ')}. Received ${JSON.stringify(v.executor)}`);
  }
  const options: PrefetchOptions = {
    to: v.to,
    applications: v.applications?.split(','),
    weights: v.weights as PrefetchOptions['weights'],
    data: v.data,
    samples: v.samples === undefined ? undefined : Number(v.samples),
    features: !v['no-features'],
    executor: v.executor as Executor | undefined,
  };
  try {
    checkPrefetchOptions(options);
  } catch (e) {
    if (e instanceof ValueError) return usageError(SPEC, e.message.replace(/^prefetch: /, ''));
    throw e;
  }
  try {
    await prefetch(options);
    return 0;
  } catch (e) {
    process.stderr.write(`tslab-dl prefetch: ${(e as Error).message.replace(/^prefetch: /, '')}\n`);
    return 1;
  }
}
