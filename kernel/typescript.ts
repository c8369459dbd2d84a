/**
 * The TypeScript compiler that compiles cells: the project's `typescript` package, the same one
 * `tslab-dl export` (lib/export) parses cells with. tslab's converter gets it too (through
 * kernel/tslab-alias.ts and kernel/tslab-typescript.ts), so the kernel parses with the same
 * instance, and patches the very `ts.sys` that tslab's converter reads files through.
 */
import type * as TS from 'typescript';
import { useProjectTypeScriptInTslab } from './tslab-alias';

export type { TS };

useProjectTypeScriptInTslab();

export const ts: typeof TS = require('typescript');
