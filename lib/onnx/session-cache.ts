/**
 * ONNX Runtime sessions kept open between calls, so that the second `predict` on a model costs
 * what the engine costs. Opening a session (translating the model, onnxruntime's graph
 * optimisations, its weights copied and pre-packed) takes 0.4-1.3 s for DenseNet121, about as long
 * as running 32 images through it.
 *
 * A session is kept under a key its user chooses (lib/features/prefix-sessions.ts: the frozen
 * prefix's content fingerprint and the provider asked for) and handed out as a lease; it is
 * released, once no lease holds it:
 * - when its user says it is stale (the model that owns it was disposed, a weight changed), checked
 *   at each lookup and by {@link releaseStaleOnnxSessions};
 * - beyond {@link OnnxSessionCacheLimits}: the least recently used go first when more than
 *   `maxSessions` are open or their models take more than `maxModelBytes`;
 * - when the machine's available memory falls under `minAvailableBytes` (before a session is
 *   opened and after each use). A session's memory is onnxruntime's, outside V8's heap and the
 *   wasm backend's 4 GiB, so the machine's available memory (the container's limit where there
 *   is one) is what it competes for; the kernel's heap watchdog and the wasm allocator measure
 *   other memory and would not be relieved by releasing sessions;
 * - after `idleSeconds` unused: a kernel left idle gives the memory back;
 * - when the wasm backend is reset (lib/backends/reset.ts): layers that run on tfjs behind the
 *   ONNX graph lived on the old backend;
 * - on {@link releaseOnnxSessions}.
 */
import * as os from 'os';
import { onBackendReset } from '../backends/reset';
import { ValueError } from '../core/errors';
import type { OnnxSession } from './session';

/** How many sessions were opened, reused and released, and how many are open now (tests, reports). */
export const onnxSessionStats = { opened: 0, reused: 0, released: 0, open: 0 };

/** The bounds of the session cache; see {@link setOnnxSessionCacheLimits}. */
export interface OnnxSessionCacheLimits {
  /** Most sessions kept open. Defaults to 2 (the lesson needs one; fine-tuning adds one). */
  maxSessions: number;
  /**
   * Most bytes of ONNX models kept open (about the weights onnxruntime holds; its working memory
   * comes on top, about as much again for DenseNet121 at batch 8). Defaults to 256 MiB.
   */
  maxModelBytes: number;
  /**
   * Idle sessions are released when less memory than this is available (process.availableMemory,
   * which honours a container's limit, else os.freemem), before a session is opened and after
   * each use. Defaults to 512 MiB.
   */
  minAvailableBytes: number;
  /** Seconds a session may stay unused before it is released; Infinity keeps it. Defaults to 120. */
  idleSeconds: number;
}

const DEFAULT_LIMITS: OnnxSessionCacheLimits = {
  maxSessions: 2,
  maxModelBytes: 256 * 2 ** 20,
  minAvailableBytes: 512 * 2 ** 20,
  idleSeconds: 120,
};

const limits: OnnxSessionCacheLimits = { ...DEFAULT_LIMITS };

/** A session handed out by {@link leaseOnnxSession}: use it, then give it back with `release`. */
export interface OnnxSessionLease {
  readonly session: OnnxSession;
  /** Whether the session was already open (false: opened for this lease). */
  readonly reused: boolean;
  /**
   * Gives the session back: it stays open for the next lease unless it was evicted meanwhile, or
   * `broken` says a run failed in a way that may have left it unusable (it is then released).
   * Idempotent.
   */
  release(options?: { broken?: boolean }): Promise<void>;
}

interface Entry {
  key: string;
  /** Settles once the session is open. */
  opening: Promise<OnnxSession>;
  session?: OnnxSession;
  isStale: () => boolean;
  leases: number;
  lastUsed: number;
  /** Out of the cache: disposed when its last lease comes back. */
  evicted: boolean;
}

/** Open (or opening) sessions by key, least recently used first. */
const entries = new Map<string, Entry>();
let idleTimer: NodeJS.Timeout | undefined;
let listening = false;

/**
 * The session kept under `key`, or a new one from `open()` kept under it. `isStale()` says when a
 * kept session may no longer be used (it is then released and a new one opened). Give the lease
 * back when done; the session stays open for the next caller within the limits.
 */
export async function leaseOnnxSession(
  key: string,
  open: () => Promise<OnnxSession>,
  isStale: () => boolean = () => false,
): Promise<OnnxSessionLease> {
  listenForResets();
  releaseStaleOnnxSessions();
  let entry = entries.get(key);
  let reused = true;
  if (!entry) {
    if (memoryIsShort()) releaseIdle(() => true);
    reused = false;
    entry = { key, opening: open(), isStale, leases: 0, lastUsed: performance.now(), evicted: false };
    entries.set(key, entry);
    try {
      entry.session = await entry.opening;
    } catch (e) {
      if (entries.get(key) === entry) entries.delete(key);
      throw e;
    }
    onnxSessionStats.opened++;
    onnxSessionStats.open++;
  } else {
    // Least recently used first: a lookup moves it to the end.
    entries.delete(key);
    entries.set(key, entry);
    try {
      await entry.opening; // another caller may still be opening it
    } catch {
      return leaseOnnxSession(key, open, isStale); // that caller saw the failure; try once more for this one
    }
    // Released while this caller waited (releaseOnnxSessions from elsewhere): open another.
    if (!entry.session) return leaseOnnxSession(key, open, isStale);
    onnxSessionStats.reused++;
  }
  const held = entry;
  held.leases++;
  held.lastUsed = performance.now();
  // A session opened meanwhile may push the cache over its bounds: the idle ones go.
  enforceLimits();
  // Evicted meanwhile (released while it opened), the session still serves this lease and goes after it.
  let returned = false;
  return {
    session: held.session!,
    reused,
    release: async ({ broken = false } = {}) => {
      if (returned) return;
      returned = true;
      held.leases--;
      held.lastUsed = performance.now();
      if (broken) evict(held);
      if (held.evicted) {
        if (held.leases === 0) await disposeEntry(held);
        return;
      }
      if (memoryIsShort()) releaseIdle(() => true);
      enforceLimits();
      scheduleIdleRelease();
    },
  };
}

/**
 * Releases every kept session (one in use is released when its caller is done). Returns how many
 * were released or marked to be. Use it to give onnxruntime's memory back at once.
 */
export function releaseOnnxSessions(): number {
  return releaseWhere(() => true);
}

/** Releases the sessions whose user says they are stale (their model disposed, a weight changed); returns how many. */
export function releaseStaleOnnxSessions(): number {
  return releaseWhere((entry) => entry.session !== undefined && staleness(entry));
}

/**
 * Changes the cache's bounds (the fields given; the others stay) and applies them now. Returns the
 * bounds in force. `setOnnxSessionCacheLimits({ maxSessions: 0 })` keeps no session beyond its use.
 */
export function setOnnxSessionCacheLimits(changes: Partial<OnnxSessionCacheLimits>): OnnxSessionCacheLimits {
  for (const [name, value] of Object.entries(changes)) {
    if (!(name in DEFAULT_LIMITS)) {
      throw new ValueError(
        `setOnnxSessionCacheLimits: unknown limit ${JSON.stringify(name)}; the limits are ${Object.keys(DEFAULT_LIMITS).join(', ')}.`,
      );
    }
    const ok = typeof value === 'number' && value >= 0 && (Number.isInteger(value) || value === Infinity || name === 'idleSeconds');
    if (!ok) {
      throw new ValueError(
        `setOnnxSessionCacheLimits: ${name} must be a number >= 0 (a whole number, or Infinity). Received ${name}=${JSON.stringify(value)}.`,
      );
    }
  }
  Object.assign(limits, changes);
  if (memoryIsShort()) releaseIdle(() => true);
  enforceLimits();
  scheduleIdleRelease();
  return { ...limits };
}

/** The bounds in force (a copy). */
export function onnxSessionCacheLimits(): OnnxSessionCacheLimits {
  return { ...limits };
}

/** The default bounds, restored (tests). */
export function resetOnnxSessionCacheLimits(): OnnxSessionCacheLimits {
  return setOnnxSessionCacheLimits(DEFAULT_LIMITS);
}

/** Memory available to this process: the container's limit where there is one (Node >= 20.13), else the machine's. */
export function availableMemoryBytes(): number {
  const available = (process as { availableMemory?: () => number }).availableMemory;
  return typeof available === 'function' ? available.call(process) : os.freemem();
}

function memoryIsShort(): boolean {
  return limits.minAvailableBytes > 0 && availableMemoryBytes() < limits.minAvailableBytes;
}

function staleness(entry: Entry): boolean {
  try {
    return entry.isStale();
  } catch {
    return true; // a check that cannot run (its model half disposed) means the session cannot be trusted
  }
}

/** Takes the matching sessions out of the cache: idle ones are released now, those in use when given back. */
function releaseWhere(matches: (entry: Entry) => boolean): number {
  let count = 0;
  for (const entry of [...entries.values()]) {
    if (!matches(entry)) continue;
    count++;
    evict(entry);
  }
  if (count > 0) scheduleIdleRelease();
  return count;
}

function releaseIdle(matches: (entry: Entry) => boolean): number {
  return releaseWhere((entry) => entry.leases === 0 && entry.session !== undefined && matches(entry));
}

function evict(entry: Entry): void {
  if (entries.get(entry.key) === entry) entries.delete(entry.key);
  if (entry.evicted) return;
  entry.evicted = true;
  if (entry.leases === 0) void disposeEntry(entry);
  else if (!entry.session) {
    // Still opening: released as soon as it opens, unless a lease holds it by then.
    entry.opening.then(
      () => (entry.leases === 0 ? disposeEntry(entry) : undefined),
      () => undefined,
    );
  }
}

async function disposeEntry(entry: Entry): Promise<void> {
  const session = entry.session;
  if (!session) return;
  entry.session = undefined;
  onnxSessionStats.released++;
  onnxSessionStats.open--;
  try {
    await session.dispose();
  } catch {
    // A session that cannot be released (its runtime gone) has nothing left to free.
  }
}

/** Least recently used idle sessions out until the count and bytes are within bounds. */
function enforceLimits(): void {
  const open = () => [...entries.values()].filter((e) => e.session !== undefined);
  const bytes = () => open().reduce((sum, e) => sum + (e.session?.modelBytes ?? 0), 0);
  for (const entry of open()) {
    if (open().length <= limits.maxSessions && bytes() <= limits.maxModelBytes) break;
    if (entry.leases === 0) evict(entry);
  }
}

/** One timer, for the session idle longest; unref'd, so it never keeps the process alive. */
function scheduleIdleRelease(): void {
  if (idleTimer) clearTimeout(idleTimer);
  idleTimer = undefined;
  if (!Number.isFinite(limits.idleSeconds)) return;
  const idle = [...entries.values()].filter((e) => e.leases === 0 && e.session !== undefined);
  if (idle.length === 0) return;
  const due = Math.min(...idle.map((e) => e.lastUsed)) + limits.idleSeconds * 1000;
  idleTimer = setTimeout(
    () => {
      idleTimer = undefined;
      const now = performance.now();
      releaseIdle((e) => now - e.lastUsed >= limits.idleSeconds * 1000 - 1);
      scheduleIdleRelease();
    },
    Math.max(0, due - performance.now()),
  );
  idleTimer.unref();
}

function listenForResets(): void {
  if (listening) return;
  listening = true;
  onBackendReset(() => {
    releaseOnnxSessions();
  });
}
