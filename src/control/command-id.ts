import { createHash } from 'node:crypto';

/**
 * Deterministic command id: hex sha256 of the parts joined by `|`, truncated to 32 hex chars.
 * For a detector command the parts are (finding_id, action), so a replay re-emits the same id.
 */
export function commandId(...parts: readonly (string | number)[]): string {
  return createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 32);
}
