import { z } from 'zod';
import type { SpanEventInput } from '../../src/contracts/span.ts';
import { DEFAULT_PRICE_TABLE, priceLlmCall } from '../../src/pricing/price-table.ts';
import { migrate } from '../../src/store/migrate.ts';
import { findingToRow, spanToRow } from '../../src/store/rows.ts';
import { createServerStore } from '../../src/store/server-store.ts';
import type { Store } from '../../src/store/store.ts';
import { isCohortDetector, type Oracle } from './chaos-stream.ts';
import { parseAll } from './cohort-fleet.ts';
import { clickhouseUrl } from './services.ts';

const anyRow = z.record(z.string(), z.unknown());
const countRow = z.object({ n: z.coerce.number() });

/**
 * A clean single pass: the stream's spans written once, straight into a fresh database (priced
 * as the ingest consumer prices them), with the same migrations — the rollups every chaos run
 * must reproduce exactly.
 */
export async function cleanPassStore(events: readonly SpanEventInput[], database: string): Promise<Store> {
  const store = await createServerStore({ url: clickhouseUrl(), database });
  await migrate(store);
  const rows = parseAll(events).map((event, offset) => {
    const meta = { partition: 0, offset, ingestedAtMs: 0 };
    if (event.kind !== 'llm_call' || event.llm.cost_usd !== undefined) return spanToRow(event, meta);
    const price = priceLlmCall(event.llm, DEFAULT_PRICE_TABLE);
    return spanToRow(event, price.known ? { ...meta, pricedCostUsd: price.costUsd } : meta);
  });
  for (let i = 0; i < rows.length; i += 5_000) await store.insert('spans', rows.slice(i, i + 5_000));
  return store;
}

/** Rows of `sql` as canonical JSON strings, sorted (a multiset to compare). */
async function rowsOf(store: Store, sql: string): Promise<string[]> {
  return (await store.query(sql, anyRow)).map((r) => JSON.stringify(r)).sort();
}

export interface RollupDiff {
  table: string;
  rows: number;
  /** Rows of the clean pass missing from the store under test. */
  missing: number;
  /** Rows in the store under test that the clean pass does not have (changed or extra). */
  extra: number;
}

/** The analysts' rollups (runs, cohort_minute) of `actual` against the clean pass, row for row. */
export async function rollupDiffs(actual: Store, reference: Store): Promise<RollupDiff[]> {
  const out: RollupDiff[] = [];
  for (const [table, sql] of [
    ['runs', 'SELECT * FROM runs'],
    ['cohort_minute', 'SELECT * FROM cohort_minute'],
  ] as const) {
    const [a, b] = await Promise.all([rowsOf(actual, sql), rowsOf(reference, sql)]);
    const have = new Map<string, number>();
    for (const r of a) have.set(r, (have.get(r) ?? 0) + 1);
    let missing = 0;
    for (const r of b) {
      const n = have.get(r) ?? 0;
      if (n > 0) have.set(r, n - 1);
      else missing++;
    }
    const extra = [...have.values()].reduce((s, n) => s + n, 0);
    out.push({ table, rows: b.length, missing, extra });
  }
  return out;
}

export interface SpanCounts {
  /** Distinct events in `spans FINAL` (what every rollup counts). */
  final: number;
  /** Distinct event ids: `final` above this would be an event counted twice. */
  distinct: number;
  /** Raw rows before merges: re-deliveries that the ReplacingMergeTree collapses. */
  raw: number;
}

export async function spanCounts(store: Store): Promise<SpanCounts> {
  const one = async (sql: string) => (await store.query(sql, countRow))[0]?.n ?? 0;
  const [final, distinct, raw] = await Promise.all([
    one('SELECT count() AS n FROM spans FINAL'),
    one('SELECT uniqExact(event_id) AS n FROM spans'),
    one('SELECT count() AS n FROM spans'),
  ]);
  return { final, distinct, raw };
}

const findingRow = z.object({ finding_id: z.string() }).catchall(z.unknown());
const commandRow = z.object({ command_id: z.string(), signature: z.string(), reason_detector: z.string() });

export interface AuditDiff {
  /** Findings of the oracle absent from the findings table, and ids there the oracle lacks. */
  findingsMissing: string[];
  findingsExtra: string[];
  /** Per-run findings whose stored row differs from replay's (cohort findings: id only, see below). */
  findingsChanged: string[];
  commandsMissing: string[];
  commandsExtra: string[];
}

/**
 * The findings and control_commands tables against replay. Per-run findings must match replay's
 * row exactly; cohort findings by id (the Kafka path batches partials differently from replay,
 * so the numbers inside a cohort finding may differ; which findings fire may not).
 */
export async function auditDiff(store: Store, oracle: Oracle): Promise<AuditDiff> {
  const findings = await store.query(
    "SELECT finding_id, ts_ms, detector, rule, severity, scope_kind, scope_id, cohort_keys, cohort_values, observed, threshold, baseline, details FROM findings FINAL WHERE detector != 'budget'",
    findingRow,
  );
  const commands = await store.query("SELECT command_id, signature, reason_detector FROM control_commands FINAL WHERE source = 'pipeline'", commandRow);
  const stored = new Map(findings.map((f) => [f.finding_id, f]));
  const findingsChanged: string[] = [];
  for (const [id, finding] of oracle.findings) {
    const row = stored.get(id);
    if (!row || isCohortDetector(finding.detector)) continue;
    const want = findingToRow(finding) as Record<string, unknown>;
    if (Object.keys(want).some((k) => JSON.stringify(normalise(row[k])) !== JSON.stringify(normalise(want[k])))) findingsChanged.push(id);
  }
  const storedCommands = new Set(commands.map((c) => c.command_id));
  return {
    findingsMissing: [...oracle.findings.keys()].filter((id) => !stored.has(id)),
    findingsExtra: [...stored.keys()].filter((id) => !oracle.findings.has(id)),
    findingsChanged,
    commandsMissing: [...oracle.commands.keys()].filter((id) => !storedCommands.has(id)),
    commandsExtra: [...storedCommands].filter((id) => !oracle.commands.has(id)),
  };
}

/** ClickHouse returns 64-bit integers as strings and arrays as arrays: compare by value. */
function normalise(v: unknown): unknown {
  if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  return v ?? null;
}
