/** One time bucket: `index` = floor(event time ms / bucket_ms). */
export interface Bucket<T> {
  index: number;
  value: T;
}

/**
 * Fixed-width time buckets over a trailing horizon, driven by event time only. The newest
 * ("open") bucket is kept apart from the closed ones, so folding a value into it is O(1) and
 * shares the closed array; the closed array is copied only when the open bucket rolls (once per
 * bucket) or a late value lands in a closed bucket (O(log n) search). Plain JSON, so it
 * checkpoints as it is. The values are mergeable summaries (`merge` must not mutate).
 */
export interface BucketWindow<T> {
  /** Width of one bucket (ms), e.g. 60_000 for minute buckets. */
  bucket_ms: number;
  /** Buckets kept, the open one included: values older than open.index − horizon + 1 are dropped. */
  horizon: number;
  /** Closed buckets, oldest first, strictly increasing indexes. */
  closed: Bucket<T>[];
  /** The newest bucket, which may still receive values. */
  open: Bucket<T> | null;
}

/** Where `windowAdd` put a value. */
export type Placement = 'open' | 'rolled' | 'late' | 'dropped';

export function createWindow<T>(bucketMs: number, horizon: number): BucketWindow<T> {
  if (!(bucketMs > 0) || !Number.isInteger(horizon) || horizon < 1) throw new RangeError('bucket window: bucket_ms > 0 and integer horizon ≥ 1 required');
  return { bucket_ms: bucketMs, horizon, closed: [], open: null };
}

/**
 * `w` with new buckets, its fields named in createWindow's order (the JSON of a spread, one object
 * shape, without the spread's copy: windowAdd runs for every partial a cohort state takes).
 */
const windowOf = <T>(w: BucketWindow<T>, closed: Bucket<T>[], open: Bucket<T> | null): BucketWindow<T> => ({ bucket_ms: w.bucket_ms, horizon: w.horizon, closed, open });

export const bucketIndex = (w: Pick<BucketWindow<unknown>, 'bucket_ms'>, ts: number): number => Math.floor(ts / w.bucket_ms);

/**
 * Folds `value` into the bucket of `ts` (event time, ms):
 * - `open`: into the open bucket (O(1));
 * - `rolled`: a newer bucket opens; the previous one closes and buckets past the horizon go;
 * - `late`: into an older bucket still within the horizon (O(log n) search + copy);
 * - `dropped`: older than the horizon; the window is returned unchanged.
 */
export function windowAdd<T>(w: BucketWindow<T>, ts: number, value: T, merge: (a: T, b: T) => T): { window: BucketWindow<T>; placed: Placement } {
  const index = bucketIndex(w, ts);
  const open = w.open;
  if (open === null) return { window: windowOf(w, w.closed, { index, value }), placed: 'rolled' };
  if (index === open.index) return { window: windowOf(w, w.closed, { index, value: merge(open.value, value) }), placed: 'open' };
  if (index > open.index) {
    const oldest = index - w.horizon + 1;
    const closed = [...w.closed, open].filter((b) => b.index >= oldest);
    return { window: windowOf(w, closed, { index, value }), placed: 'rolled' };
  }
  if (index <= open.index - w.horizon) return { window: w, placed: 'dropped' };
  const at = lowerBound(w.closed, index);
  const closed = [...w.closed];
  const hit = closed[at];
  if (hit !== undefined && hit.index === index) closed[at] = { index, value: merge(hit.value, value) };
  else closed.splice(at, 0, { index, value });
  return { window: windowOf(w, closed, w.open), placed: 'late' };
}

/** Buckets with from ≤ index ≤ to (open one included), oldest first. */
export function windowRange<T>(w: BucketWindow<T>, from: number, to: number): Bucket<T>[] {
  const all = w.open === null ? w.closed : [...w.closed, w.open];
  return all.filter((b) => b.index >= from && b.index <= to);
}

/** Merge of the values of buckets with from ≤ index ≤ to, or `empty`. */
export function windowFold<T>(w: BucketWindow<T>, from: number, to: number, empty: T, merge: (a: T, b: T) => T): T {
  let acc = empty;
  for (const b of windowRange(w, from, to)) acc = merge(acc, b.value);
  return acc;
}

/** First position whose index is ≥ `index` (binary search; indexes are strictly increasing). */
function lowerBound<T>(buckets: readonly Bucket<T>[], index: number): number {
  let lo = 0;
  let hi = buckets.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((buckets[mid]?.index ?? Infinity) < index) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
