/**
 * The kernel's interrupt button, for the library: a flag that loops check between steps
 * ({@link interruptRequested}, e.g. Progress.checkInterrupt), and an AbortSignal for work that
 * waits on I/O.
 *
 * The tslab-dl kernel raises the flag on its hook (lib/notebook/kernel-hook.ts) when the user
 * presses the interrupt button. A loop checks it between steps, but a download waiting for a server that sends nothing never reaches the next step. An
 * AbortSignal reaches into the wait: fetch aborts the request and closes its socket
 * (https://nodejs.org/api/globals.html#class-abortsignal, https://undici.nodejs.org/#/docs/api/Fetch).
 * The flag is polled, as nothing notifies a change.
 */
import { kernelHook } from './kernel-hook';

/** True when the user asked the kernel to interrupt the running cell. */
export function interruptRequested(): boolean {
  return kernelHook()?.interruptRequested ?? false;
}

/** How often the flag is looked at: quick enough for a person, cheap for the event loop. */
const POLL_MS = 100;

export interface InterruptWatch {
  /** Aborts (reason: 'interrupted') once the user interrupted the kernel. */
  signal: AbortSignal;
  /** Stops watching; call when the work ends. */
  dispose(): void;
}

/** Watches for a kernel interrupt until disposed. */
export function watchInterrupt(pollMs = POLL_MS): InterruptWatch {
  const controller = new AbortController();
  const check = () => {
    if (interruptRequested()) {
      clearInterval(timer);
      controller.abort('interrupted');
    }
  };
  const timer = setInterval(check, pollMs);
  timer.unref?.(); // never keeps the process alive by itself
  check();
  return { signal: controller.signal, dispose: () => clearInterval(timer) };
}
