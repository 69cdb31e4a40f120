import { AGENT_PROFILES, expectedUsdPerRun, type AgentProfile } from './agent-profiles.ts';
import type { Draws } from './draws.ts';

export const PLAN_TIERS = ['free', 'pro', 'enterprise'] as const;
export const REGIONS = ['us-east', 'eu-west', 'ap-south'] as const;
export const USER_SEGMENTS = ['new', 'returning', 'power'] as const;

/** Hours from UTC of each region: traffic peaks mid-afternoon local time. */
export const REGION_UTC_OFFSET_H: Readonly<Record<string, number>> = { 'us-east': -5, 'eu-west': 1, 'ap-south': 5.5 };

export interface RosterAgent {
  agent_id: string;
  profile: AgentProfile;
}

/** A spend cohort (tenant × agent × user × model) with what the generator needs to draw its runs. */
export interface RosterCohort {
  id: string;
  tenant_id: string;
  agent_id: string;
  user_id: string;
  model: string;
  plan_tier: string;
  region: string;
  user_segment: string;
  runs_per_minute: number;
  usd_per_minute: number;
  profile: AgentProfile;
  /** This user's judge-score offset from the agent's mean (small: users differ a little). */
  judge_offset: number;
}

export interface RosterOptions {
  cohorts: number;
  agents: number;
  tenants: number;
  /** Median runs per minute of a cohort (each cohort draws its own, lognormal σ 0.6). */
  runsPerMinute: number;
}

export interface Roster {
  agents: RosterAgent[];
  cohorts: RosterCohort[];
}

/**
 * Tenants (plan tier, region), their users (segment), and each user's 1–2 cohorts (agent ×
 * model) until there are `cohorts`. The first cohorts go round-robin over the agents so every
 * agent has traffic; tenant 0 is on the free tier and tenant 1 is not, so a plan-tier segment
 * always has both sides.
 */
export function buildRoster(d: Draws, o: RosterOptions): Roster {
  const agents: RosterAgent[] = Array.from({ length: o.agents }, (_, i) => {
    const profile = AGENT_PROFILES[i % AGENT_PROFILES.length] as AgentProfile;
    const round = Math.floor(i / AGENT_PROFILES.length);
    return { agent_id: round === 0 ? profile.name : `${profile.name}-${round + 1}`, profile };
  });
  const tenants = Array.from({ length: o.tenants }, (_, i) => ({
    tenant_id: `tenant-${String(i + 1).padStart(2, '0')}`,
    plan_tier: i === 0 ? 'free' : i === 1 ? 'pro' : d.u() < 0.4 ? 'free' : d.u() < 0.67 ? 'pro' : 'enterprise',
    region: REGIONS[i % REGIONS.length] as string,
    users: 0,
  }));

  const cohorts: RosterCohort[] = [];
  let userIndex = 0;
  while (cohorts.length < o.cohorts) {
    const tenant = tenants[userIndex % tenants.length] as (typeof tenants)[number];
    userIndex++;
    const user_id = `${tenant.tenant_id.replace('tenant-', 'u')}-${String(++tenant.users).padStart(3, '0')}`;
    const user_segment = d.pick(USER_SEGMENTS);
    const judge_offset = 0.01 * d.normal();
    const perUser = Math.min(d.u() < 0.35 ? 2 : 1, o.cohorts - cohorts.length);
    const used = new Set<string>();
    for (let k = 0; k < perUser; k++) {
      let agent = cohorts.length < agents.length ? (agents[cohorts.length] as RosterAgent) : d.pick(agents);
      if (used.has(agent.agent_id)) agent = agents.find((a) => !used.has(a.agent_id)) ?? agent;
      used.add(agent.agent_id);
      const model = d.pick(agent.profile.models);
      const rate = Math.min(5 * o.runsPerMinute, Math.max(0.2 * o.runsPerMinute, d.lognormal(o.runsPerMinute, 0.6) * (user_segment === 'power' ? 1.5 : 1)));
      const runs_per_minute = Math.round(rate * 1000) / 1000;
      cohorts.push({
        id: `c${String(cohorts.length).padStart(3, '0')}`,
        tenant_id: tenant.tenant_id,
        agent_id: agent.agent_id,
        user_id,
        model,
        plan_tier: tenant.plan_tier,
        region: tenant.region,
        user_segment,
        runs_per_minute,
        usd_per_minute: runs_per_minute * expectedUsdPerRun(agent.profile, model),
        profile: agent.profile,
        judge_offset,
      });
    }
  }
  return { agents, cohorts };
}

/**
 * Diurnal factor of a region at `ts` (epoch ms): 1 + amplitude × cos(2π (local hour − 15) / 24),
 * so traffic peaks at 15:00 local time and bottoms out at 03:00.
 */
export function diurnalFactor(region: string, ts: number, amplitude: number): number {
  const utcHours = (ts % 86_400_000) / 3_600_000;
  const local = utcHours + (REGION_UTC_OFFSET_H[region] ?? 0);
  return 1 + amplitude * Math.cos((2 * Math.PI * (local - 15)) / 24);
}
