/**
 * Deterministic finding id (see stableId): the same detector, rule and run (or cohort and
 * episode) always give the same id.
 */
export { stableId as findingId } from '../../src/util/stable-id.ts';
