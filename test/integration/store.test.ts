import fc from 'fast-check';
import { cp, mkdtemp, readdir, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { spanEventSchema } from '../../src/contracts/span.ts';
import { StoreClosedError, StoreConnectionError, StoreQueryError, StoreRowError } from '../../src/store/errors.ts';
import { migrate, MIGRATIONS_DIR, MigrationChangedError } from '../../src/store/migrate.ts';
import { openStore } from '../../src/store/open-store.ts';
import { dlqToRow, spanToRow } from '../../src/store/rows.ts';
import { supports } from '../../src/store/server-version.ts';
import { sqlString } from '../../src/store/sql-literal.ts';
import type { Store } from '../../src/store/store.ts';
import { clickhouseUrl, uniqueName } from '../support/services.ts';
import { storeEngines } from '../support/store-engines.ts';
import {
  dateTimeOf,
  expectedQueryResults,
  expectedRuns,
  seedCommandRows,
  seedDlq,
  seedDlqRows,
  seedFindingRows,
  seedSpanRows,
  T0,
} from '../support/store-seed.ts';

const QUERIES_DIR = fileURLToPath(new URL('../../sql/queries/', import.meta.url));
const MIGRATIONS = ['001_spans', '002_findings', '003_control_commands', '004_dlq_events', '005_runs', '006_cohort_minute'];
const TABLES = ['cohort_minute', 'control_commands', 'dlq_events', 'findings', 'runs', 'schema_migrations', 'spans'];

/** Any row; values are checked against hand-written expectations below. */
const anyRow = z.record(z.string(), z.unknown());
type Row = z.infer<typeof anyRow>;

const engines = storeEngines('rw_store');

/** The analyst queries, by file name without `.sql`. */
async function analystQueries(): Promise<Map<string, string>> {
  const files = (await readdir(QUERIES_DIR)).filter((f) => f.endsWith('.sql')).sort();
  return new Map(await Promise.all(files.map(async (f) => [f.replace(/\.sql$/, ''), await readFile(join(QUERIES_DIR, f), 'utf8')] as const)));
}

/**
 * `actual` made comparable with a hand-written `expected`: where a number is expected, ClickHouse's
 * 64-bit integers (JSON strings) become numbers and fractions are compared to 9 decimals (sums of
 * floats such as a mean of 0.8 and 0.4 print as 0.6000000000000001).
 */
function comparable(actual: unknown, expected: unknown): { actual: unknown; expected: unknown } {
  if (typeof expected === 'number') {
    const n = typeof actual === 'string' && /^-?\d+$/.test(actual) ? Number(actual) : actual;
    return { actual: n, expected: Number.isInteger(expected) ? expected : expect.closeTo(expected, 9) };
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    const pairs = expected.map((e, i) => comparable(actual[i], e));
    return { actual: [...pairs.map((p) => p.actual), ...actual.slice(expected.length)], expected: pairs.map((p) => p.expected) };
  }
  if (expected !== null && typeof expected === 'object' && actual !== null && typeof actual === 'object' && !Array.isArray(actual)) {
    const a = actual as Row;
    const e = expected as Row;
    const keys = new Set([...Object.keys(a), ...Object.keys(e)]);
    const pairs = [...keys].map((k) => [k, comparable(a[k], e[k])] as const);
    return { actual: Object.fromEntries(pairs.map(([k, p]) => [k, p.actual])), expected: Object.fromEntries(pairs.map(([k, p]) => [k, p.expected])) };
  }
  return { actual, expected };
}

function expectValues(actual: unknown, expected: unknown): void {
  const c = comparable(actual, expected);
  expect(c.actual).toEqual(c.expected);
}

async function seed(store: Store): Promise<void> {
  await store.insert('spans', seedSpanRows());
  await store.insert('findings', seedFindingRows());
  await store.insert('control_commands', seedCommandRows());
  await store.insert('dlq_events', seedDlqRows());
}

/** Every rollup an analyst can read: the runs and cohort_minute views and every analyst query. */
async function rollups(store: Store): Promise<Record<string, Row[]>> {
  const out: Record<string, Row[]> = {
    runs: await store.query('SELECT * FROM runs ORDER BY run_id', anyRow),
    cohort_minute: await store.query(
      'SELECT * FROM cohort_minute ORDER BY minute_ms, agent_id, tenant_id, user_id, model, model_version, prompt_hash',
      anyRow,
    ),
  };
  for (const [name, sql] of await analystQueries()) out[name] = await store.query(sql, anyRow);
  return out;
}

const count = async (store: Store, sql: string): Promise<number> => {
  const [row] = await store.query(sql, z.object({ n: z.coerce.number() }));
  return row?.n ?? Number.NaN;
};

describe.each(engines)('store ($name)', ({ open }) => {
  let store: Store;
  let dispose: () => Promise<void>;

  beforeEach(async () => {
    ({ store, dispose } = await open());
  });

  afterEach(async () => {
    await dispose();
  });

  const schemaSnapshot = async () => ({
    tables: await store.query(
      `SELECT name, engine, create_table_query FROM system.tables WHERE database = ${sqlString(store.database)} ORDER BY name`,
      anyRow,
    ),
    columns: await store.query(
      `SELECT table, name, type, default_kind, default_expression FROM system.columns WHERE database = ${sqlString(store.database)} ORDER BY table, name`,
      anyRow,
    ),
  });

  it('migrate creates every table and view for the server version, and a second run changes nothing', async () => {
    expect(await migrate(store, { now: () => 1 })).toEqual({ applied: MIGRATIONS, skipped: [] });
    const first = await schemaSnapshot();
    expect(first.tables.map((t) => t.name)).toEqual(TABLES);

    // Version gating (render-sql.ts): LowCardinality and TTL only where the server has them.
    const types = new Map(first.columns.filter((c) => c['table'] === 'spans').map((c) => [c['name'], c['type']]));
    expect(types.get('kind')).toBe(supports(store.version, 'lowcardinality') ? 'LowCardinality(String)' : 'String');
    expect(types.get('user_id')).toBe('String');
    const createSpans = String(first.tables.find((t) => t.name === 'spans')?.['create_table_query']);
    expect(createSpans.includes('TTL')).toBe(supports(store.version, 'ttl'));
    if (store.kind === 'embedded') expect(supports(store.version, 'ttl')).toBe(true);

    expect(await migrate(store)).toEqual({ applied: [], skipped: MIGRATIONS });
    expect(await schemaSnapshot()).toEqual(first);
    expect(await count(store, 'SELECT count() AS n FROM schema_migrations')).toBe(MIGRATIONS.length);
  });

  it('migrate applies only a new migration and refuses one edited after it was applied', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rw-migrations-'));
    try {
      await cp(MIGRATIONS_DIR, dir, { recursive: true });
      await migrate(store, { dir });
      await writeFile(join(dir, '007_extra.sql'), '-- a later migration;\nCREATE TABLE IF NOT EXISTS extra (x UInt8) ENGINE = MergeTree ORDER BY x;\n');
      expect(await migrate(store, { dir })).toEqual({ applied: ['007_extra'], skipped: MIGRATIONS });
      await appendFile(join(dir, '002_findings.sql'), '\n-- edited after the fact\n');
      await expect(migrate(store, { dir })).rejects.toBeInstanceOf(MigrationChangedError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rows from the row mappers read back column for column', async () => {
    await migrate(store);
    await seed(store);
    const tables = [
      ['spans', seedSpanRows(), 'event_id'],
      ['findings', seedFindingRows(), 'finding_id'],
      ['control_commands', seedCommandRows(), 'command_id'],
      ['dlq_events', seedDlqRows(), 'kafka_offset'],
    ] as const;
    for (const [table, rows, key] of tables) {
      // SELECT * leaves out MATERIALIZED columns: what remains is exactly what the mappers write.
      const back = await store.query(`SELECT * FROM ${table} ORDER BY ${key}`, anyRow);
      const sorted = [...rows].sort((a, b) => {
        const x: unknown = (a as Row)[key];
        const y: unknown = (b as Row)[key];
        return typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      });
      expect(back.map((r) => Object.keys(r).sort())).toEqual(sorted.map((r) => Object.keys(r).sort()));
      expectValues(back, sorted);
    }

    // The original DLQ bytes, including ones that are not UTF-8, survive base64 in a String column.
    const dlq = await store.query('SELECT kafka_offset, value_base64 FROM dlq_events WHERE kafka_offset = 102', anyRow);
    expect(Buffer.from(String(dlq[0]?.['value_base64']), 'base64')).toEqual(Buffer.from(seedDlq[4]?.value as Uint8Array));

    // MATERIALIZED columns: DateTime from ts_ms, and the exact integer forms of cost and score.
    const materialized = await store.query(
      "SELECT event_id, ts, cost_nusd, judge_score_micro FROM spans WHERE event_id IN ('r1-e02', 'r1-e03', 'r1-e07') ORDER BY event_id",
      anyRow,
    );
    expectValues(materialized, [
      { event_id: 'r1-e02', ts: dateTimeOf(T0 + 1_000), cost_nusd: 10_000_000, judge_score_micro: 0 },
      { event_id: 'r1-e03', ts: dateTimeOf(T0 + 2_000), cost_nusd: 20_000_000, judge_score_micro: 0 },
      { event_id: 'r1-e07', ts: dateTimeOf(T0 + 6_000), cost_nusd: 0, judge_score_micro: 800_000 },
    ]);
  });

  it('the runs view and every analyst query return the values worked out by hand', async () => {
    await migrate(store);
    await seed(store);
    expectValues(await store.query('SELECT * FROM runs ORDER BY run_id', anyRow), expectedRuns);

    const queries = await analystQueries();
    // A new query needs its hand-computed expectation in test/support/store-seed.ts.
    expect([...queries.keys()]).toEqual(Object.keys(expectedQueryResults).sort());
    for (const [name, sql] of queries) {
      const rows = await store.query(sql, anyRow);
      expectValues({ [name]: rows.map((r) => Object.values(r)) }, { [name]: expectedQueryResults[name] });
    }
  });

  it('replaying the same input, or resuming after a crash mid-batch, leaves every rollup as one clean pass did', async () => {
    await migrate(store);
    await seed(store);
    const clean = await rollups(store);
    const unique = seedSpanRows().length;

    // Crash mid-batch: the first half was written, offsets were not committed; on restart the
    // whole batch is consumed again (a later wall clock), then a full replay of the topic, in reverse.
    const replayed = seedSpanRows(T0 + 7_200_000);
    await store.insert('spans', replayed.slice(0, Math.floor(unique / 2)));
    await store.insert('spans', replayed);
    await store.insert('spans', [...replayed].reverse());
    await store.insert('control_commands', seedCommandRows());
    await store.insert('findings', seedFindingRows());
    await store.insert('dlq_events', seedDlqRows(5_000));
    // The duplicates are really stored (separate parts), so the views must collapse them.
    expect(await count(store, 'SELECT count() AS n FROM spans')).toBeGreaterThan(unique);
    expect(await rollups(store)).toEqual(clean);

    // After merges have collapsed the duplicates for good, still the same.
    for (const table of ['spans', 'control_commands', 'findings', 'dlq_events']) await store.exec(`OPTIMIZE TABLE ${table} FINAL`);
    expect(await count(store, 'SELECT count() AS n FROM spans')).toBe(unique);
    expect(await rollups(store)).toEqual(clean);
  });

  it('classifies failures: ClickHouse errors by code and retriability, bad rows by index', async () => {
    await migrate(store);
    const failure = (p: Promise<unknown>) => p.then(() => 'no error', (err: unknown) => err);
    expect(await failure(store.exec('SELEC 1'))).toMatchObject({ constructor: StoreQueryError, clickhouseCode: 62, retriable: false });
    expect(await failure(store.query('SELECT * FROM no_such_table', anyRow))).toMatchObject({
      constructor: StoreQueryError,
      clickhouseCode: 60,
      retriable: false,
    });
    expect(await failure(store.insert('spans', [{ no_such_column: 1 }]))).toMatchObject({ constructor: StoreQueryError, retriable: false });
    // A row key that names no column is refused on every version (23.x+ would drop it silently).
    expect(await failure(store.insert('spans', [{ ...seedSpanRows()[0], run_idd: 'typo' }]))).toMatchObject({
      constructor: StoreQueryError,
      retriable: false,
    });
    const badRow = await failure(store.query("SELECT arrayJoin(['1', 'x']) AS n", z.object({ n: z.coerce.number().int() })));
    expect(badRow).toMatchObject({ constructor: StoreRowError, rowIndex: 1, retriable: false });
    // The store stays usable after each failure.
    expect(await count(store, 'SELECT count() AS n FROM spans')).toBe(0);
  });

  it('a valid event with a lone surrogate is stored with U+FFFD instead of failing its whole batch', async () => {
    await migrate(store);
    // JSON can carry "\ud800" and the span schema accepts it; it has no UTF-8 form.
    const event = spanEventSchema.parse({
      schema: 'runwarden.span/v1',
      event_id: 'lone\uD800',
      ts: T0,
      run_id: 'r-lone',
      span_id: 's',
      agent_id: 'a',
      tenant_id: 't',
      user_id: 'u\uDC00',
      kind: 'run_end',
      status: 'ok',
      attrs: { ['k\uD83D']: 'v😀\uD83D' },
    });
    const dlq = dlqToRow({ tsMs: T0, reason: 'schema_violation', message: `${'m'.repeat(1_999)}😀`, topic: 'agent.spans', partition: 0, offset: 9, value: null });
    await store.insert('spans', [...seedSpanRows(), spanToRow(event, { partition: 0, offset: 99, ingestedAtMs: T0 })]);
    await store.insert('dlq_events', [dlq]);
    const [row] = await store.query("SELECT event_id, user_id, attr_keys, attr_values FROM spans WHERE run_id = 'r-lone'", anyRow);
    expect(row).toEqual({ event_id: 'lone\uFFFD', user_id: 'u\uFFFD', attr_keys: ['k\uFFFD'], attr_values: ['v😀\uFFFD'] });
    expect(await count(store, 'SELECT count() AS n FROM spans')).toBe(seedSpanRows().length + 1);
    expect(await count(store, 'SELECT length(message) AS n FROM dlq_events')).toBe(1_999);
  });

  it('sqlString: any string comes back from ClickHouse exactly as it went in', async () => {
    const special = fc.constantFrom("'", '\\', '\0', '\n', '\r', '\t', '\b', '\f', '\x01', '\x1f', '\x7f', '"', '`', '?', '{', '}', '😀', 'é', '\u2028', '\\x41', "\\'");
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.array(special, { maxLength: 16 }).map((parts) => parts.join('')));
    const value = z.object({ v: z.string(), bytes: z.coerce.number() });
    await fc.assert(
      fc.asyncProperty(text, async (s) => {
        const rows = await store.query(`SELECT ${sqlString(s)} AS v, length(${sqlString(s)}) AS bytes`, value);
        expect(rows).toEqual([{ v: s, bytes: Buffer.byteLength(s, 'utf8') }]);
      }),
      { numRuns: 50 },
    );
  });

  it.each([
    "r1' OR 1 = 1 --",
    "r1\\' OR 1 = 1 --",
    "x'; DROP TABLE spans; --",
    "x\0' OR '1' = '1",
    "x\n' UNION ALL SELECT count() FROM system.tables --",
  ])('a user value %j in a WHERE clause matches itself only', async (attack) => {
    await migrate(store);
    const rows = seedSpanRows();
    const victim = { ...rows[0]!, event_id: 'attack', run_id: attack };
    await store.insert('spans', [...rows, victim]);
    expect(await count(store, `SELECT count() AS n FROM spans WHERE run_id = ${sqlString(attack)}`)).toBe(1);
    expect(await count(store, `SELECT count() AS n FROM spans WHERE run_id = ${sqlString(`${attack} `)}`)).toBe(0);
    expect(await count(store, 'SELECT count() AS n FROM spans')).toBe(rows.length + 1);
  });
});

describe('openStore', () => {
  it('opens the server store when a URL is configured; a closed store refuses every call', async () => {
    const store = await openStore({ url: clickhouseUrl(), database: uniqueName('rw_open') });
    expect(store.kind).toBe('server');
    expect(await count(store, 'SELECT 1 AS n')).toBe(1);
    await store.close();
    await store.close(); // idempotent
    await expect(store.query('SELECT 1 AS n', anyRow)).rejects.toBeInstanceOf(StoreClosedError);
    await expect(store.exec('SELECT 1')).rejects.toBeInstanceOf(StoreClosedError);
    await expect(store.insert('spans', [{ a: 1 }])).rejects.toBeInstanceOf(StoreClosedError);
  });

  it.each([
    ['no URL', {}],
    ['an empty URL', { url: '' }],
  ])('opens the embedded store with %s, in a temporary folder', async (_name, options) => {
    const store = await openStore({ ...options, database: uniqueName('rw_open') });
    try {
      expect(store.kind).toBe('embedded');
      await store.ensureDatabase();
      await store.exec('CREATE TABLE t (x UInt64) ENGINE = MergeTree ORDER BY x');
      await store.insert('t', [{ x: 1 }, { x: 2 }]);
      expect(await count(store, 'SELECT sum(x) AS n FROM t')).toBe(3);
    } finally {
      await store.close();
    }
    await expect(store.query('SELECT 1 AS n', anyRow)).rejects.toBeInstanceOf(StoreClosedError);
  });

  it('a server that cannot be reached is a retriable connection error', async () => {
    const err = await openStore({ url: 'http://127.0.0.1:1', database: 'x' }).then(
      () => 'opened',
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreConnectionError);
    expect(err).toMatchObject({ retriable: true });
  });
});
