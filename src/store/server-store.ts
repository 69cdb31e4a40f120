import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import { StoreClosedError, StoreConnectionError, StoreError, StoreQueryError, StoreTimeoutError } from './errors.ts';
import { parseRows } from './parse-rows.ts';
import { parseServerVersion } from './server-version.ts';
import { sqlIdentifier, sqlString } from './sql-literal.ts';
import type { Store } from './store.ts';
import { wellFormedRows } from './well-formed.ts';

export interface ServerStoreOptions {
  /** HTTP interface, e.g. `http://127.0.0.1:8123`. */
  url: string;
  username?: string;
  password?: string;
  /** Must be a plain identifier; it is created by `ensureDatabase()` (migrate). */
  database: string;
  /** Deadline per request (ms); default 30 s. */
  requestTimeoutMs?: number;
}

/** Socket-level failures where the same request can succeed later. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);
const UNKNOWN_DATABASE = 81;
/**
 * A row key that names no column is an error, not silently dropped: current servers (26.x, like
 * chdb's engine) default to skipping unknown fields, 18.16 does not; skipping would turn a
 * mapper/migration mismatch into rows of defaults. The embedded store sets the same, so both agree.
 */
const STRICT_INSERT = { input_format_skip_unknown_fields: 0 } as const;
const countRow = z.object({ n: z.coerce.number() });
const versionRow = z.object({ v: z.string() });

/**
 * A Store over a ClickHouse server's HTTP interface (@clickhouse/client; works with 18.16 for
 * command, JSONEachRow insert and JSONEachRow select — no query parameters there, see sql-literal.ts).
 *
 * Two HTTP clients: one bound to `database`, one unbound for `SELECT version()` and `CREATE
 * DATABASE`. Until the database exists every request goes through the unbound one, so
 * unqualified names resolve to the server's `default` database, as with clickhouse-client.
 */
export async function createServerStore(options: ServerStoreOptions): Promise<Store> {
  const database = sqlIdentifier(options.database);
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const base = {
    url: options.url,
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
    // Our own deadline fires first (see `run`), so a timeout is recognised by the flag we set.
    request_timeout: timeoutMs + 5_000,
    // Failures surface as typed StoreErrors; the client's own ERROR logging would double them.
    log: { level: ClickHouseLogLevel.OFF },
  };
  const unbound = createClient(base);
  const bound = createClient({ ...base, database });
  let closed = false;
  let haveDatabase = false;

  async function run<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (closed) throw new StoreClosedError();
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    try {
      return await fn(controller.signal);
    } catch (err) {
      throw classify(err, what, timedOut ? timeoutMs : undefined);
    } finally {
      clearTimeout(timer);
    }
  }

  const databaseExists = async (): Promise<boolean> => {
    const sql = `SELECT count() AS n FROM system.databases WHERE name = ${sqlString(database)}`;
    const rows = await run('check database', async (abort_signal) => {
      const result = await unbound.query({ query: sql, format: 'JSONEachRow', abort_signal });
      return parseRows(await result.json<unknown>(), countRow);
    });
    return (rows[0]?.n ?? 0) > 0;
  };

  /** Runs `fn` on the bound client once the database exists; re-checks if it was dropped meanwhile. */
  async function withClient<T>(what: string, fn: (client: ClickHouseClient, signal: AbortSignal) => Promise<T>): Promise<T> {
    if (!haveDatabase) haveDatabase = await databaseExists();
    try {
      return await run(what, (signal) => fn(haveDatabase ? bound : unbound, signal));
    } catch (err) {
      if (!(haveDatabase && err instanceof StoreQueryError && err.clickhouseCode === UNKNOWN_DATABASE)) throw err;
      haveDatabase = false;
      return run(what, (signal) => fn(unbound, signal));
    }
  }

  const versionRows = await run('SELECT version()', async (abort_signal) => {
    const result = await unbound.query({ query: 'SELECT version() AS v', format: 'JSONEachRow', abort_signal });
    return parseRows(await result.json<unknown>(), versionRow);
  }).catch(async (err: unknown) => {
    await Promise.allSettled([unbound.close(), bound.close()]);
    throw err;
  });
  const version = parseServerVersion(versionRows[0]?.v ?? '');

  return {
    kind: 'server',
    version,
    database,
    async ensureDatabase() {
      await run('create database', (abort_signal) => unbound.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}`, abort_signal }));
      haveDatabase = true;
    },
    async exec(sql) {
      await withClient('exec', (client, abort_signal) => client.command({ query: sql, abort_signal }));
    },
    async insert(table, rows) {
      if (rows.length === 0) return;
      const target = `${database}.${sqlIdentifier(table)}`;
      await withClient(`insert into ${table}`, (client, abort_signal) =>
        client.insert({ table: target, values: wellFormedRows(rows) as Record<string, unknown>[], format: 'JSONEachRow', abort_signal, clickhouse_settings: STRICT_INSERT }),
      );
    },
    async query<T>(sql: string, schema: z.ZodType<T>): Promise<T[]> {
      const rows = await withClient('query', async (client, abort_signal) => {
        const result = await client.query({ query: sql, format: 'JSONEachRow', abort_signal });
        return result.json<unknown>();
      });
      return parseRows(rows, schema);
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([unbound.close(), bound.close()]);
    },
  };
}

/**
 * Maps a client failure to a StoreError. The server's exception code is structured data: the
 * client parses it on new servers (ClickHouseError.code); 18.16's HTTP error body has no
 * `(TYPE)` suffix the client recognises, so it is read from the body's leading `Code: N`.
 */
function classify(err: unknown, what: string, timedOutAfterMs: number | undefined): StoreError {
  if (err instanceof StoreError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (timedOutAfterMs !== undefined) return new StoreTimeoutError(`${what}: no answer from ClickHouse within ${timedOutAfterMs} ms`, err);
  const nodeCode = (err as { code?: unknown } | null)?.code;
  if (typeof nodeCode === 'string' && NETWORK_CODES.has(nodeCode)) {
    return new StoreConnectionError(`${what}: cannot reach ClickHouse (${nodeCode}): ${message}`, err);
  }
  const serverCode = typeof nodeCode === 'string' && /^\d+$/.test(nodeCode) ? Number(nodeCode) : leadingCode(message);
  if (serverCode !== undefined) return new StoreQueryError(`${what}: ${message.trim()}`, serverCode, err);
  return new StoreError(`${what}: ${message}`, { retriable: false, cause: err });
}

function leadingCode(message: string): number | undefined {
  const match = /^\s*Code: (\d+)[,.]/.exec(message);
  return match ? Number(match[1]) : undefined;
}
