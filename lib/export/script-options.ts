/**
 * The TypeScript compiler options an exported script is checked with: those of
 * the tsconfig.json nearest to where the script will be (the project's), as
 * `tsc -p` would use them, or the project's own defaults when there is none.
 */
import * as path from 'path';
import * as ts from 'typescript';

const DEFAULTS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.Node16,
  moduleResolution: ts.ModuleResolutionKind.Node16,
  strict: true,
  esModuleInterop: true,
  skipLibCheck: true,
};

/** Compiler options for a script at `scriptPath`, from the tsconfig.json nearest to it. */
export function compilerOptionsFor(scriptPath: string): ts.CompilerOptions {
  const configPath = ts.findConfigFile(path.dirname(path.resolve(scriptPath)), ts.sys.fileExists);
  if (!configPath) return DEFAULTS;
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: () => undefined,
    },
  );
  return parsed ? { ...parsed.options, skipLibCheck: true } : DEFAULTS;
}
