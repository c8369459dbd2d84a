/**
 * Finding a program as a shell does: the first executable file of that name in the folders of
 * PATH. Used for nvidia-smi (lib/backends/cuda-libraries.ts), Jupyter (lib/doctor) and the
 * desktop's opener (lib/plot/open-window.ts).
 */
import * as fs from 'fs';
import * as path from 'path';

/** The folders of a PATH-like list (`path.delimiter`-separated), empty entries dropped. */
export function splitPathList(value: string | undefined): string[] {
  return (value ?? '').split(path.delimiter).filter((dir) => dir !== '');
}

/** The first executable file named `command` in the folders of `env.PATH`, as a shell finds it; undefined when none. */
export function findOnPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of splitPathList(env.PATH)) {
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
