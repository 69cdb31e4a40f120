import { describe, expect, it } from 'vitest';
import { insertIsolating } from '../../../src/ingest/insert-isolating.ts';

class Refused extends Error {
  readonly retriable = false;
}
class Down extends Error {
  readonly retriable = true;
}

/** An in-memory table that refuses rows with `bad: true` (the whole insert, as ClickHouse does) and is down for the first `downFor` calls. */
function table(downFor = 0) {
  const rows: Array<Record<string, unknown>> = [];
  let calls = 0;
  return {
    rows,
    calls: () => calls,
    async insert(_table: string, batch: readonly Record<string, unknown>[]) {
      calls++;
      if (calls <= downFor) throw new Down('connection refused');
      if (batch.some((r) => r.bad === true)) throw new Refused(`row ${String(batch.find((r) => r.bad)?.id)} does not parse`);
      rows.push(...batch);
    },
  };
}

const batch = (n: number, bad: number[]) => Array.from({ length: n }, (_, id) => ({ id, bad: bad.includes(id) }));

describe('insertIsolating', () => {
  it.each([
    ['no bad row', 1_000, []],
    ['one bad row', 1_000, [617]],
    ['bad rows at both ends', 1_000, [0, 999]],
    ['every row bad', 8, [0, 1, 2, 3, 4, 5, 6, 7]],
  ])('%s: every good row lands once, each bad one is returned with its error', async (_name, n, bad) => {
    const sink = table();
    const rejected = await insertIsolating(sink, 't', batch(n, bad), { baseDelayMs: 1 });
    expect(rejected.map((r) => r.index).sort((a, b) => a - b)).toEqual(bad);
    for (const r of rejected) expect((r.error as Error).message).toBe(`row ${r.index} does not parse`);
    expect(sink.rows.map((r) => r.id)).toEqual(batch(n, bad).filter((r) => !r.bad).map((r) => r.id));
  });

  it('one bad row in 1,000 costs about 2·log2(n) extra inserts', async () => {
    const sink = table();
    await insertIsolating(sink, 't', batch(1_000, [617]), { baseDelayMs: 1 });
    expect(sink.calls()).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(1_000)));
  });

  it('retries a retriable failure with backoff, then inserts everything at once', async () => {
    const sink = table(3);
    const delays: number[] = [];
    const rejected = await insertIsolating(sink, 't', batch(100, []), { baseDelayMs: 2, maxDelayMs: 5, onRetry: (_e, _a, d) => delays.push(d) });
    expect(rejected).toEqual([]);
    expect(sink.rows).toHaveLength(100);
    expect(delays).toHaveLength(3);
    expect(delays[2]).toBeLessThanOrEqual(5 * 1.2);
    expect(delays[1]).toBeGreaterThan(delays[0] as number);
  });

  it('gives up only when aborted, throwing the retriable error (the caller keeps the rows)', async () => {
    const sink = table(Infinity);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 30);
    await expect(insertIsolating(sink, 't', batch(10, []), { baseDelayMs: 1, maxDelayMs: 5, signal: abort.signal })).rejects.toBeInstanceOf(Down);
    expect(sink.rows).toHaveLength(0);
  });
});
