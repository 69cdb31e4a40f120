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

/** No heartbeat from the warden within the configured time and the guard fails closed. */
export class WardenUnavailableError extends RunwardenError {
  override readonly name = 'WardenUnavailableError';
  constructor(readonly silentForMs: number) {
    super(`no heartbeat from runwarden for ${silentForMs} ms: failing closed (set failMode: 'open' to let steps through)`, { retriable: true });
  }
}
