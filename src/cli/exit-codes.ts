/** Exit codes of the `runwarden` command; documented in the README. */
export const EXIT = {
  ok: 0,
  /** Something failed while running (see the message). */
  failure: 1,
  /** Bad command line, configuration or policy: fix the input and run again. */
  usage: 2,
  /** Kafka or ClickHouse could not be reached: start them or point the environment at them. */
  unavailable: 3,
  /** The input could not be read at all (replay). */
  input: 4,
  /**
   * `start`: the ordered shutdown after SIGTERM/SIGINT did not finish within
   * RUNWARDEN_SHUTDOWN_TIMEOUT_MS. Offsets not yet committed are re-read by the next start.
   */
  shutdownTimeout: 5,
} as const;

/** An error that carries the exit code the CLI should end with. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}
