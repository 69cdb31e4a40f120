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
