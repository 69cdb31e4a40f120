/** Where a consumer stands in its group, from kafkajs's instrumentation events. */
export type GroupState = 'connecting' | 'joined' | 'rebalancing' | 'crashed' | 'stopped';

export interface GroupStates {
  set(groupId: string, state: GroupState): void;
  /** Every consumer's group and state, in the order they were created. */
  all(): ReadonlyArray<{ groupId: string; state: GroupState }>;
  /** The groups whose consumer is not joined: empty when every consumer of the process consumes. */
  notJoined(): string[];
}

/**
 * The join state of this process's consumers, one per group (runwarden runs one consumer per
 * stage, each in its own group). Readiness (/readyz) is "every consumer joined".
 */
export function createGroupStates(): GroupStates {
  const states = new Map<string, GroupState>();
  return {
    set: (groupId, state) => void states.set(groupId, state),
    all: () => [...states].map(([groupId, state]) => ({ groupId, state })),
    notJoined: () => [...states].filter(([, s]) => s !== 'joined').map(([g, s]) => `${g} (${s})`),
  };
}
