import type { Finding } from '../contracts/finding.ts';

export type DedupVerdict = 'new' | 'duplicate_finding' | 'duplicate_scope';

export interface AlertDedup {
  /** Whether `finding` was alerted within the window at `nowMs`; a new one is remembered. */
  check(finding: Finding, nowMs: number): DedupVerdict;
  readonly size: number;
}

export interface AlertDedupOptions {
  /** ms */
  windowMs: number;
  /** Bound on remembered keys (default 100,000); past it the oldest are forgotten early. */
  maxEntries?: number;
}

/**
 * Alert de-duplication: a finding_id alerts once (a finding re-read after a restart or a rebalance
 * is the same finding), and a (detector, rule, scope) alerts once per window (a runaway that trips
 * the same rule in each of its cohort's minutes is one page, not sixty). Wall-clock time: it is
 * about how often a person is interrupted, not about event time.
 */
export function createAlertDedup(options: AlertDedupOptions): AlertDedup {
  const maxEntries = options.maxEntries ?? 100_000;
  // Insertion order is time order: expired keys are at the front.
  const seen = new Map<string, number>();

  function expire(nowMs: number): void {
    for (const [key, atMs] of seen) {
      if (nowMs - atMs < options.windowMs && seen.size <= maxEntries) break;
      seen.delete(key);
    }
  }

  function fresh(key: string, nowMs: number): boolean {
    const atMs = seen.get(key);
    return atMs !== undefined && nowMs - atMs < options.windowMs;
  }

  function remember(key: string, nowMs: number): void {
    seen.delete(key); // re-inserted at the end, keeping time order
    seen.set(key, nowMs);
  }

  return {
    check(finding, nowMs) {
      expire(nowMs);
      const idKey = `id\u0000${finding.finding_id}`;
      const scopeKey = `scope\u0000${finding.detector}\u0000${finding.rule}\u0000${finding.scope.kind}\u0000${finding.scope.id}`;
      if (fresh(idKey, nowMs)) return 'duplicate_finding';
      // The id is remembered either way, so that its re-delivery is told apart from a new finding.
      remember(idKey, nowMs);
      if (fresh(scopeKey, nowMs)) return 'duplicate_scope';
      remember(scopeKey, nowMs);
      return 'new';
    },
    get size() {
      return seen.size;
    },
  };
}
