import { createHash } from 'node:crypto';

/**
 * Deterministic id from its parts: hex sha256 of the parts joined by `|`, truncated to 32 hex
 * characters (128 bits). Findings and commands derive their ids with it, so a replay or a
 * re-processed event re-emits ids that downstream dedup recognises.
 */
export function stableId(...parts: readonly (string | number)[]): string {
  return createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 32);
}
