import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPartitionProgress, parseCommitMetadata } from '../../../src/engine/partition-progress.ts';

describe('partition progress', () => {
  it('commits at the oldest live run, with the processed high-water mark in the metadata', () => {
    const p = createPartitionProgress(undefined);
    expect(p.commitPoint()).toBeUndefined();
    p.opened('a', 10n);
    p.processed(10n);
    p.opened('b', 11n);
    p.processed(11n);
    p.processed(12n);
    expect(p.commitPoint()).toEqual({ offset: '10', metadata: '{"v":1,"hw":"13"}' });
    p.evicted('a');
    expect(p.commitPoint()?.offset).toBe('11');
    p.evicted('b');
    expect(p.commitPoint()?.offset).toBe('13');
    expect(p.liveRuns).toBe(0);
  });

  it('a run opened twice keeps its first offset', () => {
    const p = createPartitionProgress(undefined);
    p.opened('a', 5n);
    p.opened('a', 9n);
    p.processed(9n);
    expect(p.commitPoint()?.offset).toBe('5');
  });

  it('restores below the committed high-water mark and never moves it back', () => {
    const p = createPartitionProgress(20n);
    expect(p.isRestoring(19n)).toBe(true);
    expect(p.isRestoring(20n)).toBe(false);
    p.opened('a', 15n);
    p.processed(15n);
    // Re-read only up to 15 so far: the metadata still says 20 was processed.
    expect(parseCommitMetadata(p.commitPoint()?.metadata)).toBe(20n);
    p.processed(25n);
    expect(parseCommitMetadata(p.commitPoint()?.metadata)).toBe(26n);
  });

  it.each([
    ['', undefined],
    [null, undefined],
    ['not json', undefined],
    ['{"v":2,"hw":"5"}', undefined],
    ['{"v":1,"hw":5}', undefined],
    ['{"v":1,"hw":"-5"}', undefined],
    ['{"v":1,"hw":"42"}', 42n],
  ])('parses commit metadata %j as %s', (metadata, want) => {
    expect(parseCommitMetadata(metadata)).toBe(want);
  });

  it('the commit offset never passes the first event of a live run (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.boolean()), { maxLength: 200 }), (steps) => {
        const p = createPartitionProgress(undefined);
        const first = new Map<string, bigint>();
        steps.forEach(([run, evict], i) => {
          const id = `r${run}`;
          const offset = BigInt(i);
          if (evict && first.has(id)) {
            p.evicted(id);
            first.delete(id);
          } else if (!first.has(id)) {
            p.opened(id, offset);
            first.set(id, offset);
          }
          p.processed(offset);
          const point = p.commitPoint();
          const oldest = [...first.values()].reduce((m, o) => (o < m ? o : m), offset + 1n);
          expect(BigInt(point?.offset ?? '-1')).toBe(oldest);
        });
      }),
    );
  });
});
