import { z } from 'zod';
import type { Store } from '../store/store.ts';
import type { GroupState, GroupStates } from './group-states.ts';

/** What /readyz answers (JSON): ready, or the reason not, and each check. */
export interface ReadinessReport {
  ready: boolean;
  /** Why not ready, in one line an operator can act on; absent when ready. */
  reason?: string;
  consumers: ReadonlyArray<{ groupId: string; state: GroupState }>;
  clickhouse: 'ok' | 'unreachable';
}

export interface ReadinessOptions {
  groups: GroupStates;
  store: Pick<Store, 'query'>;
  /** A ClickHouse ping slower than this counts as unreachable (ms, default 2,000). */
  timeoutMs?: number;
}

const pingRow = z.object({ ok: z.coerce.number() });

/** Ready when every consumer of the process joined its group and ClickHouse answers a `SELECT 1`. */
export function createReadinessCheck(options: ReadinessOptions): () => Promise<ReadinessReport> {
  const timeoutMs = options.timeoutMs ?? 2_000;
  return async () => {
    const consumers = options.groups.all();
    const clickhouseError = await ping(options.store, timeoutMs);
    const reasons: string[] = [];
    const notJoined = options.groups.notJoined();
    if (notJoined.length > 0) reasons.push(`consumers not joined to their group: ${notJoined.join(', ')}`);
    if (clickhouseError !== undefined) reasons.push(`ClickHouse unreachable: ${clickhouseError}`);
    const report: ReadinessReport = { ready: reasons.length === 0, consumers, clickhouse: clickhouseError === undefined ? 'ok' : 'unreachable' };
    if (reasons.length > 0) report.reason = reasons.join('; ');
    return report;
  };
}

/** Undefined when ClickHouse answered within `timeoutMs`, else what went wrong. */
async function ping(store: Pick<Store, 'query'>, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const rows = await Promise.race([
      store.query('SELECT 1 AS ok', pingRow),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return rows[0]?.ok === 1 ? undefined : 'unexpected answer to SELECT 1';
  } catch (err) {
    return (err as Error).message;
  } finally {
    clearTimeout(timer);
  }
}
