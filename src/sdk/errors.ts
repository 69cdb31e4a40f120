/** Base of every error the SDK throws into the host application. */
export class RunwardenError extends Error {
  /** Whether trying again can help. */
  readonly retriable: boolean;
  constructor(message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retriable = options.retriable ?? false;
  }
}

/** The SDK was called wrongly (an invalid event, use after close): a bug in the caller. */
export class RunwardenMisuseError extends RunwardenError {
  override readonly name = 'RunwardenMisuseError';
}

/** What a person needs to know about why a run was stopped (the command's reason and scope). */
export interface AbortDetails {
  commandId: string;
  action: 'abort' | 'kill_switch';
  scope: { kind: string; id: string };
  detector: string;
  rule: string;
  observed: number;
  threshold: number;
  findingId: string;
  note?: string;
}

/** The warden stopped this run (abort) or blocked its scope (kill switch): do not take another step. */
export class RunAbortedError extends RunwardenError {
  override readonly name = 'RunAbortedError';
  constructor(readonly details: AbortDetails) {
    super(
      `run stopped by runwarden: ${details.action} of ${details.scope.kind} ${details.scope.id} ` +
        `(${details.detector}/${details.rule}: observed ${details.observed}, threshold ${details.threshold})`,
    );
  }
}

/**
 * The guard cannot vouch for the step and fails closed: no heartbeat from the warden within the
 * configured time (`silentForMs` since the last one, null when none was ever seen), or the
 * guard itself failed (`cause`). Retriable: the warden may come back.
 */
export class WardenUnavailableError extends RunwardenError {
  override readonly name = 'WardenUnavailableError';
  constructor(
    readonly silentForMs: number | null,
    options: { cause?: unknown } = {},
  ) {
    super(
      options.cause !== undefined
        ? `runwarden guard failed and fails closed (set failMode: 'open' to let steps through): ${String((options.cause as { message?: unknown })?.message ?? options.cause)}`
        : `${silentForMs === null ? 'no heartbeat from runwarden seen yet' : `no heartbeat from runwarden for ${silentForMs} ms`}: failing closed (set failMode: 'open' to let steps through)`,
      { retriable: true, cause: options.cause },
    );
  }
}
