/**
 * A full garbage collection on the main thread, now, whether or not node was started with
 * --expose-gc (the inspector's HeapProfiler.collectGarbage only schedules one). V8's `gc` function appears in contexts created while --expose-gc is set
 * (https://nodejs.org/api/v8.html#v8setflagsfromstringflags,
 * https://nodejs.org/api/vm.html#vmruninnewcontextcode-contextobject-options); the flag is set only
 * while one such context picks it up, so cells see no `gc` they did not ask for.
 */
import * as v8 from 'v8';
import * as vm from 'vm';

let gc: (() => void) | undefined;

/** Runs V8's full garbage collection: the global `gc` under `node --expose-gc`, else one from a fresh context. */
export function collectGarbage(): void {
  if (!gc) {
    const global = (globalThis as { gc?: () => void }).gc;
    if (typeof global === 'function') gc = global;
    else {
      v8.setFlagsFromString('--expose-gc');
      try {
        gc = vm.runInNewContext('gc') as () => void;
      } finally {
        v8.setFlagsFromString('--no-expose-gc');
      }
    }
  }
  gc();
}
