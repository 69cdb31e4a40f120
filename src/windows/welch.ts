import { sampleVariance, type Summary } from './summary.ts';
import { studentTCdf } from './student-t.ts';

/** Welch's two-sample t-test of "the recent mean is lower than the reference mean". */
export interface WelchResult {
  /** recent.mean − reference.mean. */
  diff: number;
  /** (recent − reference) / standard error. */
  t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  /** One-sided p-value, P(T ≤ t) under "no drop". */
  p: number;
  /** Cohen's d: −diff over the pooled standard deviation (positive for a drop); 0 when both samples are constant and equal. */
  cohensD: number;
}

/**
 * One-sided Welch t-test from two summaries (count, mean, M2): no equal-variance assumption, works
 * on any bounded score (binary feedback included: with n ≥ 30 per side the t statistic is close
 * to normal). Needs n ≥ 2 on both sides. When both samples have zero variance the test is
 * degenerate: p = 0 if the recent mean is lower, else 1.
 */
export function welchLowerTest(recent: Summary, reference: Summary): WelchResult {
  if (recent.n < 2 || reference.n < 2) throw new RangeError('welch: need at least 2 values per side');
  const vr = sampleVariance(recent);
  const vf = sampleVariance(reference);
  const diff = recent.mean - reference.mean;
  const ar = vr / recent.n;
  const af = vf / reference.n;
  const se = Math.sqrt(ar + af);
  const pooled = Math.sqrt(((recent.n - 1) * vr + (reference.n - 1) * vf) / (recent.n + reference.n - 2));
  const cohensD = pooled > 0 ? -diff / pooled : diff === 0 ? 0 : -Math.sign(diff) * Infinity;
  if (se === 0) return { diff, t: diff < 0 ? -Infinity : diff > 0 ? Infinity : 0, df: recent.n + reference.n - 2, p: diff < 0 ? 0 : 1, cohensD };
  const raw = (ar + af) ** 2 / ((ar * ar) / (recent.n - 1) + (af * af) / (reference.n - 1));
  // Squares of tiny variances underflow to 0/0; the pooled df is the sensible limit there.
  const df = Number.isFinite(raw) && raw > 0 ? raw : recent.n + reference.n - 2;
  const t = diff / se;
  return { diff, t, df, p: studentTCdf(t, df), cohensD };
}
