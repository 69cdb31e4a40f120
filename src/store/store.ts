import type { z } from 'zod';
import type { ServerVersion } from './server-version.ts';

export { supports, parseServerVersion, FEATURE_MIN_VERSIONS } from './server-version.ts';
export type { ServerVersion, StoreFeature } from './server-version.ts';

/**
 * The ClickHouse port: a real server over HTTP (`createServerStore`) or chdb in process
 * (`createEmbeddedStore`). Both speak the same SQL and return the same JSON shapes, so the
 * migrations, the analyst queries and their tests run unchanged on either.
 *
 * Errors are `StoreError`s (errors.ts) whose `retriable` flag says whether trying again can help.
 */
export interface Store {
  readonly kind: 'server' | 'embedded';
  readonly version: ServerVersion;
  /** The database every unqualified table name resolves to. */
  readonly database: string;
  /** Creates `database` when missing and binds to it (migrate calls this first). */
  ensureDatabase(): Promise<void>;
  /** Runs one statement (DDL, OPTIMIZE, …) and discards any output. */
  exec(sql: string): Promise<void>;
  /**
   * Inserts rows as JSONEachRow into `table` (in `database`); keys are column names, and a key that
   * names no column is an error. Lone UTF-16 surrogates in strings are stored as U+FFFD (well-formed.ts).
   */
  insert(table: string, rows: readonly Record<string, unknown>[]): Promise<void>;
  /**
   * Runs a SELECT and validates every row with `schema`. 64-bit integers arrive as JSON
   * strings, so row schemas use `z.coerce.number()` for them. A row that does not match throws
   * a `StoreRowError` naming its index.
   */
  query<T>(sql: string, schema: z.ZodType<T>): Promise<T[]>;
  close(): Promise<void>;
}
