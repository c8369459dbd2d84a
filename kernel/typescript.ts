/**
 * The TypeScript compiler that tslab compiles cells with (@tslab/typescript-for-tslab,
 * a patched TypeScript 5.0). The kernel parses with the same instance, and must
 * patch the very `ts.sys` that tslab's converter reads files through.
 */
import { createRequire } from 'module';
import type * as TS from '@tslab/typescript-for-tslab';

export type { TS };

export const ts: typeof TS = createRequire(require.resolve('tslab/package.json'))('@tslab/typescript-for-tslab');
