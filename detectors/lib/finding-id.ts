import { createHash } from 'node:crypto';

/**
 * Deterministic id from its parts: hex sha256 of the parts joined by `|`, truncated to 32 hex
 * characters (128 bits). The same detector, rule and run always give the same id, so a replay or
 * a re-processed event re-emits a finding that downstream dedup recognises.
 */
export function findingId(...parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('|')).digest('hex').slice(0, 32);
}
