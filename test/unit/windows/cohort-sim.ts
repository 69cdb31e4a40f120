import { createRng } from '../../../src/sim/prng.ts';
import { emptyPartial, MINUTE_MS, type CohortPartial, type CohortView } from '../../../src/windows/cohort-partial.ts';
import { addValue, EMPTY_SUMMARY } from '../../../src/windows/summary.ts';

/** Seeded random draws for the simulated cohorts of the detector tests. */
export function draws(seed: number) {
  const u = createRng(seed);
  const normal = (): number => {
    // Box–Muller; 1 − u() is in (0, 1], so the log is finite.
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    return r * Math.cos(2 * Math.PI * u());
  };
  const poisson = (lambda: number): number => {
    // Knuth for small λ, normal approximation above (rates here are small).
    if (lambda > 50) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * normal()));
    const limit = Math.exp(-lambda);
    let k = 0;
    let prod = u();
    while (prod > limit) {
      k++;
      prod *= u();
    }
    return k;
  };
  return { u, normal, poisson, lognormal: (median: number, sigma: number) => median * Math.exp(sigma * normal()) };
}

export const T0 = 1_700_000_000_000 - (1_700_000_000_000 % MINUTE_MS);

export interface SpendSim {
  seed: number;
  minutes: number;
  /** Runs starting per minute (Poisson mean) at multiplier 1. */
  runsPerMinute: number;
  /** LLM calls per run: 1 + Poisson(callsPerRun − 1), one every 5–20 s. */
  callsPerRun?: number;
  /** Median cost of one call (usd) and its lognormal σ. */
  costPerCall: number;
  costSigma?: number;
  /** Rate multiplier per minute (spike injection). */
  multiplier?: (minute: number) => number;
  view?: CohortView;
  cohort?: Record<string, string>;
}

/**
 * One partial per LLM call (the finest deltas a per-run stage can send), in time order. Runs
 * start uniformly within their minute (Poisson count, scaled by `multiplier`) and make their calls
 * every 5–20 s, so a run's calls spill into the next minutes as real runs do. Minute 0 is T0.
 */
export function spendPartials(sim: SpendSim): CohortPartial[] {
  const d = draws(sim.seed);
  const calls: { ts: number; usd: number }[] = [];
  const cohort = sim.cohort ?? { tenant_id: 't1', agent_id: 'bot', user_id: 'u1', model: 'gpt-4o' };
  for (let m = 0; m < sim.minutes; m++) {
    const runs = d.poisson(sim.runsPerMinute * (sim.multiplier?.(m) ?? 1));
    for (let r = 0; r < runs; r++) {
      let ts = T0 + m * MINUTE_MS + Math.floor(d.u() * MINUTE_MS);
      const n = 1 + d.poisson((sim.callsPerRun ?? 4) - 1);
      for (let i = 0; i < n; i++) {
        if (ts >= T0 + sim.minutes * MINUTE_MS) break;
        calls.push({ ts, usd: d.lognormal(sim.costPerCall, sim.costSigma ?? 0.5) });
        ts += 5_000 + Math.floor(d.u() * 15_000);
      }
    }
  }
  calls.sort((a, b) => a.ts - b.ts);
  return calls.map(({ ts, usd }) => {
    const p = emptyPartial(sim.view ?? 'spend', cohort, ts);
    p.events = 1;
    p.llm_calls = 1;
    p.tokens = 1000;
    p.spend_usd = usd;
    return p;
  });
}

/** A partial carrying `n` judge scores at time `ts`. */
export function judgePartial(cohort: Record<string, string>, ts: number, scores: readonly number[]): CohortPartial {
  const p = emptyPartial('judge', cohort, ts);
  p.events = scores.length;
  p.judge = scores.reduce(addValue, EMPTY_SUMMARY);
  return p;
}
