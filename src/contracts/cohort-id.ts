/**
 * Value of a cohort dimension the event does not carry (an attribute left unset). The guard reads
 * a step without the attribute as having this value, so a throttle of such a cohort applies to it.
 */
export const MISSING_DIM = '(none)';

/**
 * The cohort scope id on the wire (SPEC §2–§3): `dim=value` pairs sorted by dimension, joined by
 * `,` (e.g. `agent_id=bot,model_version=v2`). The warden writes it as the `scope.id` of cohort
 * findings and commands; the guard parses it back to match a step's attributes.
 */
export function cohortId(dims: Readonly<Record<string, string>>): string {
  // A loop rather than map/join: the cohort stage builds one per partial (bench/core-ratio.ts).
  const keys = Object.keys(dims).sort();
  let id = '';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    id += `${i === 0 ? '' : ','}${k}=${dims[k]}`;
  }
  return id;
}

/** The dimensions of a cohort scope id. */
export function parseCohortId(id: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of id.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}
