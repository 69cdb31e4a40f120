import type { Command } from 'commander';
import { migrate } from '../../store/migrate.ts';
import { createContext, openConfiguredStore } from '../context.ts';

export function registerMigrate(program: Command, env: Record<string, string | undefined>): void {
  program
    .command('migrate')
    .description('apply the ClickHouse migrations in sql/migrations (idempotent; safe to run again)')
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
