import { describe, expect, it } from 'vitest';
import { createLagSource, partitionLags } from '../../../src/metrics/lag-source.ts';

const ends = [
  { partition: 0, offset: '100', high: '100', low: '0' },
  { partition: 1, offset: '50', high: '50', low: '10' },
  { partition: 2, offset: '30', high: '30', low: '0' },
];
const hw = (n: number) => JSON.stringify({ v: 1, hw: String(n) });

describe('partitionLags', () => {
  it.each([
    ['committed offsets', [{ partition: 0, offset: '90', metadata: null }, { partition: 1, offset: '50', metadata: null }, { partition: 2, offset: '0', metadata: null }], [10, 0, 30]],
    ['no commit yet: from the low mark', [{ partition: 0, offset: '-1', metadata: null }, { partition: 1, offset: '-1', metadata: null }], [100, 40, 30]],
    ['the processed high-water mark of the detect stage beats its committed offset', [{ partition: 0, offset: '20', metadata: hw(98) }, { partition: 1, offset: '45', metadata: hw(40) }], [2, 5, 30]],
    ['metadata that is not ours is ignored', [{ partition: 0, offset: '20', metadata: 'hello' }], [80, 40, 30]],
  ])('%s', (_name, partitions, lags) => {
    const got = partitionLags({ group: 'g', topic: 't' }, ends, [{ topic: 't', partitions }]);
    expect(got.map((s) => s.lag)).toEqual(lags);
    expect(got.every((s) => s.group === 'g' && s.topic === 't')).toBe(true);
  });
});

describe('createLagSource', () => {
  it('reuses a reading within cacheMs and serves the last one when the admin fails', async () => {
    let now = 0;
    let calls = 0;
    let fail = false;
    const admin = {
      fetchTopicOffsets: () => {
        calls++;
        return fail ? Promise.reject(new Error('broker down')) : Promise.resolve(ends);
      },
      fetchOffsets: () => Promise.resolve([{ topic: 't', partitions: [{ partition: 0, offset: '95', metadata: null }] }]),
    };
    const errors: unknown[] = [];
    const source = createLagSource({ admin, groups: [{ group: 'g', topic: 't' }], cacheMs: 1_000, now: () => now, onError: (e) => errors.push(e) });
    const first = await source();
    expect(first.map((s) => s.lag)).toEqual([5, 40, 30]);
    now = 500;
    await source();
    expect(calls).toBe(1);
    now = 1_500;
    fail = true;
    expect(await source()).toEqual(first);
    expect(calls).toBe(2);
    expect(errors).toHaveLength(1);
  });
});
