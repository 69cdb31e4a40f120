import type { Command } from 'commander';
import { applyAnalystRole, planAnalystRole } from '../../store/analyst-role.ts';
import { migrate } from '../../store/migrate.ts';
import { createContext, openConfiguredStore } from '../context.ts';
import { CliError, EXIT } from '../exit-codes.ts';

interface MigrateOptions {
  analystUser?: string;
  analystPassword?: string;
}

export function registerMigrate(program: Command, env: Record<string, string | undefined>): void {
  program
    .command('migrate')
    .description('apply the ClickHouse migrations in sql/migrations (idempotent; safe to run again)')
    .option('--analyst-user <name>', 'also create a read-only analyst user (SELECT on the database only): SQL users on ClickHouse 20.5+, a users.xml snippet printed for older servers')
    .option('--analyst-password <password>', 'its password (at least 12 characters; default RUNWARDEN_ANALYST_PASSWORD, which keeps it out of the process list)')
    .addHelpText(
      'after',
      `
Targets the ClickHouse server at CLICKHOUSE_URL (database CLICKHOUSE_DATABASE), else the embedded
store in RUNWARDEN_DATA_DIR. Works on ClickHouse 18.16 and current releases; LowCardinality and TTL
are applied only where the server supports them. \`start\` runs it too.

Examples:
  CLICKHOUSE_URL=http://clickhouse:8123 npx runwarden migrate
  CLICKHOUSE_DATABASE=staging npx runwarden migrate
  RUNWARDEN_ANALYST_PASSWORD=… npx runwarden migrate --analyst-user analyst`,
    )
    .action(async (opts: MigrateOptions) => {
      const ctx = createContext(env);
      const password = opts.analystPassword ?? env['RUNWARDEN_ANALYST_PASSWORD'];
      if (opts.analystUser !== undefined && (password === undefined || password === '')) {
        throw new CliError('--analyst-user needs a password: --analyst-password or RUNWARDEN_ANALYST_PASSWORD', EXIT.usage);
      }
      const store = await openConfiguredStore(ctx);
      try {
        const result = await migrate(store);
        process.stderr.write(
          `migrated ${store.kind} ClickHouse ${store.version.text}, database ${store.database}: ` +
            `${result.applied.length} applied, ${result.skipped.length} already present\n`,
        );
        if (opts.analystUser === undefined || password === undefined) return;
        let plan: ReturnType<typeof planAnalystRole>;
        try {
          plan = planAnalystRole(store, { user: opts.analystUser, password, database: store.database });
        } catch (err) {
          throw new CliError(`--analyst-user/--analyst-password: ${(err as Error).message}`, EXIT.usage);
        }
        if (plan.kind === 'unsupported') throw new CliError(`no analyst user created: ${plan.reason}`, EXIT.usage);
        if (plan.kind === 'users_xml') {
          process.stderr.write(
            `ClickHouse ${store.version.text} has no SQL users (they arrived in 20.5): add this file to the server as ${plan.path} ` +
              `(the password is stored as its SHA-256):\n`,
          );
          process.stdout.write(`${plan.snippet}\n`);
          return;
        }
        await applyAnalystRole(store, plan);
        process.stderr.write(`created read-only user ${opts.analystUser}: SELECT on ${store.database}.* only\n`);
      } finally {
        await store.close();
      }
    });
}
