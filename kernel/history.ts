/**
 * The history of this kernel process's cells, for history_request
 * (tail, range, search), kept in memory: a restarted kernel starts empty.
 * Entries are [session, line, input] or, with `output`, [session, line,
 * [input, output text or null]], as IPython answers.
 */

/** Every kernel process is one history session; IPython numbers them from 1. */
export const HISTORY_SESSION = 1;

interface Entry {
  line: number;
  input: string;
  output: string | null;
}

export interface HistoryRequest {
  output?: boolean;
  raw?: boolean;
  hist_access_type?: 'range' | 'tail' | 'search';
  session?: number;
  start?: number;
  stop?: number;
  n?: number | null;
  pattern?: string;
  unique?: boolean;
}

export type HistoryEntry = [number, number, string | [string, string | null]];

/** IPython's glob patterns: `*` any text, `?` one character, matched against the whole input. */
function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '[\\s\\S]*')
    .replace(/\?/g, '[\\s\\S]');
  return new RegExp(`^${body}$`);
}

export class History {
  private readonly entries: Entry[] = [];

  add(line: number, input: string): void {
    this.entries.push({ line, input, output: null });
  }

  /** Records the text of the Out[line] value. */
  setOutput(line: number, output: string): void {
    const entry = this.entries.find((e) => e.line === line);
    if (entry) entry.output = output;
  }

  query(request: HistoryRequest): HistoryEntry[] {
    const shape = (e: Entry): HistoryEntry =>
      request.output ? [HISTORY_SESSION, e.line, [e.input, e.output]] : [HISTORY_SESSION, e.line, e.input];
    switch (request.hist_access_type) {
      case 'tail': {
        const n = request.n ?? 10;
        return this.entries.slice(Math.max(0, this.entries.length - n)).map(shape);
      }
      case 'range': {
        // Only this process's session exists; session 0 and negative sessions count back from it.
        const session = request.session ?? 0;
        if (session > 0 && session !== HISTORY_SESSION) return [];
        if (session < 0) return [];
        const start = request.start ?? 0;
        const stop = request.stop ?? Number.POSITIVE_INFINITY;
        return this.entries.filter((e) => e.line >= start && e.line < stop).map(shape);
      }
      case 'search': {
        const matcher = globToRegExp(request.pattern ?? '*');
        let found = this.entries.filter((e) => matcher.test(e.input));
        if (request.unique) {
          const seen = new Set<string>();
          found = found
            .reverse()
            .filter((e) => !seen.has(e.input) && seen.add(e.input))
            .reverse();
        }
        if (request.n != null) found = found.slice(Math.max(0, found.length - request.n));
        return found.map(shape);
      }
      default:
        return [];
    }
  }
}
