import type { Draws } from './draws.ts';
import type { PlanContext } from './incident-plan.ts';

/** A version of an agent in force from `ts`; `drop` lowers the judge scores of its runs. */
export interface PlannedRelease {
  ts: number;
  model_version: string;
  prompt_hash: string;
  kind: 'initial' | 'benign' | 'incident';
  drop: number;
}

export interface JudgePlan {
  releases: PlannedRelease[];
  decay: { start: number; end: number; relative: number } | null;
  segmentDrop: { dim: 'plan_tier' | 'user_segment' | 'region'; value: string; start: number; drop: number } | null;
}

const SEGMENTS = [
  { dim: 'plan_tier', value: 'free' },
  { dim: 'user_segment', value: 'new' },
  { dim: 'region', value: 'eu-west' },
] as const;

const round = (x: number, digits: number) => Number(x.toFixed(digits));

/** An 8-hex prompt hash. */
const hash = (d: Draws): string => Math.floor(d.u() * 0x1_0000_0000).toString(16).padStart(8, '0');

/**
 * Judge incidents, by agent id: every agent starts on `mv1` and a prompt hash; then, on distinct
 * agents (one always left untouched), version drops, segment drops, slow decays and benign
 * releases. Drops and releases happen between 35 % and 60 % of the fleet's duration, decays start
 * at 25 %; all last to the fleet's end.
 */
export function planJudgeIncidents(ctx: PlanContext): Map<string, JudgePlan> {
  const { d, roster, mix, startMs, endMs } = ctx;
  const judge = new Map<string, JudgePlan>();
  for (const a of roster.agents) {
    judge.set(a.agent_id, { releases: [{ ts: startMs, model_version: 'mv1', prompt_hash: hash(d), kind: 'initial', drop: 0 }], decay: null, segmentDrop: null });
  }
  const agents = d.shuffle(roster.agents);
  const from = startMs + Math.floor((endMs - startMs) * 0.35);
  const to = startMs + Math.floor((endMs - startMs) * 0.6);
  const next = (): (typeof agents)[number] | undefined => (agents.length > 1 ? agents.shift() : undefined);
  const planOf = (agentId: string) => judge.get(agentId) as JudgePlan;
  const meanOf = (agentId: string) => roster.agents.find((a) => a.agent_id === agentId)?.profile.judgeMean ?? 0;
  /** A new model_version (same prompt) or a new prompt_hash (same model), half and half. */
  const release = (agentId: string, kind: 'benign' | 'incident', drop: number): { before: PlannedRelease; after: PlannedRelease } => {
    const releases = planOf(agentId).releases;
    const before = releases[releases.length - 1] as PlannedRelease;
    const newModel = d.u() < 0.5;
    const after: PlannedRelease = {
      ts: ctx.instantIn(from, to),
      model_version: newModel ? `mv${Number(before.model_version.slice(2)) + 1}` : before.model_version,
      prompt_hash: newModel ? before.prompt_hash : hash(d),
      kind,
      drop,
    };
    releases.push(after);
    return { before, after };
  };

  for (const drop of mix.versionDrops) {
    const a = next();
    if (!a) break;
    const { before, after } = release(a.agent_id, 'incident', drop);
    ctx.add({
      kind: 'judge_version_drop',
      cohort: { agent_id: a.agent_id, model_version: after.model_version, prompt_hash: after.prompt_hash },
      start_ts: after.ts,
      end_ts: endMs,
      magnitude: drop,
      unit: 'score_drop',
      expected: { detector: 'judge-drift', rules: ['version_drop', 'recent_drop'] },
      details: {
        changed: after.model_version !== before.model_version ? 'model_version' : 'prompt_hash',
        predecessor: { model_version: before.model_version, prompt_hash: before.prompt_hash },
        judge_mean: meanOf(a.agent_id),
      },
    });
  }
  for (const [i, drop] of mix.segmentDrops.entries()) {
    const seg = SEGMENTS[i % SEGMENTS.length] as (typeof SEGMENTS)[number];
    // The agent needs traffic both inside and outside the segment.
    const a = agents.find((x) => {
      const own = roster.cohorts.filter((c) => c.agent_id === x.agent_id);
      return own.some((c) => c[seg.dim] === seg.value) && own.some((c) => c[seg.dim] !== seg.value);
    });
    if (!a || agents.length < 2) break;
    agents.splice(agents.indexOf(a), 1);
    const start = ctx.instantIn(from, to);
    planOf(a.agent_id).segmentDrop = { dim: seg.dim, value: seg.value, start, drop };
    ctx.add({
      kind: 'judge_segment_drop',
      cohort: { agent_id: a.agent_id, [seg.dim]: seg.value },
      start_ts: start,
      end_ts: endMs,
      magnitude: drop,
      unit: 'score_drop',
      expected: { detector: 'judge-drift', rules: ['recent_drop', 'decline'] },
      details: { segment: { [seg.dim]: seg.value }, judge_mean: meanOf(a.agent_id) },
    });
  }
  for (const relative of mix.decays) {
    const a = next();
    if (!a) break;
    const start = startMs + Math.floor((endMs - startMs) * 0.25);
    planOf(a.agent_id).decay = { start, end: endMs, relative };
    ctx.add({
      kind: 'judge_decay',
      cohort: { agent_id: a.agent_id },
      start_ts: start,
      end_ts: endMs,
      magnitude: relative,
      unit: 'relative_decline',
      expected: { detector: 'judge-drift', rules: ['decline', 'recent_drop'] },
      details: { judge_mean: meanOf(a.agent_id), final_drop: round(relative * meanOf(a.agent_id), 4), over_hours: round((endMs - start) / 3_600_000, 2) },
    });
  }
  for (let i = 0; i < mix.benignReleases; i++) {
    const a = next();
    if (!a) break;
    release(a.agent_id, 'benign', 0);
  }
  return judge;
}
