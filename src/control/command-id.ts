/**
 * Deterministic command id (see stableId). For a detector command the parts are
 * (finding_id, action), so a replay re-emits the same id.
 */
export { stableId as commandId } from '../util/stable-id.ts';
