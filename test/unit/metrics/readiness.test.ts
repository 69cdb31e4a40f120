import { describe, expect, it } from 'vitest';
import { createGroupStates } from '../../../src/metrics/group-states.ts';
import { createReadinessCheck } from '../../../src/metrics/readiness.ts';

const answering = { query: <T>() => Promise.resolve([{ ok: 1 }] as T[]) };
const refusing = { query: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:8123')) };
const silent = { query: () => new Promise<never>(() => undefined) };

describe('createReadinessCheck', () => {
  it('is ready once every consumer joined and ClickHouse answers', async () => {
    const groups = createGroupStates();
    groups.set('rw-ingest', 'connecting');
    groups.set('rw-detect', 'joined');
    const check = createReadinessCheck({ groups, store: answering });
    const before = await check();
    expect(before.ready).toBe(false);
    expect(before.reason).toBe('consumers not joined to their group: rw-ingest (connecting)');
    groups.set('rw-ingest', 'joined');
    expect(await check()).toEqual({
      ready: true,
      clickhouse: 'ok',
      consumers: [
        { groupId: 'rw-ingest', state: 'joined' },
        { groupId: 'rw-detect', state: 'joined' },
      ],
    });
    groups.set('rw-detect', 'crashed');
    expect((await check()).reason).toContain('rw-detect (crashed)');
  });

  it.each([
    ['refused', refusing, 'ClickHouse unreachable: connect ECONNREFUSED'],
    ['silent', silent, 'ClickHouse unreachable: no answer within 20 ms'],
  ])('is not ready when ClickHouse is %s', async (_name, store, reason) => {
    const report = await createReadinessCheck({ groups: createGroupStates(), store, timeoutMs: 20 })();
    expect(report.ready).toBe(false);
    expect(report.clickhouse).toBe('unreachable');
    expect(report.reason).toContain(reason);
  });
});
