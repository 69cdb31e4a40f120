import type { ControlCommand } from '../contracts/control.ts';
import type { Finding } from '../contracts/finding.ts';
import type { SpanEvent } from '../contracts/span.ts';
import { priceLlmCall, type PriceTable } from '../pricing/price-table.ts';

/** What the demo saw, transport-independent: the numbers of its summary. */
export interface DemoSummary {
  /** Valid events processed, and bad messages by DLQ reason. */
  events: number;
  bad: Record<string, number>;
  runs: number;
  /** Events dropped as duplicates of an event_id already seen. */
  duplicates: number;
  /** Abort commands by `detector/rule`, and the distinct runs (or other scopes) they stopped. */
  aborts: { commands: number; byRule: Record<string, number>; scopes: string[] };
  /** Throttle commands by `detector/rule`, and the scopes (`kind:id`) they slowed. */
  throttles: { commands: number; byRule: Record<string, number>; scopes: string[] };
  warns: number;
  /** Findings by detector (with or without a command). */
  findings: Record<string, number>;
  /** Judge-drift findings: the cohort, the rule, the recent mean against its reference. */
  drift: Array<{ cohort: string; rule: string; observed: number; baseline: number | null }>;
  /** Spend (usd) of every valid event, per tenant, and of aborted runs' steps after their first abort (what a guard saves). */
  spendUsd: number;
  spendByTenant: Record<string, number>;
  spendAfterAbortUsd: number;
}

export interface DemoTally {
  /** Counts a valid event (runs, spend); call in event order. */
  event(event: SpanEvent): void;
  /** Counts a bad message by its DLQ reason. */
  bad(reason: string): void;
  /** Counts a finding and the command behind it; returns the line to show live, if any. */
  finding(finding: Finding): string | undefined;
  command(command: ControlCommand): string | undefined;
  summary(): DemoSummary;
}

const inc = (counts: Record<string, number>, key: string, by = 1) => {
  counts[key] = (counts[key] ?? 0) + by;
};

/**
 * Counts what the pipeline did during the demo and words the live lines: each run's first abort,
 * each throttle, each judge-drift finding (warnings are only counted: there are hundreds).
 */
export function createDemoTally(priceTable: PriceTable): DemoTally {
  const runs = new Set<string>();
  const abortedAt = new Map<string, number>();
  const throttled = new Set<string>();
  const s: DemoSummary = {
    events: 0,
    bad: {},
    runs: 0,
    duplicates: 0,
    aborts: { commands: 0, byRule: {}, scopes: [] },
    throttles: { commands: 0, byRule: {}, scopes: [] },
    warns: 0,
    findings: {},
    drift: [],
    spendUsd: 0,
    spendByTenant: {},
    spendAfterAbortUsd: 0,
  };
  return {
    event(e) {
      s.events++;
      runs.add(e.run_id);
      if (e.kind !== 'llm_call') return;
      const usd = priceLlmCall(e.llm, priceTable).costUsd;
      s.spendUsd += usd;
      inc(s.spendByTenant, e.tenant_id, usd);
      const at = abortedAt.get(e.run_id);
      if (at !== undefined && e.ts > at) s.spendAfterAbortUsd += usd;
    },
    bad(reason) {
      inc(s.bad, reason);
    },
    finding(f) {
      inc(s.findings, f.detector);
      if (f.detector !== 'judge-drift') return undefined;
      const cohort = f.cohort ? Object.entries(f.cohort).map(([k, v]) => `${k}=${v}`).join(',') : f.scope.id;
      s.drift.push({ cohort, rule: f.rule, observed: f.observed, baseline: f.baseline ?? null });
      return line(f.ts, 'DRIFT', `cohort ${cohort}`, `${f.detector}/${f.rule}: mean ${fmt(f.observed)} vs ${f.baseline === undefined ? '?' : fmt(f.baseline)} before`);
    },
    command(c) {
      const rule = `${c.reason.detector}/${c.reason.rule}`;
      const scope = `${c.scope.kind}:${c.scope.id}`;
      const why = `${rule}: ${fmt(c.reason.observed)} vs ${fmt(c.reason.threshold)}`;
      if (c.action === 'warn') s.warns++;
      if (c.action === 'abort') {
        s.aborts.commands++;
        inc(s.aborts.byRule, rule);
        if (c.scope.kind === 'run' && !abortedAt.has(c.scope.id)) {
          abortedAt.set(c.scope.id, c.issued_at);
          return line(c.issued_at, 'ABORT', scope, why);
        }
      }
      if (c.action === 'throttle') {
        s.throttles.commands++;
        inc(s.throttles.byRule, rule);
        throttled.add(scope);
        return line(c.issued_at, 'THROTTLE', scope, why);
      }
      return undefined;
    },
    summary() {
      return {
        ...s,
        runs: runs.size,
        aborts: { ...s.aborts, scopes: [...abortedAt.keys()].sort() },
        throttles: { ...s.throttles, scopes: [...throttled].sort() },
      };
    },
  };
}

function line(ts: number, what: string, scope: string, why: string): string {
  return `${new Date(ts).toISOString().slice(11, 19)}  ${what.padEnd(8)}  ${scope}  ${why}`;
}

/** Numbers for people: integers with separators, fractions to 4 significant digits. */
export function fmt(n: number): string {
  if (Number.isInteger(n)) return n.toLocaleString('en-US');
  return Number(n.toPrecision(4)).toString();
}
