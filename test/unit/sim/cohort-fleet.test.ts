import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { SpanEventInput } from '../../../src/contracts/span.ts';
import { decodeSpan } from '../../../src/ingest/decode.ts';
import { DEFAULT_PRICE_TABLE, priceLlmCall } from '../../../src/pricing/price-table.ts';
import { simulateCohortFleet, type CohortFleetOptions } from '../../../src/sim/cohort-fleet.ts';
import { cohortIdOfRun, groundTruthSchema, type Incident } from '../../../src/sim/ground-truth.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const START = Date.UTC(2026, 0, 5);

/** A small fleet with busy cohorts (so a window of a few minutes holds enough calls to measure). */
const SMALL: CohortFleetOptions = { seed: 7, startMs: START, durationMs: 3 * HOUR, cohorts: 12, agents: 4, runsPerMinute: 3 };
/** Smaller still, for the checks that read every byte more than once. */
const TINY: CohortFleetOptions = { seed: 7, startMs: START, durationMs: 150 * MINUTE, cohorts: 6, agents: 3, runsPerMinute: 1 };

/** Map.groupBy, which Node 20 lacks. */
function groupBy<T, K>(xs: readonly T[], key: (x: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = out.get(k);
    if (list) list.push(x);
    else out.set(k, [x]);
  }
  return out;
}

const digest = (events: Iterable<SpanEventInput>): string => {
  const h = createHash('sha256');
  for (const e of events) h.update(`${JSON.stringify(e)}\n`);
  return h.digest('hex');
};

describe('simulateCohortFleet', () => {
  const fleet = simulateCohortFleet(SMALL);
  const events = [...fleet.events()];
  const truth = fleet.truth;
  const byCohort = groupBy(events, (e) => cohortIdOfRun(e.run_id) ?? '');
  const ofCohort = (id: string) => byCohort.get(id) ?? [];
  const ts = (e: SpanEventInput) => e.ts as number;
  const usd = (es: readonly SpanEventInput[]) => es.reduce((s, e) => s + (e.kind === 'llm_call' ? priceLlmCall(e.llm, DEFAULT_PRICE_TABLE).costUsd : 0), 0);
  const calls = (es: readonly SpanEventInput[]) => es.filter((e) => e.kind === 'llm_call').length;
  const within = (es: readonly SpanEventInput[], from: number, to: number) => es.filter((e) => ts(e) >= from && ts(e) < to);
  const incidents = (kind: Incident['kind']) => truth.incidents.filter((i) => i.kind === kind);

  it('is deterministic: the same seed gives the same bytes and the same truth; another seed does not', () => {
    const first = simulateCohortFleet(TINY);
    const again = simulateCohortFleet(TINY);
    const bytes = digest(first.events());
    expect(digest(again.events())).toBe(bytes);
    expect(JSON.stringify(again.truth)).toBe(JSON.stringify(first.truth));
    expect(first.truth.incidents.length).toBeGreaterThan(0);
    // events() starts over on each call.
    expect(digest(first.events())).toBe(bytes);
    expect(digest(simulateCohortFleet({ ...TINY, seed: 8 }).events())).not.toBe(bytes);
  });

  it('writes valid span events, in event-time order, with unique event ids', () => {
    const tiny = [...simulateCohortFleet(TINY).events()];
    expect(tiny.length).toBeGreaterThan(5_000);
    for (const e of tiny) {
      const decoded = decodeSpan(JSON.stringify(e), { nowMs: 0, maxFutureMs: Number.POSITIVE_INFINITY });
      if (!decoded.ok) throw new Error(`${decoded.reason}: ${decoded.message} in ${JSON.stringify(e)}`);
    }
    expect(new Set(tiny.map((e) => e.kind))).toEqual(new Set(['run_start', 'llm_call', 'tool_call', 'judge_score', 'run_end']));
    const disorder = events.findIndex((e, i) => i > 0 && ts(e) < ts(events[i - 1] as SpanEventInput));
    expect(disorder).toBe(-1);
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
  }, 30_000);

  it('writes a ground truth that its schema accepts, with incidents of every spend kind and quiet cohorts', () => {
    expect(groundTruthSchema.safeParse(JSON.parse(JSON.stringify(truth))).success).toBe(true);
    expect(new Set(truth.incidents.map((i) => i.kind))).toEqual(new Set(['spend_spike', 'spend_sustained', 'llm_rate_burst']));
    expect(incidents('spend_spike').map((i) => i.magnitude)).toEqual([3, 5, 10, 100]);
    expect(truth.cohorts.filter((c) => c.quiet).length).toBeGreaterThanOrEqual(truth.cohorts.length / 4);
    for (const i of truth.incidents) {
      expect(i.start_ts).toBeGreaterThanOrEqual(START + 90 * MINUTE);
      expect(i.end_ts).toBeLessThanOrEqual(truth.end_ts);
    }
  });

  it('injects ~k× spend in a spike or sustained window (against the cohort’s previous hour)', () => {
    for (const i of [...incidents('spend_spike'), ...incidents('spend_sustained')]) {
      const own = ofCohort(i.details['cohort_id'] as string);
      const before = within(own, i.start_ts - HOUR, i.start_ts);
      const during = within(own, i.start_ts, i.end_ts);
      const minutes = (i.end_ts - i.start_ts) / MINUTE;
      const label = `${i.id} ${i.kind} ${i.magnitude}×`;
      // Spend per minute: a window of 1–3 minutes holds a handful of runs, hence the wide band …
      const ratio = usd(during) / minutes / (usd(before) / 60);
      expect(ratio, label).toBeGreaterThan(i.magnitude / 3);
      expect(ratio, label).toBeLessThan(i.magnitude * 3);
      // … and the mechanism, which is tight: a runaway run that costs (k − 1) × the expected
      // spend of the window (spike), or k× the runs (sustained).
      if (i.kind === 'spend_spike') {
        const runaway = during.filter((e) => e.run_id === i.details['runaway_run_id']);
        expect(runaway.length, label).toBeGreaterThan(minutes * 40);
        expect(usd(runaway) / (i.details['runaway_usd'] as number), label).toBeGreaterThan(0.75);
        expect(usd(runaway) / (i.details['runaway_usd'] as number), label).toBeLessThan(1.33);
      } else {
        const runs = (es: readonly SpanEventInput[]) => es.filter((e) => e.kind === 'run_start').length;
        const ratio = runs(during) / minutes / (runs(before) / 60);
        expect(ratio, label).toBeGreaterThan(i.magnitude * 0.6);
        expect(ratio, label).toBeLessThan(i.magnitude * 1.6);
      }
    }
  });

  it('injects ~k× LLM calls, not spend, in a user’s rate burst', () => {
    for (const i of incidents('llm_rate_burst')) {
      const own = events.filter((e) => e.user_id === i.cohort['user_id']);
      const perMinute = (from: number, to: number) => ({ calls: calls(within(own, from, to)) / ((to - from) / MINUTE), usd: usd(within(own, from, to)) / ((to - from) / MINUTE) });
      const before = perMinute(i.start_ts - HOUR, i.start_ts);
      const during = perMinute(i.start_ts, i.end_ts);
      expect(during.calls / before.calls).toBeGreaterThan(i.magnitude / 2);
      expect(during.usd / before.usd).toBeLessThan(2);
    }
  });

  it('leaves quiet cohorts quiet: no 10-minute block above 2.5× the cohort’s mean', () => {
    const BLOCK = 10 * MINUTE;
    for (const c of truth.cohorts.filter((x) => x.quiet)) {
      const blocks = groupBy(ofCohort(c.id), (e) => Math.floor((ts(e) - truth.start_ts) / BLOCK));
      const mean = usd(ofCohort(c.id)) / blocks.size;
      for (const [block, own] of blocks) expect(usd(own), `${c.id} block ${block}`).toBeLessThan(2.5 * mean);
    }
  });
});

describe('simulateCohortFleet judge incidents', () => {
  // Eight hours of judge traffic (every run scored): version drops, a segment drop, a benign release.
  const fleet = simulateCohortFleet({
    seed: 3,
    startMs: START,
    durationMs: 8 * HOUR,
    cohorts: 16,
    agents: 8,
    runsPerMinute: 0.8,
    judgeShare: 1,
    incidents: { spikeMagnitudes: [], sustained: 0, burstMagnitudes: [] },
  });
  const scores = [...fleet.events()].flatMap((e) => (e.kind === 'judge_score' ? [{ e, score: e.judge.score }] : []));
  const mean = (xs: readonly { score: number }[]) => xs.reduce((s, x) => s + x.score, 0) / xs.length;
  const truth = fleet.truth;

  it('plans one judge incident per agent and leaves at least one agent quiet', () => {
    const kinds = truth.incidents.map((i) => i.kind);
    expect(kinds.filter((k) => k === 'judge_version_drop')).toHaveLength(3);
    expect(kinds).toContain('judge_segment_drop');
    expect(truth.agents.some((a) => a.quiet && a.releases.length === 1)).toBe(true);
    expect(truth.agents.some((a) => a.quiet && a.releases.some((r) => r.kind === 'benign'))).toBe(true);
  });

  it('drops the new version’s scores by the magnitude, and only the new version’s', () => {
    for (const i of truth.incidents.filter((x) => x.kind === 'judge_version_drop')) {
      const own = scores.filter(({ e }) => e.agent_id === i.cohort['agent_id']);
      const onNew = own.filter(({ e }) => e.attrs?.['model_version'] === i.cohort['model_version'] && e.attrs?.['prompt_hash'] === i.cohort['prompt_hash']);
      const onOld = own.filter((s) => !onNew.includes(s));
      expect(onNew.every(({ e }) => (e.ts as number) >= i.start_ts)).toBe(true);
      expect(mean(onOld) - mean(onNew)).toBeCloseTo(i.magnitude, 1);
    }
  });

  it('drops a segment’s scores only in that segment', () => {
    const i = truth.incidents.find((x) => x.kind === 'judge_segment_drop') as Incident;
    const [dim, value] = Object.entries(i.details['segment'] as Record<string, string>)[0] as [string, string];
    const after = scores.filter(({ e }) => e.agent_id === i.cohort['agent_id'] && (e.ts as number) >= i.start_ts + HOUR);
    const before = scores.filter(({ e }) => e.agent_id === i.cohort['agent_id'] && (e.ts as number) < i.start_ts);
    const inSeg = (xs: typeof scores) => xs.filter(({ e }) => e.attrs?.[dim] === value);
    const outSeg = (xs: typeof scores) => xs.filter(({ e }) => e.attrs?.[dim] !== value);
    expect(mean(inSeg(before)) - mean(inSeg(after))).toBeCloseTo(i.magnitude, 1);
    expect(Math.abs(mean(outSeg(before)) - mean(outSeg(after)))).toBeLessThan(0.03);
  });
});

describe('simulateCohortFleet streaming', () => {
  it('yields the first events of a month-long fleet of 200 cohorts without generating the month', () => {
    const fleet = simulateCohortFleet({ seed: 1, startMs: START, durationMs: 30 * 24 * HOUR, cohorts: 200 });
    const started = Date.now();
    let n = 0;
    for (const e of fleet.events()) {
      expect(e.ts as number).toBeLessThan(START + 10 * MINUTE);
      if (++n === 5_000) break;
    }
    expect(n).toBe(5_000);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
