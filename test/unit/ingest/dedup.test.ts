import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createDedupCache, type DedupCacheOptions } from '../../../src/ingest/dedup.ts';

/** Feeds `[id, ts]` calls and returns what `seen` answered for each. */
function feed(options: DedupCacheOptions, calls: ReadonlyArray<readonly [string, number]>): boolean[] {
  const cache = createDedupCache(options);
  return calls.map(([id, ts]) => cache.seen(id, ts));
}

/**
 * The contract written as plainly as possible (arrays, linear scans): an id is a duplicate while
 * it is among the last `maxEntries` recorded ids and the event-time watermark (largest finite ts
 * seen) has moved less than `ttlMs` past the watermark at which it was recorded. Only a first
 * sighting records; a duplicate does not refresh anything.
 */
function referenceModel(options: DedupCacheOptions) {
  let entries: Array<{ id: string; stamp: number }> = [];
  let watermark = -Infinity;
  return {
    seen(id: string, ts: number): boolean {
      if (Number.isFinite(ts) && ts > watermark) watermark = ts;
      entries = entries.filter((e) => watermark - e.stamp < options.ttlMs);
      if (entries.some((e) => e.id === id)) return true;
      entries.push({ id, stamp: watermark });
      if (entries.length > options.maxEntries) entries.shift();
      return false;
    },
    get size() {
      return entries.length;
    },
  };
}

describe('createDedupCache', () => {
  it.each<[string, DedupCacheOptions]>([
    ['maxEntries 0', { maxEntries: 0, ttlMs: 1_000 }],
    ['maxEntries negative', { maxEntries: -1, ttlMs: 1_000 }],
    ['maxEntries fractional', { maxEntries: 1.5, ttlMs: 1_000 }],
    ['maxEntries NaN', { maxEntries: Number.NaN, ttlMs: 1_000 }],
    ['maxEntries Infinity', { maxEntries: Number.POSITIVE_INFINITY, ttlMs: 1_000 }],
    ['ttlMs 0', { maxEntries: 10, ttlMs: 0 }],
    ['ttlMs negative', { maxEntries: 10, ttlMs: -5 }],
    ['ttlMs NaN', { maxEntries: 10, ttlMs: Number.NaN }],
  ])('refuses %s', (_name, options) => {
    expect(() => createDedupCache(options)).toThrow(RangeError);
  });

  it.each<[string, DedupCacheOptions, Array<readonly [string, number]>, boolean[]]>([
    ['a first sighting is new, a repeat is a duplicate', { maxEntries: 10, ttlMs: 1_000 }, [['a', 0], ['a', 0], ['a', 10]], [false, true, true]],
    ['distinct ids are all new', { maxEntries: 10, ttlMs: 1_000 }, [['a', 0], ['b', 0], ['c', 0]], [false, false, false]],
    [
      'remembered up to, not at, ttlMs of watermark progress',
      { maxEntries: 10, ttlMs: 1_000 },
      [['a', 0], ['x', 999], ['a', 999], ['y', 1_000], ['a', 1_000]],
      [false, false, true, false, false],
    ],
    [
      'a duplicate does not extend the memory of its id',
      { maxEntries: 10, ttlMs: 1_000 },
      [['a', 0], ['a', 900], ['x', 1_000], ['a', 1_000]],
      [false, true, false, false],
    ],
    [
      'a late event is remembered for a full ttl after it arrived (stamped with the watermark)',
      { maxEntries: 10, ttlMs: 1_000 },
      [['x', 5_000], ['late', 100], ['y', 5_999], ['late', 0], ['z', 6_000], ['late', 0]],
      [false, false, false, true, false, false],
    ],
    [
      'time never goes back: an old ts does not revive expired ids',
      { maxEntries: 10, ttlMs: 1_000 },
      [['a', 0], ['x', 2_000], ['a', 0]],
      [false, false, false],
    ],
    [
      'the oldest recorded id is forgotten first when full',
      { maxEntries: 3, ttlMs: Number.POSITIVE_INFINITY },
      [['a', 0], ['b', 0], ['c', 0], ['d', 0], ['b', 0], ['c', 0], ['d', 0], ['a', 0]],
      [false, false, false, false, true, true, true, false],
    ],
    [
      'a duplicate does not move its id to the back (FIFO, not LRU)',
      { maxEntries: 2, ttlMs: Number.POSITIVE_INFINITY },
      [['a', 0], ['b', 0], ['a', 0], ['c', 0], ['a', 0]],
      [false, false, true, false, false],
    ],
    [
      'an infinite ttl forgets by size only',
      { maxEntries: 5, ttlMs: Number.POSITIVE_INFINITY },
      [['a', 0], ['b', Number.MAX_SAFE_INTEGER], ['a', Number.MAX_SAFE_INTEGER]],
      [false, false, true],
    ],
    [
      'a non-finite ts neither moves the watermark nor expires anything',
      { maxEntries: 10, ttlMs: 1_000 },
      [['a', 0], ['b', Number.POSITIVE_INFINITY], ['c', Number.NaN], ['a', 500], ['b', 500], ['c', 500]],
      [false, false, false, true, true, true],
    ],
    ['maxEntries 1 remembers only the last id', { maxEntries: 1, ttlMs: 1_000 }, [['a', 0], ['a', 0], ['b', 0], ['a', 0]], [false, true, false, false]],
  ])('%s', (_name, options, calls, answers) => {
    expect(feed(options, calls)).toEqual(answers);
  });

  it('size counts remembered ids and never exceeds maxEntries', () => {
    const cache = createDedupCache({ maxEntries: 3, ttlMs: 1_000 });
    expect(cache.size).toBe(0);
    cache.seen('a', 0);
    cache.seen('a', 0);
    expect(cache.size).toBe(1);
    for (const id of ['b', 'c', 'd', 'e']) cache.seen(id, 10);
    expect(cache.size).toBe(3);
    // A jump in event time expires everything recorded before it, then records the new id.
    cache.seen('f', 10_000);
    expect(cache.size).toBe(1);
  });

  it('wraps its ring many times without losing or confusing ids', () => {
    const cache = createDedupCache({ maxEntries: 7, ttlMs: Number.POSITIVE_INFINITY });
    for (let i = 0; i < 1_000; i++) {
      expect(cache.seen(`e${i}`, i)).toBe(false);
      // The last 7 are remembered, the one before them is not.
      expect(cache.seen(`e${i}`, i)).toBe(true);
      if (i >= 6) expect(cache.seen(`e${i - 6}`, i)).toBe(true);
      expect(cache.size).toBeLessThanOrEqual(7);
    }
    expect(cache.seen('e992', 1_000)).toBe(false);
  });

  it('property: behaves like the plain reference model for any sequence of calls', () => {
    const options = fc.record({ maxEntries: fc.integer({ min: 1, max: 6 }), ttlMs: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.constant(Number.POSITIVE_INFINITY)) });
    // Few ids (so repeats are common) and small time steps, sometimes backwards (out-of-order events).
    const call = fc.tuple(fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), fc.integer({ min: -20, max: 30 }));
    fc.assert(
      fc.property(options, fc.array(call, { maxLength: 200 }), (opts, steps) => {
        const cache = createDedupCache(opts);
        const model = referenceModel(opts);
        let ts = 1_000;
        for (const [id, step] of steps) {
          ts += step;
          if (cache.seen(id, ts) !== model.seen(id, ts)) return false;
          if (cache.size > opts.maxEntries) return false;
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });
});
