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

/** The exit codes as `runwarden --help` and the README list them. */
export const EXIT_CODE_HELP = `Exit codes:
  ${EXIT.ok}  ok
  ${EXIT.failure}  failure while running (the message says what failed)
  ${EXIT.usage}  bad command line, configuration or policy (the message says what to change)
  ${EXIT.unavailable}  Kafka or ClickHouse unreachable (start them: scripts/services.sh up, or set KAFKA_BROKERS / CLICKHOUSE_URL)
  ${EXIT.input}  input unreadable (replay's file, sql --file)
  ${EXIT.shutdownTimeout}  start: the ordered shutdown exceeded RUNWARDEN_SHUTDOWN_TIMEOUT_MS (what was not committed is read again on restart)`;

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
