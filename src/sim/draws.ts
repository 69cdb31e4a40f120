import { createRng } from './prng.ts';

/** Seeded random draws over one mulberry32 stream (src/sim/prng.ts): same seed, same sequence. */
export interface Draws {
  /** Uniform in [0, 1). */
  u(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
  /** An index drawn with probability ∝ its weight (uniform when no weight is positive). */
  weighted(weights: readonly number[]): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
  /** exp(N(ln median, σ²)): right-skewed, like token counts and costs. */
  lognormal(median: number, sigma: number): number;
  /** Poisson(λ): Knuth below 30, a rounded normal approximation above. */
  poisson(lambda: number): number;
  /** Beta with the given mean and concentration κ = α + β (higher κ, narrower). */
  beta(mean: number, kappa: number): number;
  /** The items in a random order (Fisher–Yates; the input is left as it is). */
  shuffle<T>(xs: readonly T[]): T[];
}

export function createDraws(seed: number): Draws {
  const u = createRng(seed);
  const normal = (): number => {
    // 1 − u() is in (0, 1], so the log is finite.
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    return r * Math.cos(2 * Math.PI * u());
  };
  // Marsaglia–Tsang; shape < 1 boosted by U^(1/shape).
  const gamma = (shape: number): number => {
    if (shape < 1) return gamma(shape + 1) * Math.pow(1 - u(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const x = normal();
      const v = (1 + c * x) ** 3;
      if (v <= 0) continue;
      const w = 1 - u();
      if (Math.log(w) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  };
  const int = (n: number): number => Math.floor(u() * n);
  return {
    u,
    int,
    pick: <T>(xs: readonly T[]): T => xs[int(xs.length)] as T,
    weighted: (weights) => {
      const total = weights.reduce((a, b) => a + b, 0);
      if (!(total > 0)) return int(weights.length);
      let x = u() * total;
      for (const [i, w] of weights.entries()) {
        x -= w;
        if (x < 0) return i;
      }
      return weights.length - 1;
    },
    normal,
    lognormal: (median, sigma) => median * Math.exp(sigma * normal()),
    poisson: (lambda) => {
      if (lambda <= 0) return 0;
      if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * normal()));
      const limit = Math.exp(-lambda);
      let k = 0;
      let prod = u();
      while (prod > limit) {
        k++;
        prod *= u();
      }
      return k;
    },
    beta: (mean, kappa) => {
      const a = gamma(mean * kappa);
      const b = gamma((1 - mean) * kappa);
      return a / (a + b);
    },
    shuffle: <T>(xs: readonly T[]): T[] => {
      const out = [...xs];
      for (let i = out.length - 1; i > 0; i--) {
        const j = int(i + 1);
        [out[i], out[j]] = [out[j] as T, out[i] as T];
      }
      return out;
    },
  };
}
