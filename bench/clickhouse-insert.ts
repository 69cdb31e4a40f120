/**
 * ClickHouse inserts (`clickhouse_insert_ratio`): span rows — what the `runs` and `cohort_minute`
 * rollups are computed from — per second through the project's path (src/ingest/batch-writer.ts
 * over the server store, src/store/server-store.ts: well-formed strings, strict JSONEachRow)
 * against @clickhouse/client's bare `insert` of the same rows in the same batches (JSONEachRow,
 * one request per batch the writer sent, one after the other), each into its own copy of the migrated `spans` table of a fresh
 * database, alternating trials in the same run. Rows are built once (spanToRow of the simulated
 * fleet) before the timed sections.
 *
 * `node --import tsx bench/clickhouse-insert.ts [--rows 200000] [--batch 1000] [--trials 3]`
 * (needs CLICKHOUSE_URL). Prints JSON on stdout.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { createBatchWriter } from '../src/ingest/batch-writer.ts';
import { decodeSpan } from '../src/ingest/decode.ts';
import { createLogger } from '../src/log.ts';
import { migrate } from '../src/store/migrate.ts';
import { spanToRow } from '../src/store/rows.ts';
import { createServerStore } from '../src/store/server-store.ts';
import type { Store } from '../src/store/store.ts';
import { concurrentFleet } from './lib/concurrent-fleet.ts';
import { median, round } from './lib/stats.ts';

export interface ClickHouseResult {
  rows: number;
  /** The writer's flush threshold (rows). */
  batch_rows: number;
  /** Rows per INSERT the writer actually sent (median over trials): the bare client sends the same batches. */
  mean_rows_per_insert: number;
  trials: number;
  /** Median project rows/s ÷ median bare-client rows/s. */
  clickhouse_insert_ratio: number;
  clickhouse_insert_ratio_pairs: number[];
  project_rows_per_s: number;
  bare_client_rows_per_s: number;
  project_rows_per_s_samples: number[];
  bare_client_rows_per_s_samples: number[];
  server: string;
}

const log = (line: string) => process.stderr.write(`[clickhouse] ${line}\n`);

export async function benchClickHouse(o: { rows: number; batch: number; trials: number }): Promise<ClickHouseResult> {
  const url = process.env.CLICKHOUSE_URL;
  if (!url) throw new Error('set CLICKHOUSE_URL (scripts/bench.sh does)');
  const database = `bench_ch_${randomBytes(4).toString('hex')}`;
  const store: Store = await createServerStore({ url, database });
  await migrate(store);
  const bare = createClient({ url, database, log: { level: ClickHouseLogLevel.OFF }, request_timeout: 60_000 });
  try {
    const rows: Record<string, unknown>[] = [];
    const now = Date.now();
    let offset = 0;
    for (const e of concurrentFleet({ events: o.rows, concurrency: 10_000, seed: 5, startMs: now - o.rows - 60_000 })) {
      const d = decodeSpan(JSON.stringify(e), { nowMs: now });
      if (!d.ok) throw new Error(`bench: a simulated event did not decode: ${d.message}`);
      rows.push(spanToRow(d.event, { partition: 0, offset: offset++, ingestedAtMs: now }));
    }
    const project: number[] = [];
    const plain: number[] = [];
    const batchSizes: number[] = [];
    let lastSizes: number[] = [];
    for (let t = 0; t < o.trials; t++) {
      const tables = { project: `spans_project_${t}`, bare: `spans_bare_${t}` };
      await store.exec(`CREATE TABLE ${tables.project} AS spans`);
      await store.exec(`CREATE TABLE ${tables.bare} AS spans`);

      // The project's path: rows handed to the batch writer 100 at a time (as a consumer's batches do), then flushed.
      const runProject = async () => {
        const sizes: number[] = [];
        const sink = { insert: (_table: string, r: readonly Record<string, unknown>[]) => (sizes.push(r.length), store.insert(tables.project, r)) };
        const writer = createBatchWriter({ sink, logger: createLogger('warn'), maxRows: o.batch, flushIntervalMs: 1_000 });
        const t0 = performance.now();
        for (let i = 0; i < rows.length; i += 100) await writer.add('spans', rows.slice(i, i + 100));
        await writer.close();
        project.push(rows.length / ((performance.now() - t0) / 1e3));
        batchSizes.push(rows.length / sizes.length);
        return sizes;
      };
      // The bare client sends the batches the writer sent (it coalesces rows while a flush is in flight).
      const runBare = async (sizes: readonly number[]) => {
        const t0 = performance.now();
        for (let i = 0, k = 0; i < rows.length; i += sizes[k++] as number) await bare.insert({ table: tables.bare, values: rows.slice(i, i + (sizes[k] as number)), format: 'JSONEachRow' });
        plain.push(rows.length / ((performance.now() - t0) / 1e3));
      };
      // Who goes first alternates; a bare trial that goes first reuses the previous trial's batches.
      if (t % 2 === 0 || lastSizes.length === 0) lastSizes = await runProject().then(async (sizes) => (await runBare(sizes), sizes));
      else {
        await runBare(lastSizes);
        lastSizes = await runProject();
      }
      log(`trial ${t + 1}: project ${Math.round(project[t] as number)} rows/s, bare client ${Math.round(plain[t] as number)} rows/s`);
      for (const table of Object.values(tables)) await store.exec(`DROP TABLE ${table}`);
    }
    return {
      rows: rows.length,
      batch_rows: o.batch,
      mean_rows_per_insert: Math.round(median(batchSizes)),
      trials: o.trials,
      clickhouse_insert_ratio: round(median(project) / median(plain), 3),
      clickhouse_insert_ratio_pairs: project.map((p, i) => round(p / (plain[i] as number), 3)),
      project_rows_per_s: Math.round(median(project)),
      bare_client_rows_per_s: Math.round(median(plain)),
      project_rows_per_s_samples: project.map(Math.round),
      bare_client_rows_per_s_samples: plain.map(Math.round),
      server: `clickhouse-server ${store.version.text}`,
    };
  } finally {
    await store.exec(`DROP DATABASE IF EXISTS ${database}`).catch((err: unknown) => log(`could not drop ${database}: ${(err as Error).message}`));
    await store.close();
    await bare.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { rows: { type: 'string', default: '200000' }, batch: { type: 'string', default: '1000' }, trials: { type: 'string', default: '3' } } });
  process.stdout.write(`${JSON.stringify(await benchClickHouse({ rows: Number(values.rows), batch: Number(values.batch), trials: Number(values.trials) }), null, 2)}\n`);
}
