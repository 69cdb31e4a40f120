import { Command, CommanderError } from 'commander';
import { registerBudgets } from './commands/budgets.ts';
import { registerDemo } from './commands/demo.ts';
import { registerMigrate } from './commands/migrate.ts';
import { registerOperatorCommands } from './commands/operator.ts';
import { registerReplay } from './commands/replay.ts';
import { registerSchemas } from './commands/schemas.ts';
import { registerSimulate } from './commands/simulate.ts';
import { registerSql } from './commands/sql.ts';
import { registerStart } from './commands/start.ts';
import { registerTail } from './commands/tail.ts';
import { CliError, EXIT } from './exit-codes.ts';

/** Builds the `runwarden` program; each command lives in its own file under commands/. */
export function buildProgram(env: Record<string, string | undefined> = process.env): Command {
  const program = new Command('runwarden')
    .description('Streaming governance for fleets of AI agents: detectors over Kafka span events, signed control commands, ClickHouse rollups.')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError('(run `runwarden --help` for usage)')
    .addHelpText(
      'after',
      `
Environment: KAFKA_BROKERS, CLICKHOUSE_URL (unset: embedded chdb store in RUNWARDEN_DATA_DIR),
CLICKHOUSE_USER, CLICKHOUSE_PASSWORD, CLICKHOUSE_DATABASE, RUNWARDEN_POLICY, RUNWARDEN_HMAC_KEYS, LOG_LEVEL.
Exit codes: 0 ok, 1 failure, 2 usage/configuration, 3 Kafka/ClickHouse unavailable, 4 unreadable input,
5 start: shutdown exceeded RUNWARDEN_SHUTDOWN_TIMEOUT_MS.`,
    );
  registerDemo(program, env);
  registerStart(program, env);
  registerBudgets(program, env);
  registerMigrate(program, env);
  registerSimulate(program, env);
  registerReplay(program, env);
  registerOperatorCommands(program, env);
  registerTail(program, env);
  registerSql(program, env);
  registerSchemas(program);
  return program;
}

/** Runs the CLI and returns its exit code; never calls process.exit itself. */
export async function main(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  const program = buildProgram(env);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (err instanceof CliError) {
      process.stderr.write(`runwarden: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`runwarden: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.failure;
  }
}
