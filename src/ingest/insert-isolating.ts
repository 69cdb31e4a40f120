import { retry } from '../util/retry.ts';

/** Where rows go (the Store, or an in-memory double). */
export interface InsertSink {
  insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void>;
}

/** One row the server refused for good, with the server's error. */
export interface RejectedRow {
  /** Index of the row in the rows given to insertIsolating. */
  index: number;
  error: unknown;
}

export interface InsertIsolatingOptions {
  /** First backoff between retries of a retriable failure (ms, default 200); doubles up to maxDelayMs. */
  baseDelayMs?: number;
  /** Longest backoff (ms, default 5,000). */
  maxDelayMs?: number;
  /** Aborts the retries (shutdown): the last error is thrown. */
  signal?: AbortSignal;
  /** Errors worth retrying (default: the error's own `retriable` flag). */
  isRetriable?: (err: unknown) => boolean;
  /** Called before each backoff (logs, counters). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

const ownFlag = (err: unknown): boolean => (err as { retriable?: unknown } | null)?.retriable === true;

/**
 * Inserts `rows` into `table`, retrying retriable failures (server down, timeout, overloaded)
 * with exponential backoff until they succeed or `signal` aborts. A non-retriable failure (the
 * server refused the data) is bisected: each half is inserted on its own, down to single rows,
 * so one bad row costs about 2·log2(n) extra inserts and every other row still lands.
 * Returns the rows refused on their own, with the server's error; throws only when `signal`
 * aborted while a retriable failure was being retried.
 */
export async function insertIsolating(sink: InsertSink, table: string, rows: readonly Record<string, unknown>[], options: InsertIsolatingOptions = {}): Promise<RejectedRow[]> {
  const isRetriable = options.isRetriable ?? ownFlag;
  const rejected: RejectedRow[] = [];
  const attempt = (slice: readonly Record<string, unknown>[]) =>
    retry(() => sink.insert(table, slice), {
      retries: Infinity,
      baseDelayMs: options.baseDelayMs ?? 200,
      maxDelayMs: options.maxDelayMs ?? 5_000,
      isRetriable,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
    });

  async function go(from: number, to: number): Promise<void> {
    if (from >= to) return;
    try {
      await attempt(from === 0 && to === rows.length ? rows : rows.slice(from, to));
    } catch (err) {
      if (isRetriable(err)) throw err; // only when aborted: the caller keeps the rows
      if (to - from === 1) {
        rejected.push({ index: from, error: err });
        return;
      }
      const mid = from + Math.floor((to - from) / 2);
      await go(from, mid);
      await go(mid, to);
    }
  }

  await go(0, rows.length);
  return rejected;
}
