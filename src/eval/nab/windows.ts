/** One labelled anomaly window as inclusive row indices of its file. */
export interface IndexWindow {
  start: number;
  end: number;
}

/** Share of each file NAB ignores at its start (the detectors' learning time). */
export const NAB_PROBATION_PERCENT = 0.15;

/**
 * Rows NAB ignores at the start of a file of `rows` rows (nab/sweeper.py
 * `_getProbationaryLength`): min(floor(p · rows), p · 5000), i.e. at most 750 rows for p = 0.15.
 */
export function probationLength(rows: number, probationPercent = NAB_PROBATION_PERCENT): number {
  return Math.min(Math.floor(probationPercent * rows), probationPercent * 5000);
}

/**
 * Maps window limits (epoch ms, inclusive) to row indices of a file with the given row
 * timestamps. NAB enters a window on the row whose timestamp equals the start and leaves it on
 * the row equal to the end, so both must be rows of the file; windows must be in order and must
 * not overlap. Throws naming the file otherwise (NAB would silently skip such a window).
 */
export function windowsToIndices(
  file: string,
  timestamps: readonly number[],
  limits: readonly (readonly [number, number])[],
): IndexWindow[] {
  const rowOf = new Map<number, number>();
  timestamps.forEach((t, i) => {
    if (!rowOf.has(t)) rowOf.set(t, i);
  });
  const out: IndexWindow[] = [];
  for (const [from, to] of limits) {
    const start = rowOf.get(from);
    const end = rowOf.get(to);
    if (start === undefined || end === undefined) {
      throw new Error(`${file}: window [${new Date(from).toISOString()}, ${new Date(to).toISOString()}] does not start and end on rows of the file`);
    }
    const prev = out.at(-1);
    if (end < start || (prev !== undefined && start <= prev.end)) {
      throw new Error(`${file}: windows must be ordered and disjoint (row ${start}..${end})`);
    }
    out.push({ start, end });
  }
  return out;
}
