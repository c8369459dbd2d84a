/**
 * `plotHistory(..., { show: 'window' })` in a terminal: opens the figure's file (already written
 * by the caller, an SVG or a PNG with no external references) with the desktop's own opener, so
 * it shows offline in whatever viewer the desktop picks.
 *
 * - Linux and other Unix: `xdg-open` (xdg-utils), when it is on PATH and a display is set
 *   ($DISPLAY or $WAYLAND_DISPLAY);
 * - macOS: `open`;
 * - Windows: `cmd.exe /c start "" <file>`.
 *
 * The opener is started detached, with no stdio, and not waited for (some openers block until the
 * viewer closes), so a script never hangs on it. Nothing here throws: when there is no opener, or
 * it cannot start, a line says why and the file's path (printed by the caller) is the way to see it.
 */
import { spawn } from 'child_process';
import { findOnPath } from '../core/find-on-path';

export interface Opener {
  command: string;
  args: string[];
  /** cmd.exe needs its quoting left as written. */
  verbatim?: boolean;
}

/** The command that opens `file` on this desktop, or why there is none. */
export function desktopOpener(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): Opener | { reason: string } {
  if (platform === 'win32') {
    return { command: env.ComSpec || 'cmd.exe', args: ['/d', '/s', '/c', `start "" "${file}"`], verbatim: true };
  }
  if (platform === 'darwin') {
    const open = findOnPath('open', env) ?? '/usr/bin/open';
    return { command: open, args: [file] };
  }
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) {
    return { reason: 'No display ($DISPLAY is not set)' };
  }
  const xdgOpen = findOnPath('xdg-open', env);
  if (!xdgOpen) return { reason: 'No opener (xdg-open is not on PATH; it comes with xdg-utils)' };
  return { command: xdgOpen, args: [file] };
}

/** Opens `file` in the desktop's viewer, or says why not. Never throws, never waits. */
export function openInWindow(file: string, log: (line: string) => void = console.log): void {
  const opener = desktopOpener(file);
  if ('reason' in opener) {
    log(`${opener.reason}: open the file above instead of a window.`);
    return;
  }
  const name = opener.command.split(/[\\/]/).pop();
  try {
    const child = spawn(opener.command, opener.args, {
      detached: true,
      stdio: 'ignore',
      windowsHide: true,
      windowsVerbatimArguments: opener.verbatim,
    });
    child.on('error', (error) => log(`Could not start ${name} (${error.message}): open the file above instead of a window.`));
    child.unref();
    log(`Opening it with ${name}.`);
  } catch (error) {
    log(`Could not start ${name} (${(error as Error).message}): open the file above instead of a window.`);
  }
}
