import { parseCohortId } from '../../contracts/cohort-id.ts';
import type { Finding } from '../../contracts/finding.ts';
import { cohortIdOfRun, type Incident, type SimCohort } from '../../sim/ground-truth.ts';

export type Dims = Readonly<Record<string, string>>;

/**
 * Every dimension a finding names, from all it carries: its `cohort` map (wins), its scope (a
 * cohort scope id `dim=value,…`; `user`/`tenant`/`agent` → `user_id`/`tenant_id`/`agent_id`), and,
 * for a run scope, the dimensions of the simulated cohort the run belongs to (run ids are
 * `<cohort id>.r<n>`), so a per-run finding such as run_tokens_p99 can be placed.
 */
export function findingDims(f: Pick<Finding, 'scope' | 'cohort'>, cohorts: ReadonlyMap<string, SimCohort>): Dims {
  const dims: Record<string, string> = {};
  const { kind, id } = f.scope;
  if (kind === 'cohort') Object.assign(dims, parseCohortId(id));
  else if (kind === 'user' || kind === 'tenant' || kind === 'agent') dims[`${kind}_id`] = id;
  else if (kind === 'run') {
    const c = cohorts.get(cohortIdOfRun(id) ?? '');
    if (c) Object.assign(dims, { tenant_id: c.tenant_id, agent_id: c.agent_id, user_id: c.user_id, model: c.model, plan_tier: c.plan_tier, region: c.region, user_segment: c.user_segment });
  }
  return Object.assign(dims, f.cohort ?? {});
}

/** The finding names every dimension of the incident's cohort, with the same values. */
export function covers(finding: Dims, incident: Dims): boolean {
  return Object.entries(incident).every(([k, v]) => finding[k] === v);
}

/**
 * Nothing contradicts: the two share at least one dimension and agree on every shared one. A
 * finding on a coarser cohort (the agent's whole lineage for a plan_tier=free drop) or on a
 * neighbouring view (the user's LLM rate during its cohort's spend spike) is consistent.
 */
export function consistent(a: Dims, b: Dims): boolean {
  let shared = 0;
  for (const [k, v] of Object.entries(b)) {
    if (!(k in a)) continue;
    if (a[k] !== v) return false;
    shared++;
  }
  return shared > 0;
}

/** The finding's ts is within the incident, or at most `toleranceMs` after its end. */
export const inWindow = (ts: number, i: Pick<Incident, 'start_ts' | 'end_ts'>, toleranceMs: number): boolean => ts >= i.start_ts && ts <= i.end_ts + toleranceMs;
