/**
 * The machine's float32 peak: bench/fp32-peak.c compiled with gcc for this CPU and run once per
 * core at the same time. Undefined, with the reason, where gcc is missing.
 */
import { execFile, execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';

export interface Fp32Peak {
  /** All cores together. */
  gflops?: number;
  perCoreGflops?: number[];
  /** Vector width the compiler chose for this CPU. */
  vectorBits?: number;
  reason?: string;
}

export async function measureFp32Peak(cores = os.cpus().length): Promise<Fp32Peak> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tslab-dl-fp32-peak-'));
  try {
    const binary = path.join(dir, 'fp32-peak');
    try {
      execFileSync('gcc', ['-O3', '-march=native', '-o', binary, path.join(__dirname, 'fp32-peak.c')], { stdio: 'pipe' });
    } catch (e) {
      return { reason: `gcc could not build bench/fp32-peak.c: ${(e as Error).message.split('\n')[0]}` };
    }
    const runs = await Promise.all(Array.from({ length: cores }, () => promisify(execFile)(binary)));
    const fields = runs.map((r) => r.stdout.trim().split(/\s+/).map(Number));
    const perCoreGflops = fields.map((f) => f[0]);
    return { gflops: perCoreGflops.reduce((a, b) => a + b, 0), perCoreGflops, vectorBits: fields[0][1] };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
