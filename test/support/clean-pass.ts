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
const commandRow = z.object({ command_id: z.string(), signature: z.string(), reason_detector: z.string(), reason_rule: z.string(), scope_kind: z.string(), scope_id: z.string() });

export interface AuditDiff {
  /**
   * Findings of the oracle absent from the findings table, and ids there the oracle lacks. Per-run
   * findings by id; cohort findings (cost-spike, judge-drift) by episode key `detector/rule
   * scope`: after a restart the per-run partitions catch up unevenly and a cohort episode can be
   * split differently from replay (another id, or an extra episode) — a known limit until the
   * cohort stage orders partials by event time. A missed key (a spike or drop never reported) fails.
   */
  findingsMissing: string[];
  findingsExtra: string[];
  /** Per-run findings whose stored row differs from replay's (cohort findings: id only, see below). */
  findingsChanged: string[];
  commandsMissing: string[];
  commandsExtra: string[];
  /** Cohort findings and commands whose id replay does not have (reported, not failed). */
  cohortExtra: number;
}

const episodeKey = (detector: string, rule: string, scopeKind: string, scopeId: string) => `${detector}/${rule} ${scopeKind}:${scopeId}`;

/** The stored audit (findings, commands) against replay's: see AuditDiff for how cohort rows compare. */
export async function auditDiff(store: Store, oracle: Oracle): Promise<AuditDiff> {
  const findings = await store.query(
    "SELECT finding_id, ts_ms, detector, rule, severity, scope_kind, scope_id, cohort_keys, cohort_values, observed, threshold, baseline, details FROM findings FINAL WHERE detector != 'budget'",
    findingRow,
  );
  const commands = await store.query("SELECT command_id, signature, reason_detector, reason_rule, scope_kind, scope_id FROM control_commands FINAL WHERE source = 'pipeline'", commandRow);
  const stored = new Map(findings.map((f) => [f.finding_id, f]));
  const findingsChanged: string[] = [];
  for (const [id, finding] of oracle.findings) {
    const row = stored.get(id);
    if (!row || isCohortDetector(finding.detector)) continue;
    const want = findingToRow(finding) as Record<string, unknown>;
    if (Object.keys(want).some((k) => JSON.stringify(normalise(row[k])) !== JSON.stringify(normalise(want[k])))) findingsChanged.push(id);
  }
  const storedFindingKeys = new Set(findings.map((f) => episodeKey(String(f['detector']), String(f['rule']), String(f['scope_kind']), String(f['scope_id']))));
  const storedCommandKeys = new Set(commands.map((c) => episodeKey(c.reason_detector, c.reason_rule, c.scope_kind, c.scope_id)));
  const storedCommands = new Map(commands.map((c) => [c.command_id, c]));
  const oracleCommand = (id: string) => JSON.parse(oracle.commands.get(id) ?? '{}') as { reason: { detector: string; rule: string }; scope: { kind: string; id: string } };
  const findingsMissing: string[] = [];
  for (const [id, f] of oracle.findings) {
    if (stored.has(id)) continue;
    if (!isCohortDetector(f.detector)) findingsMissing.push(id);
    else if (!storedFindingKeys.has(episodeKey(f.detector, f.rule, f.scope.kind, f.scope.id))) findingsMissing.push(episodeKey(f.detector, f.rule, f.scope.kind, f.scope.id));
  }
  const commandsMissing: string[] = [];
  for (const id of oracle.commands.keys()) {
    if (storedCommands.has(id)) continue;
    const c = oracleCommand(id);
    if (oracle.perRunCommandAt.has(id)) commandsMissing.push(id);
    else if (!storedCommandKeys.has(episodeKey(c.reason.detector, c.reason.rule, c.scope.kind, c.scope.id))) commandsMissing.push(episodeKey(c.reason.detector, c.reason.rule, c.scope.kind, c.scope.id));
  }
  const findingsExtraAll = [...stored.values()].filter((f) => !oracle.findings.has(f.finding_id));
  const commandsExtraAll = commands.filter((c) => !oracle.commands.has(c.command_id));
  return {
    findingsMissing,
    findingsExtra: findingsExtraAll.filter((f) => !isCohortDetector(String(f['detector']))).map((f) => f.finding_id),
    findingsChanged,
    commandsMissing,
    commandsExtra: commandsExtraAll.filter((c) => !isCohortDetector(c.reason_detector)).map((c) => c.command_id),
    cohortExtra: findingsExtraAll.filter((f) => isCohortDetector(String(f['detector']))).length + commandsExtraAll.filter((c) => isCohortDetector(c.reason_detector)).length,
  };
}

/** ClickHouse returns 64-bit integers as strings and arrays as arrays: compare by value. */
function normalise(v: unknown): unknown {
  if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  return v ?? null;
}

/**
 * The commands on the control topic (id → contents) against replay's: per-run commands by id,
 * cohort commands by episode key (see AuditDiff: a cohort episode may be split differently from
 * replay after a restart — reported in `cohortExtra`, never a missed key).
 */
export function controlDiff(byId: ReadonlyMap<string, ReadonlySet<string>>, oracle: Oracle): { missing: string[]; extra: string[]; cohortExtra: string[] } {
  type Cmd = { reason: { detector: string; rule: string }; scope: { kind: string; id: string } };
  const keyOf = (json: string) => {
    const c = JSON.parse(json) as Cmd;
    return episodeKey(c.reason.detector, c.reason.rule, c.scope.kind, c.scope.id);
  };
  const sentKeys = new Set([...byId.values()].flatMap((contents) => [...contents].map(keyOf)));
  const missing: string[] = [];
  for (const [id, json] of oracle.commands) {
    if (byId.has(id)) continue;
    if (oracle.perRunCommandAt.has(id)) missing.push(id);
    else if (!sentKeys.has(keyOf(json))) missing.push(keyOf(json));
  }
  const extra: string[] = [];
  const cohortExtra: string[] = [];
  for (const [id, contents] of byId) {
    if (oracle.commands.has(id)) continue;
    const c = JSON.parse([...contents][0] ?? '{}') as Cmd;
    (isCohortDetector(c.reason.detector) ? cohortExtra : extra).push(id);
  }
  return { missing, extra, cohortExtra };
}
