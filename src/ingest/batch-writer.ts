import type { Logger } from '../log.ts';
import { insertIsolating } from './insert-isolating.ts';

export interface TableSink {
  insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void>;
}

export interface BatchWriterOptions {
  sink: TableSink;
  logger: Logger;
  /** Flush when this many rows wait (default 1,000)… */
  maxRows?: number;
  /** …or this often (ms, default 1,000). */
  flushIntervalMs?: number;
  /** add() waits for a flush while this many rows are buffered (default 100,000). */
  maxBuffered?: number;
}

export interface BatchWriter {
  /** Buffers rows for `table`; resolves at once unless the buffer is full. */
  add(table: string, rows: readonly Record<string, unknown>[]): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
  buffered(): number;
}

/**
 * A bounded queue of rows flushed on size or interval, off the detection path: detectors hand
 * rows over and go on; only a full buffer makes them wait (backpressure instead of loss).
 */
export function createBatchWriter(options: BatchWriterOptions): BatchWriter {
  const maxRows = options.maxRows ?? 1_000;
  const maxBuffered = options.maxBuffered ?? 100_000;
  const log = options.logger.child({ component: 'batch-writer' });
  let buffers = new Map<string, Record<string, unknown>[]>();
  let count = 0;
  let flushing: Promise<void> = Promise.resolve();
  const closing = new AbortController();
  const timer = setInterval(() => void flush().catch((err: unknown) => log.error({ err }, 'flush failed')), options.flushIntervalMs ?? 1_000);
  timer.unref();

  async function flushOnce(): Promise<void> {
    if (count === 0) return;
    const batch = buffers;
    buffers = new Map();
    const n = count;
    count = 0;
    for (const [table, rows] of batch) {
      // Retriable failures are retried with backoff; a row the server refuses for good is
      // isolated (bisection) and logged, so one bad row neither blocks nor drops its batch.
      const refused = await insertIsolating(options.sink, table, rows, {
        signal: closing.signal,
        onRetry: (err, attempt, delayMs) => {
          if (attempt <= 3 || attempt % 10 === 0) log.warn({ err, table, attempt, delayMs: Math.round(delayMs) }, 'insert failed; retrying');
        },
      });
      for (const { index, error } of refused) log.error({ err: error, table, row: rows[index] }, 'ClickHouse refused a row; dropped');
    }
    log.debug({ rows: n }, 'flushed');
  }

  function flush(): Promise<void> {
    flushing = flushing.then(flushOnce, flushOnce);
    return flushing;
  }

  return {
    async add(table, rows) {
      if (rows.length === 0) return;
      const list = buffers.get(table) ?? [];
      list.push(...rows);
      buffers.set(table, list);
      count += rows.length;
      if (count >= maxBuffered) await flush();
      else if (count >= maxRows) void flush().catch((err: unknown) => log.error({ err }, 'flush failed'));
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
      closing.abort();
    },
    buffered: () => count,
  };
}
