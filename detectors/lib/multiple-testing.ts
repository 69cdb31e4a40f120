/**
 * False-alarm control when many cohorts are tested at once.
 *
 * - Bonferroni: reject p ≤ α / m. Controls the family-wise error rate (the chance of ANY false
 *   alarm among m tests) at α under any dependence, and needs no coordination: each cohort can
 *   decide alone given the family size m, which is what a partitioned cohort stage needs.
 * - Benjamini–Hochberg: sort the m p-values, reject the k smallest where k is the largest i with
 *   p(i) ≤ i·q/m. Controls the false discovery rate (expected share of false alarms among alarms)
 *   at q for independent or positively dependent tests; more powerful than Bonferroni when several
 *   cohorts really drift, but needs every p-value of a round in one place.
 */

/** Per-test level for a family of m tests at family-wise level α. */
export function bonferroniLevel(alpha: number, m: number): number {
  return alpha / Math.max(1, m);
}

/** Which p-values Bonferroni rejects at family-wise level α (m = ps.length unless given). */
export function bonferroni(ps: readonly number[], alpha: number, m = ps.length): boolean[] {
  const level = bonferroniLevel(alpha, m);
  return ps.map((p) => p <= level);
}

/** Which p-values Benjamini–Hochberg rejects at false-discovery rate q (step-up). */
export function benjaminiHochberg(ps: readonly number[], q: number): boolean[] {
  const m = ps.length;
  const order = ps.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p || a.i - b.i);
  let k = 0;
  order.forEach(({ p }, rank) => {
    if (p <= ((rank + 1) * q) / m) k = rank + 1;
  });
  const out = new Array<boolean>(m).fill(false);
  for (let r = 0; r < k; r++) out[order[r]!.i] = true;
  return out;
}
