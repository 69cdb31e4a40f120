import { drainPending, Session } from 'chdb';
import { z } from 'zod';
import { StoreClosedError, StoreConnectionError, StoreError, StoreQueryError, StoreTimeoutError } from './errors.ts';
import { parseRows } from './parse-rows.ts';
import { parseServerVersion } from './server-version.ts';
import { sqlIdentifier, sqlString } from './sql-literal.ts';
import type { Store } from './store.ts';
import { wellFormedRows } from './well-formed.ts';

export interface EmbeddedStoreOptions {
  /** Data folder (kept across runs). Absent or `':memory:'`: a temporary folder removed on close. */
  path?: string;
  database: string;
  /** Deadline per statement (ms); default 5 minutes. chdb rejects early but finishes the work. */
  requestTimeoutMs?: number;
}

/**
 * Makes chdb answer in the server's JSON shapes: 64-bit integers as strings (the server default,
 * chdb's default is bare numbers). Row schemas coerce either way; this keeps both stores identical.
 * Inserts reject a row key that names no column (26.x would drop it silently; see server-store.ts).
 */
const CONNECTION_ARGS = ['--output_format_json_quote_64bit_integers=1', '--input_format_skip_unknown_fields=0'] as const;
const UNKNOWN_DATABASE = 81;
const countRow = z.object({ n: z.coerce.number() });
const versionRow = z.object({ v: z.string() });

/**
 * A Store over chdb (ClickHouse in process) with a persistent folder: the embedded mode when no
 * server is configured. libchdb binds one data folder per process, so open one embedded store at a
 * time; close() waits until the engine has really let go (drainPending) so the next one can open.
 * Statements run one at a time: `USE` state is per connection and chdb streams are single-flight.
 */
export async function createEmbeddedStore(options: EmbeddedStoreOptions): Promise<Store> {
  const database = sqlIdentifier(options.database);
  const timeout = options.requestTimeoutMs ?? 5 * 60_000;
  const temporary = options.path === undefined || options.path === ':memory:';
  let session: Session;
  try {
    session = new Session(temporary ? undefined : options.path, { connectionArgs: CONNECTION_ARGS });
  } catch (err) {
    throw classify(err, 'open chdb session');
  }
  let tail: Promise<unknown> = Promise.resolve();
  let closed = false;
  let usingDatabase = false;

  /** Serialises statements on the one connection. */
  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = tail.then(fn, fn);
    tail = next.catch(() => undefined);
    return next;
  }

  async function raw(sql: string, what: string): Promise<string> {
    if (closed) throw new StoreClosedError();
    try {
      return (await session.queryAsync(sql, { format: 'JSONEachRow', timeout })).text();
    } catch (err) {
      throw classify(err, what);
    }
  }

  const rowsOf = (text: string): unknown[] =>
    text
      .split('\n')
      .filter((line) => line !== '')
      .map((line): unknown => JSON.parse(line));

  /** Binds the connection to `database` once it exists (another process may create it later). */
  async function bind(): Promise<void> {
    if (usingDatabase) return;
    const sql = `SELECT count() AS n FROM system.databases WHERE name = ${sqlString(database)}`;
    const [row] = parseRows(rowsOf(await raw(sql, 'check database')), countRow);
    if ((row?.n ?? 0) === 0) return;
    await raw(`USE ${database}`, 'use database');
    usingDatabase = true;
  }

  /** Runs a statement in `database`; if it was dropped meanwhile, falls back to `default` once. */
  function inDatabase(sql: string, what: string): Promise<string> {
    return serial(async () => {
      await bind();
      try {
        return await raw(sql, what);
      } catch (err) {
        if (!(usingDatabase && err instanceof StoreQueryError && err.clickhouseCode === UNKNOWN_DATABASE)) throw err;
        usingDatabase = false;
        await raw('USE default', 'use default');
        return raw(sql, what);
      }
    });
  }

  let versionText = '';
  try {
    const [row] = parseRows(rowsOf(await raw('SELECT version() AS v', 'SELECT version()')), versionRow);
    versionText = row?.v ?? '';
  } catch (err) {
    session.close();
    await drainPending();
    throw err;
  }

  return {
    kind: 'embedded',
    version: parseServerVersion(versionText),
    database,
    async ensureDatabase() {
      await serial(async () => {
        await raw(`CREATE DATABASE IF NOT EXISTS ${database}`, 'create database');
        await bind();
      });
    },
    async exec(sql) {
      await inDatabase(sql, 'exec');
    },
    async insert(table, rows) {
      if (rows.length === 0) return;
      const target = `${database}.${sqlIdentifier(table)}`;
      // The same JSONEachRow payload the HTTP client sends (lone surrogates replaced, well-formed.ts).
      const payload = wellFormedRows(rows).map((row) => JSON.stringify(row)).join('\n');
      await serial(async () => {
        if (closed) throw new StoreClosedError();
        try {
          await session.insert({ table: target, values: payload, format: 'JSONEachRow', timeout });
        } catch (err) {
          throw classify(err, `insert into ${table}`);
        }
      });
    },
    async query<T>(sql: string, schema: z.ZodType<T>): Promise<T[]> {
      return parseRows(rowsOf(await inDatabase(sql, 'query')), schema);
    },
    async close() {
      if (closed) return;
      await serial(async () => {
        closed = true;
        session.close();
        await drainPending();
      });
    },
  };
}

/** Maps chdb's typed errors (stable `.code`, ClickHouse `.clickhouseCode`) to StoreErrors. */
function classify(err: unknown, what: string): StoreError {
  if (err instanceof StoreError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const { code, clickhouseCode } = (err ?? {}) as { code?: unknown; clickhouseCode?: unknown };
  switch (code) {
    case 'CHDB_TIMEOUT':
      return new StoreTimeoutError(`${what}: ${message}`, err);
    case 'CHDB_CONNECTION':
      return new StoreConnectionError(`${what}: ${message}`, err);
    case 'CHDB_CLOSED':
      return new StoreClosedError();
    default:
      return new StoreQueryError(`${what}: ${message}`, typeof clickhouseCode === 'number' ? clickhouseCode : undefined, err);
  }
}
