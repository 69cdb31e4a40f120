import { diurnalFactor, type RosterCohort } from './cohort-roster.ts';
import type { IncidentKind } from './ground-truth.ts';
import type { PlanContext } from './incident-plan.ts';

const MINUTE = 60_000;

/** Spend incidents start after this much history (the cost-spike baseline needs an hour) … */
export const SPEND_WARMUP_MS = 90 * MINUTE;
/** … and at least this long before the fleet ends, so that a late detection can still be seen. */
export const SPEND_TAIL_MS = 30 * MINUTE;

/**
 * What an incident does to one cohort during [start, end) (at most one per cohort):
 * - `traffic`: `rate` × the runs started per minute, each with `tokens` × the tokens (prompt and
 *   completion) per call;
 * - `runaway`: one extra run, started at `start`, that calls the LLM about once a second until
 *   `end` and costs `usd` in all (a loop with a growing context): the cohort's spend in the
 *   window is its ordinary spend plus `usd`, however little ordinary traffic there is.
 */
export type SpendEffect =
  | { kind: 'traffic'; start: number; end: number; rate: number; tokens: number }
  | { kind: 'runaway'; start: number; end: number; usd: number };

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/**
 * Spend incidents, by cohort id: rate bursts on users (all their cohorts), then spikes and
 * sustained rises on single cohorts — each cohort at most once, at most three quarters of them
 * touched so that quiet cohorts remain, every start between SPEND_WARMUP_MS after the fleet's
 * start and SPEND_TAIL_MS before its end. Incidents land where the traffic is: a user is drawn
 * with probability ∝ its LLM calls per minute, a cohort ∝ its spend (cheap ones still get some;
 * theirs fall under the detectors' absolute floors, which the scorer reports apart).
 */
export function planSpendIncidents(ctx: PlanContext): Map<string, SpendEffect> {
  const { d, roster, mix, startMs, endMs } = ctx;
  const spend = new Map<string, SpendEffect>();
  const from = startMs + SPEND_WARMUP_MS;
  const to = endMs - SPEND_TAIL_MS;
  if (to <= from) return spend;
  const budget = Math.floor(roster.cohorts.length * 0.75);
  let touched = 0;
  const baseline = (c: RosterCohort, start: number, perMinute: number) => perMinute * diurnalFactor(c.region, start, ctx.diurnalAmplitude);

  const users = [...new Set(roster.cohorts.map((c) => c.user_id))];
  const callsPerMinute = (u: string) => roster.cohorts.reduce((n, c) => n + (c.user_id === u ? c.runs_per_minute * c.profile.callsPerRun : 0), 0);
  for (const k of mix.burstMagnitudes) {
    if (users.length === 0) break;
    const user = users.splice(d.weighted(users.map(callsPerMinute)), 1)[0] as string;
    const own = roster.cohorts.filter((c) => c.user_id === user);
    if (touched + own.length > budget) break;
    touched += own.length;
    const start = ctx.instantIn(from, to);
    const end = start + (5 + d.int(6)) * MINUTE;
    for (const c of own) spend.set(c.id, { kind: 'traffic', start, end, rate: k, tokens: 1 / k });
    ctx.add({
      kind: 'llm_rate_burst',
      cohort: { user_id: user },
      start_ts: start,
      end_ts: end,
      magnitude: k,
      unit: 'times',
      expected: { detector: 'cost-spike', rules: ['llm_rate'] },
      details: {
        cohort_ids: own.map((c) => c.id),
        driver: 'runs_with_fewer_tokens',
        duration_minutes: (end - start) / MINUTE,
        baseline_llm_calls_per_minute: round(own.reduce((n, c) => n + baseline(c, start, c.runs_per_minute * c.profile.callsPerRun), 0), 4),
      },
    });
  }

  const free = roster.cohorts.filter((c) => !spend.has(c.id));
  const onCohort = (kind: IncidentKind, k: number, window: () => [number, number], rules: string[]): boolean => {
    if (touched >= budget || free.length === 0) return false;
    touched++;
    const c = free.splice(d.weighted(free.map((x) => x.usd_per_minute)), 1)[0] as RosterCohort;
    const [start, end] = window();
    const perMinute = baseline(c, start, c.usd_per_minute);
    const minutes = (end - start) / MINUTE;
    // A spike: a runaway run adds (k − 1) × the expected spend; a sustained rise: k × the runs.
    const effect: SpendEffect = kind === 'spend_spike' ? { kind: 'runaway', start, end, usd: (k - 1) * perMinute * minutes } : { kind: 'traffic', start, end, rate: k, tokens: 1 };
    spend.set(c.id, effect);
    ctx.add({
      kind,
      cohort: { tenant_id: c.tenant_id, agent_id: c.agent_id, user_id: c.user_id, model: c.model },
      start_ts: start,
      end_ts: end,
      magnitude: k,
      unit: 'times',
      expected: { detector: 'cost-spike', rules },
      details: {
        cohort_id: c.id,
        driver: effect.kind === 'runaway' ? 'runaway_run' : 'runs',
        duration_minutes: Math.round(minutes),
        baseline_usd_per_minute: round(perMinute, 6),
        ...(effect.kind === 'runaway' ? { runaway_usd: round(effect.usd, 4), runaway_run_id: `${c.id}.runaway` } : {}),
      },
    });
    return true;
  };
  const spikes = mix.spikeMagnitudes.flatMap((k) => Array.from({ length: mix.spikesPerMagnitude }, () => k));
  for (const k of spikes) {
    const sharp = (): [number, number] => {
      const start = ctx.instantIn(from, to);
      return [start, start + (1 + d.int(3)) * MINUTE];
    };
    if (!onCohort('spend_spike', k, sharp, ['spend_spike', 'spend_sustained'])) break;
  }
  for (let i = 0; i < mix.sustained; i++) {
    const long = (): [number, number] => {
      const start = ctx.instantIn(from, Math.max(from + MINUTE, endMs - 45 * MINUTE));
      return [start, Math.min(endMs, start + (20 + d.int(21)) * MINUTE)];
    };
    if (!onCohort('spend_sustained', mix.sustainedMagnitude, long, ['spend_sustained', 'spend_spike'])) break;
  }
  return spend;
}
