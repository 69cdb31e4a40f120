import type { Command } from 'commander';
import { migrate } from '../../store/migrate.ts';
import { createContext, openConfiguredStore } from '../context.ts';

export function registerMigrate(program: Command, env: Record<string, string | undefined>): void {
  program
    .command('migrate')
    .description('apply the ClickHouse migrations in sql/migrations (idempotent; safe to run again)')
    .addHelpText(
      'after',
      `
Targets the ClickHouse server at CLICKHOUSE_URL (database CLICKHOUSE_DATABASE), else the embedded
store in RUNWARDEN_DATA_DIR. Works on ClickHouse 18.16 and current releases; LowCardinality and TTL
are applied only where the server supports them. \`start\` runs it too.

Examples:
  CLICKHOUSE_URL=http://clickhouse:8123 npx runwarden migrate
  CLICKHOUSE_DATABASE=staging npx runwarden migrate`,
    )
    .action(async () => {
      const ctx = createContext(env);
      const store = await openConfiguredStore(ctx);
      try {
        const result = await migrate(store);
        process.stderr.write(
          `migrated ${store.kind} ClickHouse ${store.version.text}, database ${store.database}: ` +
            `${result.applied.length} applied, ${result.skipped.length} already present\n`,
        );
      } finally {
        await store.close();
      }
    });
}
